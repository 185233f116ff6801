"""A $0.05 wallet spent through four real uvicorn workers (PostgreSQL + Redis, a local fake upstream).

The promise (docs/architecture.md, wallet/leases.py): no request is served without its hold reserved in the
database, so the wallet never pays out more than its balance, except that a charge may exceed its hold (an
upstream that ignores max_tokens) by that one request's overshoot; no request is refused while the settled
balance less what is in flight covers its hold; every RequestLog row with a cost has exactly one usage entry.
The fake upstream honours max_tokens (5 output tokens for a limit of 8), so here the overshoot is 0.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import quote

import openai
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count, Sum

from wallet import ledger

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
BALANCE = 50_000  # $0.05
# Per token, in micro-dollars per million tokens: 12 input tokens cost 120, 5 output tokens 2,000.
PRICES = {"input": 10_000_000, "output": 400_000_000, "cache_read": 1_000_000, "cache_write": 12_500_000}
MAX_TOKENS = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_url() -> str | None:
    import redis

    url = settings.REDIS_URL or "redis://127.0.0.1:6379"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return None
    return url


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user, password = quote(db["USER"] or "postgres"), quote(db.get("PASSWORD") or "")
    return f"postgres://{user}:{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _serve(cmd: list[str], env: dict[str, str], port: int, health: str, log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{health}", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"{cmd[3]} did not start: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # workers flush their leases on the way out
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def stack(org_a, alice, tmp_path):
    """The fake upstream and `uvicorn --workers 4` on the test database and Redis; yields (url, key)."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "four workers need the suite on PostgreSQL (DATABASE_URL=postgres://...); SQLite serialises writers"
        )
    redis_url = _redis_url()
    if redis_url is None:
        pytest.skip("Redis is unreachable (REDIS_URL or 127.0.0.1:6379)")
    from accounts.keys import mint_key
    from catalog import version
    from catalog.models import Host, Model, PriceVersion, Provider

    up_port, port = _free_port(), _free_port()
    provider = Provider.objects.create(
        slug="fake-w4", name="fake", protocol="openai", base_url=f"http://127.0.0.1:{up_port}/v1"
    )
    model = Model.objects.create(public_id="w4-model", name="w4", context_length=128_000)
    host = Host.objects.create(model=model, provider=provider, upstream_model="bench", priority=0)
    host.price = PriceVersion.objects.create(host=host, **PRICES)
    host.save()
    version.bump()
    ledger.credit_topup(org_id=org_a.pk, amount=BALANCE, reference="cs_w4", idempotency_key="w4")
    _key, raw = mint_key(org_a, alice, "w4")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))}
    env.update(PYTHONPATH=str(ROOT), DJANGO_SETTINGS_MODULE="qlaud.settings", DEBUG="0")
    uvicorn = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--no-access-log", "--log-level", "warning"]
    upstream = _serve([*uvicorn, "--port", str(up_port), "bench.fake_upstream:app"], env, up_port, "/", tmp_path / "up")
    env.update(
        DATABASE_URL=_database_url(),
        REDIS_URL=redis_url,
        CACHE_PREFIX=f"w4-{uuid.uuid4().hex[:8]}",  # nothing shared with other runs on the same Redis
        CELERY_TASK_ALWAYS_EAGER="1",  # a low-balance task must not land on a shared broker
    )
    cmd = [*uvicorn, "--port", str(port), "--workers", "4", "--lifespan", "on", "qlaud.asgi:application"]
    qlaud = None
    try:
        qlaud = _serve(cmd, env, port, "/v1/status", tmp_path / "qlaud")
        yield f"http://127.0.0.1:{port}", raw, qlaud, org_a
    finally:
        for proc in (qlaud, upstream):
            if proc is not None:
                _stop(proc)


async def _ask(url: str, key: str, stream: bool) -> tuple[str, int]:
    """One request on a fresh connection (so the kernel spreads them over the workers)."""
    async with openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30) as client:
        try:
            answer = await client.chat.completions.create(
                model="w4-model", messages=[{"role": "user", "content": "hi"}], max_tokens=MAX_TOKENS, stream=stream
            )
            if stream:
                async for _ in answer:
                    pass
            return "served", 200
        except openai.APIStatusError as exc:
            assert exc.response.headers["content-type"].startswith("application/json"), exc.response.text
            return exc.response.json()["error"].get("type", ""), exc.status_code


async def _spend(url: str, key: str) -> list[tuple[str, int]]:
    """24 clients at once until each has been refused twice, then one at a time until refused twice in a row
    (the second a second later: time for other workers to give their unused leases back)."""
    results: list[tuple[str, int]] = []

    async def client(i: int) -> None:
        refusals = 0
        while refusals < 2:
            results.append(await _ask(url, key, stream=i % 2 == 0))
            refusals += results[-1][1] == 402

    await asyncio.gather(*(client(i) for i in range(24)))
    refusals = 0
    while refusals < 2:
        results.append(await _ask(url, key, stream=False))
        refusals = refusals + 1 if results[-1][1] == 402 else 0
        await asyncio.sleep(refusals)
    return results


def test_four_workers_never_spend_more_than_a_small_wallet_holds_and_serve_all_its_settled_balance_covers(stack):
    from requestlog.models import RequestLog
    from wallet.models import Hold, LedgerEntry, Wallet

    url, key, qlaud, org = stack
    workers = subprocess.run(["ps", "-o", "pid=", "--ppid", str(qlaud.pid)], capture_output=True, text=True)
    assert len(workers.stdout.split()) >= 4  # uvicorn's four workers (and multiprocessing's tracker)

    results = asyncio.run(_spend(url, key))
    _stop(qlaud)

    served = sum(1 for _, status in results if status == 200)
    assert {status for _, status in results} <= {200, 402}, results
    wallet = Wallet.objects.get(org=org)
    usage = LedgerEntry.objects.filter(wallet=wallet, kind=LedgerEntry.Kind.USAGE)
    charges = -(usage.aggregate(s=Sum("amount"))["s"] or 0)
    # The fake answers 12 input and 5 output tokens every time: every request costs the same.
    one_charge = -(-2_120 * (10_000 + settings.QLAUD_MARKUP_BPS) // 10_000)  # upstream price + markup, rounded up
    assert usage.count() == served and charges == served * one_charge
    # Never more than the balance: the fake stays within max_tokens, so no request overshoots its hold.
    assert wallet.balance == BALANCE - charges >= 0
    # The last requests ran alone and were refused: the settled balance no longer covered one hold.
    hold = -(-(12 * 10 + MAX_TOKENS * 400) * (10_000 + settings.QLAUD_MARKUP_BPS) // 10_000)
    assert wallet.balance < hold, (wallet.balance, served, results[-5:])
    # The money moved through more than one worker's lease, and every lease went back.
    assert Hold.objects.filter(wallet=wallet, lease=True).count() >= 2
    assert not Hold.objects.filter(wallet=wallet, status=Hold.Status.OPEN).exists() and wallet.held == 0
    # Every logged request with a cost has exactly one usage entry, and its amount is the logged cost.
    costed = dict(RequestLog.objects.filter(org=wallet.org, cost__gt=0).values_list("request_id", "cost"))
    charged = dict(usage.values_list("reference", "amount"))
    assert len(costed) == served and {r: -a for r, a in charged.items()} == costed
    assert not usage.values("reference").annotate(n=Count("pk")).filter(n__gt=1).exists()
    ledger.assert_ledger_invariant()
