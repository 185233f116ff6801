"""Leases: each worker reserves a wallet's money in bulk and spends it request by request in memory.

A per-request hold costs two durable transactions per request (hold, then settle), which made
them most of the gateway's CPU and of its added latency. Instead, the first request of a wallet
on a worker reserves a *lease* (a `Hold` row with `lease=True`): up to WALLET_LEASE_MAX_MICROS,
and at most 1/WALLET_LEASE_SHARE of what is available, never less than the request needs. Every
request then reserves its own hold amount from the lease without touching the database (the
invariant "no request is served without a hold" holds: its money is reserved in the database,
inside the lease). When a request ends, its charge is queued here; every WALLET_FLUSH_SECONDS one
transaction writes the queued usage entries (idempotent per request, as before), moves the
balance, shrinks the lease by what was spent, records the checkpoints of its streams in flight
and renews the lease's expiry. A lease nobody used for WALLET_LEASE_IDLE_SECONDS goes back.

Crash safety: the lease is in the database, so the money stays reserved; if the worker dies the
lease stops being renewed, and the reconciler charges each of its streams in flight from its last
checkpoint (or from its RequestLog row) and releases the rest (wallet/reconcile.py). A stream is
*watched* from its first output: the flusher samples what it has delivered (`watch`: a callable
the stream hands over once, so a chunk costs nothing) and writes it with the lease whenever it
changed; per-request holds are watched the same way (`watch_hold`, one batched UPDATE per flush).
What a dead worker delivered or settled but had not yet written (at most one flush interval) is
the window left.

Leases never starve a request: a worker refused for want of money other workers' leases hold
unused raises the wallet's *lease pressure* (a cache key, shared through Redis in production) and
tries again for up to RECLAIM_SECONDS; every flusher that sees the pressure on a wallet it leases
gives back all but what its requests in flight reserved. Customers see only those in-flight
reservations as on hold (`Hold.in_flight`, written by each flush; `ledger.on_hold`).

Keys with a spend limit keep per-request holds (ledger.place_hold): their limit is checked
against entries and open holds in the database, which lease spends would not show in time.

The state lives per event loop (one per worker process in production); a `threading.Lock`
guards the queue that the flusher hands to a pool thread.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ObjectDoesNotExist

from lib.threads import in_pool
from wallet import ledger
from wallet.ledger import InsufficientFunds, LedgerError, Spend

log = logging.getLogger(__name__)
__all__ = [
    "InsufficientFunds",
    "Ticket",
    "checkpoint",
    "flush",
    "release",
    "reserve",
    "settle",
    "unwatch_hold",
    "wait_idle",
    "watch",
    "watch_hold",
]

# What a stream has delivered so far: {"charge", "upstream_cost", "receipt"}, sampled at each flush.
Meter = Callable[[], dict[str, Any]]


@dataclass(slots=True)
class Watched:
    """A watched stream's meter, and its last sample as written in the lease's checkpoints."""

    meter: Meter
    key_id: int | None
    sampled: dict[str, Any] | None = None  # what `meter` returned last
    point: dict[str, Any] | None = None  # that, with the key id


@dataclass(slots=True)
class Lease:
    """One worker's reservation on one wallet."""

    wallet_id: int
    hold_id: int | None = None
    amount: int = 0  # reserved in the database
    committed: int = 0  # in flight (their hold amounts) + spent and not yet written (their charges)
    inflight: dict[str, int] = field(default_factory=dict)  # request id -> amount it reserved
    pending: list[Spend] = field(default_factory=list)
    metered: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> last checkpoint
    meters: dict[str, Watched] = field(default_factory=dict)  # request id -> its stream's meter
    written: dict[str, dict[str, Any]] = field(default_factory=dict)  # the checkpoints the last flush wrote
    dirty: bool = False  # checkpoints changed since the last flush
    renewed: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def free(self) -> int:
        return self.amount - self.committed if self.hold_id is not None else 0


@dataclass(slots=True)
class Ticket:
    """One request's reservation inside a lease."""

    lease: Lease
    request_id: str
    amount: int
    key_id: int | None
    done: bool = False


# How long a request short of money waits for other workers to give back their unused leases.
RECLAIM_SECONDS = 1.5
PRESSURE_SECONDS = 5  # how long a wallet's lease pressure lasts once raised

