from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from lib.live_feed import publish_request, publish_requests
from qlaud.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)

PAYLOAD = {
    "request_id": "req_1",
    "created": "2026-11-28T10:00:00+00:00",
    "model": "deepseek-v3.2",
    "provider": "deepseek",
    "status": 200,
    "error_type": "",
    "input_tokens": 1200,
    "output_tokens": 80,
    "cost": 420,
    "ttft_ms": 310.0,
    "total_ms": 950.0,
}


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(user=None) -> tuple[WebsocketCommunicator, bool]:
    headers = [(b"origin", b"http://127.0.0.1")]
    if user is not None:
        headers.append((b"cookie", await sync_to_async(_session_cookie)(user)))
    communicator = WebsocketCommunicator(application, "/ws/dashboard/requests/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_a_signed_in_member_receives_their_orgs_requests(alice, org_a):
    communicator, connected = await _connect(alice)
    assert connected
    await publish_request(org_a.id, {**PAYLOAD, "prompt": "never forwarded", "user_agent": "secret/1.0"})
    message = await communicator.receive_json_from(timeout=2)
    assert message == {"type": "request", "request": PAYLOAD}
    await communicator.disconnect()


async def test_the_gateways_log_fields_are_reduced_to_the_feed_shape(alice, org_a):
    """The gateway can pass the dict it writes to RequestLog as is (gateway.pipeline.log_fields)."""
    fields = {
        "request_id": "req_2",
        "org_id": org_a.id,
        "api_key_id": 1,
        "requested_model": "claude-sonnet-4-5",
        "model": "claude-sonnet-4.5",
        "provider": "anthropic",
        "status": 200,
        "input_tokens": 100,
        "cache_read_tokens": 18_000,
        "cache_write_tokens": 2_000,
        "output_tokens": 600,
        "upstream_cost": 20_000,
        "cost": 21_400,
        "ttft_ms": 800.0,
        "total_ms": 4000.0,
        "user_agent": "claude-cli/2.1",
    }
    communicator, _ = await _connect(alice)
    await publish_request(org_a.id, fields)
    sent = (await communicator.receive_json_from(timeout=2))["request"]
    assert sent["input_tokens"] == 20_100 and sent["cost"] == 21_400 and sent["model"] == "claude-sonnet-4.5"
    assert "user_agent" not in sent and "api_key_id" not in sent and "upstream_cost" not in sent
    assert sent["created"]  # stamped on publish when the row has no timestamp yet
    await communicator.disconnect()


async def test_charlie_does_not_receive_org_a_events(alice, org_a, charlie, org_b):
    alice_ws, _ = await _connect(alice)
    charlie_ws, connected = await _connect(charlie)
    assert connected
    await publish_request(org_a.id, PAYLOAD)
    assert (await alice_ws.receive_json_from(timeout=2))["request"]["request_id"] == "req_1"
    assert await charlie_ws.receive_nothing(timeout=0.3)
    await publish_request(org_b.id, {**PAYLOAD, "request_id": "req_b"})
    assert (await charlie_ws.receive_json_from(timeout=2))["request"]["request_id"] == "req_b"
    assert await alice_ws.receive_nothing(timeout=0.3)
    await alice_ws.disconnect()
    await charlie_ws.disconnect()


async def test_bob_as_a_member_receives_only_his_own_keys_requests(alice, bob, org_a, charlie, org_b):
    """As on the usage pages: owners and admins see the org's requests, a member only his keys'."""
    alice_ws, _ = await _connect(alice)
    bob_ws, connected = await _connect(bob)
    charlie_ws, _ = await _connect(charlie)
    assert connected
    await publish_requests(
        org_a.id,
        [
            {**PAYLOAD, "request_id": "req_alice", "user_id": alice.pk},
            {**PAYLOAD, "request_id": "req_bob", "user_id": bob.pk},
            {**PAYLOAD, "request_id": "req_ownerless", "user_id": None},
        ],
    )
    await publish_request(org_a.id, {**PAYLOAD, "request_id": "req_alice_2", "user_id": alice.pk})
    bob_frame = await bob_ws.receive_json_from(timeout=2)
    assert bob_frame == {"type": "request", "request": {**PAYLOAD, "request_id": "req_bob"}}
    assert await bob_ws.receive_nothing(timeout=0.3)
    got = [(await alice_ws.receive_json_from(timeout=2))["request"]["request_id"] for _ in range(4)]
    assert got == ["req_alice", "req_bob", "req_ownerless", "req_alice_2"]
    assert await charlie_ws.receive_nothing(timeout=0.3)
    for ws in (alice_ws, bob_ws, charlie_ws):
        await ws.disconnect()


async def test_a_busy_colleague_does_not_crowd_a_members_requests_out_of_a_large_batch(alice, bob, org_a):
    from lib.live_feed import FEED_ROWS

    bob_ws, _ = await _connect(bob)
    alices = [{**PAYLOAD, "request_id": f"req_a{i}", "user_id": alice.pk} for i in range(FEED_ROWS + 10)]
    await publish_requests(org_a.id, [{**PAYLOAD, "request_id": "req_bob", "user_id": bob.pk}, *alices])
    assert (await bob_ws.receive_json_from(timeout=2))["request"]["request_id"] == "req_bob"
    assert await bob_ws.receive_nothing(timeout=0.3)
    await bob_ws.disconnect()


async def test_an_anonymous_visitor_is_refused(db):
    communicator, connected = await _connect(None)
    assert not connected
    await communicator.disconnect()


async def test_a_foreign_origin_is_refused(alice, org_a):
    cookie = await sync_to_async(_session_cookie)(alice)
    headers = [(b"origin", b"https://evil.example"), (b"cookie", cookie)]
    communicator = WebsocketCommunicator(application, "/ws/dashboard/requests/", headers=headers)
    connected, _ = await communicator.connect()
    assert not connected


async def test_publishing_with_no_listener_is_harmless():
    await asyncio.wait_for(publish_request(999_999, PAYLOAD), timeout=2)


async def test_a_request_logged_by_the_gateway_reaches_the_feed(alice, org_a):
    """gateway/records.py publishes every row it writes (the only caller of publish_request today)."""
    from gateway import records

    communicator, _ = await _connect(alice)
    fields = {
        "request_id": "req_gw",
        "org_id": org_a.id,
        "surface": "chat",
        "requested_model": "deepseek-v3.2",
        "model": "deepseek-v3.2",
        "provider": "deepseek",
        "status": 200,
        "output_tokens": 7,
        "cost": 99,
    }
    records.record(fields)
    await records.aflush()
    sent = (await communicator.receive_json_from(timeout=5))["request"]
    assert sent["request_id"] == "req_gw" and sent["output_tokens"] == 7 and sent["cost"] == 99
    await communicator.disconnect()


async def test_a_batch_reaches_the_feed_as_one_frame_per_request_and_only_its_org(alice, org_a, charlie, org_b):
    alice_ws, _ = await _connect(alice)
    charlie_ws, _ = await _connect(charlie)
    await publish_requests(org_a.id, [{**PAYLOAD, "request_id": "req_x"}, {**PAYLOAD, "request_id": "req_y"}])
    first = await alice_ws.receive_json_from(timeout=2)
    second = await alice_ws.receive_json_from(timeout=2)
    assert [first["request"]["request_id"], second["request"]["request_id"]] == ["req_x", "req_y"]
    assert first == {"type": "request", "request": {**PAYLOAD, "request_id": "req_x"}}
    assert await charlie_ws.receive_nothing(timeout=0.3)
    await alice_ws.disconnect()
    await charlie_ws.disconnect()


async def test_a_batch_larger_than_the_feed_sends_only_the_newest_rows_the_page_keeps(alice, org_a):
    from lib.live_feed import FEED_ROWS

    alice_ws, _ = await _connect(alice)
    await publish_requests(org_a.id, [{**PAYLOAD, "request_id": f"req_{i}"} for i in range(FEED_ROWS + 30)])
    got = [(await alice_ws.receive_json_from(timeout=2))["request"]["request_id"] for _ in range(FEED_ROWS)]
    assert got == [f"req_{i}" for i in range(30, FEED_ROWS + 30)]
    assert await alice_ws.receive_nothing(timeout=0.3)
    await alice_ws.disconnect()
