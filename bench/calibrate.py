"""How fast this machine is right now, in two figures every benchmark report carries (before and after its run).

The benchmark runs on shared virtual machines whose speed drifts: the same code on the same command measured 49 and
then 61-78 µs per relayed chunk an hour apart, and another day 83. Absolute figures from different runs compare only
with these beside them; paired runs (`--baseline`, alternated worktrees) do not need them.

- **Python loop**: a fixed pure-Python loop (the interpreter's speed: most of qlaud's CPU per request);
- **loopback round trip**: one 200-byte send and its recv over a TCP loopback connection, both ends in this process
  (the kernel's cost per socket call, which is much of a relayed chunk's).

Each is the best of a few repeats, so a slice of CPU lost to a neighbour counts less than the machine's own speed.
Lower is faster. About a second in all.
"""

from __future__ import annotations

import socket
import time

LOOP_ITERATIONS = 1_000_000
ROUND_TRIPS = 10_000
REPEATS = 3
PAYLOAD = b"x" * 200


def python_loop_ms(iterations: int = LOOP_ITERATIONS) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i
    return (time.perf_counter() - started) * 1000


def loopback_us(round_trips: int = ROUND_TRIPS) -> float:
    """µs per send + recv of PAYLOAD over a loopback TCP connection with Nagle off (as uvloop sets it)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        with socket.create_connection(listener.getsockname()) as sender:
            receiver, _ = listener.accept()
            with receiver:
                sender.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                started = time.perf_counter()
                for _ in range(round_trips):
                    sender.sendall(PAYLOAD)
                    received = 0
                    while received < len(PAYLOAD):
                        received += len(receiver.recv(4096))
                return (time.perf_counter() - started) / round_trips * 1e6


def machine(repeats: int = REPEATS) -> dict[str, float]:
    return {
        "python_loop_ms": round(min(python_loop_ms() for _ in range(repeats)), 1),
        "loopback_us": round(min(loopback_us() for _ in range(repeats)), 2),
    }


def describe(before: dict[str, float], after: dict[str, float] | None = None) -> str:
    """One sentence for a report's head: the figures before the run, and after it when given."""

    def pair(name: str, unit: str, digits: int) -> str:
        first = f"{before[name]:.{digits}f}"
        return f"{first} -> {after[name]:.{digits}f} {unit}" if after else f"{first} {unit}"

    return (
        f"Machine speed (bench/calibrate.py, lower is faster): Python loop {pair('python_loop_ms', 'ms', 0)}, "
        f"loopback send + recv {pair('loopback_us', 'µs', 1)}" + (" (before -> after the run)" if after else "")
    )