_leases: dict[tuple[int, int], Lease] = {}  # (id of the event loop, wallet id) -> lease
_flushers: dict[int, asyncio.Task[None]] = {}
_guard = threading.Lock()
_flushing = 0


def _loop_leases(loop_id: int) -> list[Lease]:
    with _guard:
        return [lease for (lid, _), lease in _leases.items() if lid == loop_id]


async def reserve(*, org_id: int, key_id: int | None, amount: int, request_id: str) -> Ticket:
    """Reserve `amount` for one request from this worker's lease on the org's wallet (growing or
    taking the lease first when it is short). Raises InsufficientFunds."""
    if amount < 0:
        raise LedgerError("a hold cannot be negative")
    wallet_id = ledger._wallet_ids.get(org_id) or await in_pool(ledger._wallet_id)(org_id)
    loop = asyncio.get_running_loop()
    slot = (id(loop), wallet_id)
    lease = _leases.get(slot)
    if lease is None:
        with _guard:
            lease = _leases.setdefault(slot, Lease(wallet_id))
    if lease.free < amount:

        async def grow() -> None:
            async with lease.lock:
                if lease.free < amount:
                    lease.hold_id, lease.amount = await in_pool(ledger.lease_grow)(
                        wallet_id, lease.hold_id, amount - lease.free, amount
                    )
                    lease.renewed = time.monotonic()

        await reclaiming(wallet_id, grow)
    lease.inflight[request_id] = amount
    lease.committed += amount
    lease.last_used = time.monotonic()
    _ensure_flusher(loop)
    return Ticket(lease, request_id, amount, key_id)


async def reclaiming(wallet_id: int, reserve: Callable[[], Any]) -> Any:
    """`await reserve()`; refused while other workers' leases hold unused money that would cover
    it, raise the wallet's lease pressure and try again each flush interval for RECLAIM_SECONDS."""
    deadline = time.monotonic() + RECLAIM_SECONDS
    while True:
        try:
            return await reserve()
        except InsufficientFunds as short:
            if not short.reclaimable or time.monotonic() >= deadline:
                raise
        await sync_to_async(cache.set, thread_sensitive=False)(_pressure_key(wallet_id), 1, PRESSURE_SECONDS)
        await asyncio.sleep(settings.WALLET_FLUSH_SECONDS)


async def place_hold(*, org_id: int, key_id: int | None, amount: int, request_id: str) -> int:
    """`ledger.place_hold` (a per-request hold, for keys with a spend limit), asking leases back when short."""
    wallet_id = ledger._wallet_ids.get(org_id) or await in_pool(ledger._wallet_id)(org_id)

    async def hold() -> int:
        return await in_pool(ledger.place_hold)(org_id=org_id, key_id=key_id, amount=amount, request_id=request_id)

    return await reclaiming(wallet_id, hold)


def _pressure_key(wallet_id: int) -> str:
    return f"lease-pressure:{wallet_id}"


async def _pressured(leases: list[Lease]) -> set[int]:
    """The wallets, among those these leases have unused money on, whose lease pressure is up."""
    wallets = {lease.wallet_id for lease in leases if lease.free > 0}
    if not wallets:
        return set()
    try:
        # Off the loop (Redis in production) but not on the DB pool: no connection bookkeeping.
        found = await sync_to_async(cache.get_many, thread_sensitive=False)([_pressure_key(w) for w in wallets])
    except Exception:  # no shared cache: leases still go back when idle
        return set()
    return {w for w in wallets if _pressure_key(w) in found}


def settle(ticket: Ticket, *, charge: int, upstream_cost: int, receipt: dict) -> None:
    """The request ended: queue its charge (written by the next flush). Idempotent per ticket."""
    if charge < 0:
        raise LedgerError("a charge cannot be negative")
    lease = ticket.lease
    if ticket.done:
        return
    ticket.done = True
    lease.committed += charge - lease.inflight.pop(ticket.request_id, 0)
    lease.metered.pop(ticket.request_id, None)
    lease.meters.pop(ticket.request_id, None)
    with _guard:
        lease.pending.append(Spend(ticket.request_id, ticket.key_id, charge, upstream_cost, receipt))
    lease.last_used = time.monotonic()


def release(ticket: Ticket) -> None:
    """The request failed before costing anything: its reservation goes back to the lease."""
    if ticket.done:
        return
    ticket.done = True
    lease = ticket.lease
    lease.committed -= lease.inflight.pop(ticket.request_id, 0)
    lease.meters.pop(ticket.request_id, None)
    if lease.metered.pop(ticket.request_id, None) is not None:
        lease.dirty = True


