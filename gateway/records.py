"""RequestLog rows, written off the hot path.

`record(fields)` only appends to an in-process buffer; one background task per loop lets rows
gather for up to LINGER seconds (or until BATCH rows wait), then writes them with one INSERT
statement run over the batch (`executemany`) in a worker thread, so a stream never waits on the
database. `aflush()` / `flush()` write whatever is left (tests, shutdown; an atexit hook covers
process exit). Rows never hold prompt or completion content.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.db import InterfaceError, OperationalError, close_old_connections
from django.utils import timezone

from lib.bulk import insert_rows
from lib.live_feed import publish_requests
from requestlog.models import RequestLog

log = logging.getLogger(__name__)

_pending: list[dict[str, Any]] = []
_lock = threading.Lock()
_in_flight = 0
BATCH = 500
# How long a row may wait for company: one INSERT per ~LINGER seconds instead of one per few rows.
LINGER = 0.2
# While the database is away, rows wait here (retried every RETRY seconds) up to MAX_WAITING of them;
# beyond that the oldest are dropped and counted in `dropped` (log line `qlaud.requestlog.rows_dropped`).
RETRY = 0.5
MAX_WAITING = 200_000
dropped = 0


class _Drain:
    """One loop's background writer: linger, write what gathered, repeat until nothing is left."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.wake = asyncio.Event()
        self.hurry = False  # set by aflush / wait_idle: write at once until the buffer is empty
        self.task = loop.create_task(self.run())

    async def run(self) -> None:
        while True:
            if not self.hurry:
                try:
                    async with asyncio.timeout(LINGER):
                        await self.wake.wait()
                except TimeoutError:
                    pass
                self.wake.clear()
            batch = _take()
            if not batch:
                return
            if not await sync_to_async(_write_in_worker, thread_sensitive=False)(batch, keep=True):
                await asyncio.sleep(RETRY)  # the database is away: the rows went back to the buffer
                continue
            await _publish(batch)

    def hurry_up(self) -> None:
        self.hurry = True
        self.wake.set()


_drains: dict[asyncio.Task[None], _Drain] = {}


def _drain_of(loop: asyncio.AbstractEventLoop) -> _Drain | None:
    return next((d for t, d in list(_drains.items()) if t.get_loop() is loop and not t.done()), None)


def record(fields: dict[str, Any]) -> None:
    """Queue one RequestLog row; never raises, never blocks."""
    fields.setdefault("created", timezone.now())  # when the request ended, not when its batch is written
    with _lock:
        _pending.append(fields)
        full = len(_pending) >= BATCH
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush()
        return
    drain = _drain_of(loop)
    if drain is None:
        drain = _Drain(loop)
        _drains[drain.task] = drain
        drain.task.add_done_callback(_forget)
    elif full:
        drain.wake.set()


def _forget(task: asyncio.Task[None]) -> None:
    _drains.pop(task, None)


def _take() -> list[dict[str, Any]]:
    global _in_flight
    with _lock:
        batch = _pending[:BATCH]
        del _pending[:BATCH]
        _in_flight += len(batch)
    return batch


def _write(batch: list[dict[str, Any]], *, keep: bool = False) -> bool:
    """Write `batch`; False if the database could not be reached and, with `keep`, the rows went
    back to the front of the buffer to be retried (rows the database refuses are counted by
    lib.bulk, never retried)."""
    global _in_flight
    try:
        insert(batch)
        return True
    except (OperationalError, InterfaceError) as exc:  # the database is away; the connection is marked
        log.warning("could not write %d request log rows (%s); %s", len(batch), exc, "retrying" if keep else "dropping")
        if keep:
            _requeue(batch)
        else:
            _drop(len(batch))
        return False
    except Exception:  # bookkeeping must never take a request down with it
        log.exception("could not write %d request log rows", len(batch))
        _drop(len(batch))
        return True
    finally:
        with _lock:
            _in_flight -= len(batch)


def _requeue(batch: list[dict[str, Any]]) -> None:
    with _lock:
        _pending[:0] = batch
        excess = len(_pending) - MAX_WAITING
        if excess > 0:
            del _pending[:excess]
    if excess > 0:
        _drop(excess)


def _drop(count: int) -> None:
    global dropped
    dropped += count
    log.error("qlaud.requestlog.rows_dropped count=%d total=%d", count, dropped)


def insert(rows: list[dict[str, Any]]) -> None:
    """One INSERT for all `rows`, skipping a request_id already written (as bulk_create(ignore_conflicts=True)).
    The values are already the right Python types (pipeline.log_fields): see lib/bulk.py."""
    insert_rows(RequestLog, rows, skip_conflicts=True)


def _write_in_worker(batch: list[dict[str, Any]], *, keep: bool = False) -> bool:
    close_old_connections()  # a broken, marked or expired connection is closed, as in a request cycle
    return _write(batch, keep=keep)


async def _publish(batch: list[dict[str, Any]]) -> None:
    """Show the written rows on their orgs' live dashboard feeds, one message per org (lib/live_feed; never raises)."""
    by_org: dict[int, list[dict[str, Any]]] = {}
    for row in batch:
        if row.get("org_id") is not None:
            by_org.setdefault(row["org_id"], []).append(row)
    for org_id, rows in by_org.items():
        await publish_requests(org_id, rows)


_upstream_of_rows: set[asyncio.Task[Any]] = set()


def track(task: asyncio.Task[Any]) -> None:
    """Register bookkeeping that will end in `record()` (settle-then-record), so aflush waits for it."""
    _upstream_of_rows.add(task)
    task.add_done_callback(_upstream_of_rows.discard)


async def aflush() -> None:
    """Wait for this loop's pending bookkeeping and background writers, then write the rest."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*[t for t in _upstream_of_rows if t.get_loop() is loop], return_exceptions=True)
    mine = [d for d in list(_drains.values()) if d.task.get_loop() is loop]
    for drain in mine:
        drain.hurry_up()
    await asyncio.gather(*[d.task for d in mine], return_exceptions=True)
    while batch := _take():
        await sync_to_async(_write_in_worker, thread_sensitive=False)(batch)
        await _publish(batch)


def flush() -> None:
    """Write everything still buffered, from sync code."""
    while batch := _take():
        _write(batch)


def wait_idle(timeout: float = 5.0) -> bool:
    """Block until every queued row is written (rows queued by another thread's loop included)."""
    _hurry_all()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            idle = not _pending and _in_flight == 0
        if idle:
            return True
        time.sleep(0.01)
    return False


def _hurry_all() -> None:
    """Ask every loop's writer to stop lingering (wait_idle runs on another thread than the loops)."""
    for drain in list(_drains.values()):
        try:
            drain.task.get_loop().call_soon_threadsafe(drain.hurry_up)
        except RuntimeError:  # that loop is closed; its rows are left for flush()
            pass


atexit.register(flush)
