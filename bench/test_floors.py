"""The benchmark's yardsticks: the machine's speed beside every report, and the TCP relay that is the floor."""

import asyncio

from bench import calibrate, tcp_relay


def test_the_machine_figures_are_measured_and_read_before_and_after_a_run():
    assert calibrate.python_loop_ms(10_000) > 0
    assert calibrate.loopback_us(50) > 0
    before = {"python_loop_ms": 41.04, "loopback_us": 9.84}
    after = {"python_loop_ms": 55.9, "loopback_us": 12.01}
    text = calibrate.describe(before, after)
    assert "Python loop 41 -> 56 ms" in text
    assert "loopback send + recv 9.8 -> 12.0 µs" in text
    assert "before -> after" in text
    assert calibrate.describe(before).endswith("Python loop 41 ms, loopback send + recv 9.8 µs")


async def _upstream(port_box: list[int], seen: list[bytes]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.readexactly(5))
        for part in (b"one,", b"two,", b"three"):
            writer.write(part)
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port_box.append(server.sockets[0].getsockname()[1])
    return server


async def test_the_tcp_relay_passes_bytes_both_ways_and_closes_the_client_when_the_upstream_closes():
    seen: list[bytes] = []
    port: list[int] = []
    upstream = await _upstream(port, seen)
    relay = await asyncio.get_running_loop().create_server(lambda: tcp_relay.ClientSide(port[0]), "127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.sockets[0].getsockname()[1])
        writer.write(b"hello")  # sent before the relay's upstream connection is up: kept and forwarded
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=5)  # to EOF: the relay closed the client
        assert answer == b"one,two,three"
        assert seen == [b"hello"]
        writer.close()
    finally:
        relay.close()
        upstream.close()