def checkpoint(ticket: Ticket, *, charge: int, upstream_cost: int, receipt: dict) -> None:
    """Note what a stream has delivered so far; the next flush writes it on the lease's row."""
    if not ticket.done:
        point = {"charge": charge, "upstream_cost": upstream_cost, "receipt": receipt, "key_id": ticket.key_id}
        ticket.lease.metered[ticket.request_id] = point
        ticket.lease.dirty = True


def watch(ticket: Ticket, meter: Meter) -> None:
    """From now on every flush samples `meter` (what the stream has delivered) and writes it on the
    lease's row when it changed: a hard kill loses at most one flush interval of a stream."""
    if not ticket.done:
        ticket.lease.meters[ticket.request_id] = Watched(meter, ticket.key_id)


_hold_meters: dict[int, dict[int, Meter]] = {}  # id of the event loop -> {hold id: meter}
_hold_written: dict[int, dict[str, Any]] = {}  # hold id -> the checkpoint last written


def watch_hold(hold_id: int, meter: Meter) -> None:
    """`watch` for a per-request hold (keys with a spend limit): written by this loop's flusher."""
    loop = asyncio.get_running_loop()
    _hold_meters.setdefault(id(loop), {})[hold_id] = meter
    _ensure_flusher(loop)


def unwatch_hold(hold_id: int) -> None:
    for meters in _hold_meters.values():
        meters.pop(hold_id, None)
    _hold_written.pop(hold_id, None)


def _sample(lease: Lease) -> dict[str, dict[str, Any]]:
    """The lease's checkpoints now: the noted ones, and a fresh sample of every watched stream.

    A meter returns the same object while its stream delivered nothing new (gateway.pipeline.watch), and
    then its point here is the same object too: comparing with what the last flush wrote stops at the
    first stream that moved instead of comparing every checkpoint field by field."""
    if not lease.meters:
        return dict(lease.metered)
    points = dict(lease.metered)
    for request_id, watched in list(lease.meters.items()):
        try:
            sampled = watched.meter()
        except Exception:  # a meter must never stop a flush
            log.exception("could not meter request %s", request_id)
            continue
        point = watched.point
        if sampled is not watched.sampled or point is None:
            point = {**sampled, "key_id": watched.key_id}
            watched.sampled, watched.point = sampled, point
        points[request_id] = point
    return points


async def _flush_hold_meters(loop_id: int) -> None:
    meters = _hold_meters.get(loop_id)
    if not meters:
        return
    changed = {}
    for hold_id, meter in list(meters.items()):
        try:
            point = meter()
        except Exception:
            log.exception("could not meter hold %s", hold_id)
            continue
        if point != _hold_written.get(hold_id):
            changed[hold_id] = point
    if not changed:
        return
    try:
        await in_pool(ledger.checkpoint_many)(changed)
    except Exception:  # the database is away: the next flush tries again
        log.warning("could not checkpoint %d holds", len(changed), exc_info=True)
        return
    for hold_id, point in changed.items():
        if hold_id in meters:
            _hold_written[hold_id] = point


# --- the flusher ---------------------------------------------------------------------------------


def _ensure_flusher(loop: asyncio.AbstractEventLoop) -> None:
    task = _flushers.get(id(loop))
    if task is None or task.done():
        _flushers[id(loop)] = loop.create_task(_flusher(id(loop)))


async def _flusher(loop_id: int) -> None:
    """Write this loop's leases every WALLET_FLUSH_SECONDS; return idle ones; stop when none is left."""
    while True:
        await asyncio.sleep(settings.WALLET_FLUSH_SECONDS)
        leases = _loop_leases(loop_id)
        pressured = await _pressured(leases)
        for lease in leases:
            await _flush_one(lease, give_back=lease.wallet_id in pressured)
        await _flush_hold_meters(loop_id)
        if not _hold_meters.get(loop_id) and not any(lease.hold_id is not None or lease.pending for lease in leases):
            return


async def _flush_one(lease: Lease, *, force: bool = False, closing: bool = False, give_back: bool = False) -> None:
    now = time.monotonic()
    renew = now - lease.renewed > settings.WALLET_LEASE_TTL_SECONDS / 4
    idle = not lease.inflight and not lease.pending and now - lease.last_used > settings.WALLET_LEASE_IDLE_SECONDS
    idle = idle or (closing and not lease.inflight)
    metered = _sample(lease)
    if metered != lease.written:
        lease.dirty = True
    if lease.hold_id is None:  # closed under requests still in flight: their spends are written all the same
        lease.dirty = False
        if not lease.pending:
            return
    elif not (lease.pending or lease.dirty or renew or idle or force or give_back):
        return
    global _flushing
    waited = lease.lock.locked()
    async with lease.lock:
        with _guard:
            spends, lease.pending = lease.pending, []
            _flushing += 1
        lease.dirty = False
        if lease.meters and waited:  # what the streams delivered while this flush waited for the lock
            metered = _sample(lease)
        in_flight = sum(lease.inflight.values())
        keep, amount = None, lease.amount
        if give_back and lease.hold_id is not None:
            # Shrink first in memory, so no request reserves what is being given back meanwhile.
            keep = in_flight + max(lease.committed - in_flight - sum(s.charge for s in spends), 0)
            lease.amount = min(lease.amount, keep + sum(s.charge for s in spends))
        try:
            remaining = await in_pool(ledger.lease_flush)(
                lease.wallet_id, lease.hold_id, spends, metered, release=idle, in_flight=in_flight, keep=keep
            )
        except (LedgerError, ObjectDoesNotExist):  # its wallet was deleted: nothing left to write
            lease.amount = amount
            log.warning("lease %s of wallet %s vanished; dropping it", lease.hold_id, lease.wallet_id)
            lease.hold_id, lease.amount, lease.committed = None, 0, sum(lease.inflight.values())
            return
        except Exception:  # the database is away: keep the spends for the next flush
            log.exception("could not flush the lease of wallet %s; retrying", lease.wallet_id)
            with _guard:
                lease.pending[:0] = spends
            lease.dirty = True
            lease.amount = amount
            return
        finally:
            with _guard:
                _flushing -= 1
        lease.committed -= sum(s.charge for s in spends)
        lease.written = metered
        lease.renewed = time.monotonic()
        if remaining is None:  # released (idle) or closed by the reconciler: the next request takes a new one
            lease.hold_id, lease.amount = None, 0
        else:
            lease.amount = remaining


async def flush() -> None:
    """Write every lease of this loop now (tests): when it returns, what was settled before the call
    is written, or kept for the next flush if the database failed."""
    loop_id = id(asyncio.get_running_loop())
    for lease in _loop_leases(loop_id):
        if lease.lock.locked():  # the background flusher took the spends and is writing them: wait for it
            async with lease.lock:
                pass
        if lease.pending or lease.dirty or lease.meters or lease.inflight:
            await _flush_one(lease, force=True)
    await _flush_hold_meters(loop_id)


async def close() -> None:
    """The worker is stopping: write every lease of this loop and give back those with nothing in
    flight. (ASGI lifespan shutdown: uvicorn re-raises SIGTERM after it, so atexit never runs.)"""
    for lease in _loop_leases(id(asyncio.get_running_loop())):
        await _flush_one(lease, force=True, closing=True)


def wait_idle(timeout: float = 5.0) -> bool:
    """Block until no lease (of any loop) has unwritten spends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _guard:
            idle = not _flushing and not any(lease.pending or lease.dirty for lease in _leases.values())
        if idle:
            return True
        time.sleep(0.01)
    return False


def reset() -> None:
    """Forget every lease (tests: the database was rolled back under them)."""
    with _guard:
        _leases.clear()
    _hold_meters.clear()
    _hold_written.clear()
    for task in list(_flushers.values()):
        try:
            task.get_loop().call_soon_threadsafe(task.cancel)
        except RuntimeError:  # its loop is closed already
            pass
    _flushers.clear()


def _flush_at_exit() -> None:
    """Write what this process spent before it exits, under a server that exits normally (the
    gateway's lifespan shutdown calls `close` first; the reconciler covers a hard kill)."""
    for lease in list(_leases.values()):
        with _guard:
            spends, lease.pending = lease.pending, []
        if lease.hold_id is not None or spends:
            try:
                ledger.lease_flush(lease.wallet_id, lease.hold_id, spends, {}, release=not lease.inflight)
            except Exception:
                log.exception("could not flush the lease of wallet %s at exit", lease.wallet_id)


atexit.register(_flush_at_exit)
