"""RequestLog rows, written off the hot path.

`record(fields)` only appends to an in-process buffer; one background task per loop drains it
with `bulk_create` in a worker thread, so a stream never waits on the database. `aflush()` /
`flush()` write whatever is left (tests, shutdown; an atexit hook covers process exit).
Rows never hold prompt or completion content.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from typing import Any

from asgiref.sync import sync_to_async

log = logging.getLogger(__name__)

_pending: list[dict[str, Any]] = []
_lock = threading.Lock()
_tasks: set[asyncio.Task[None]] = set()
_in_flight = 0
BATCH = 500


def record(fields: dict[str, Any]) -> None:
    """Queue one RequestLog row; never raises, never blocks."""
    with _lock:
        _pending.append(fields)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        flush()
        return
    if not any(t.get_loop() is loop and not t.done() for t in _tasks):
        task = loop.create_task(_drain())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)


def _take() -> list[dict[str, Any]]:
    global _in_flight
    with _lock:
        batch = _pending[:BATCH]
        del _pending[:BATCH]
        _in_flight += len(batch)
    return batch


def _write(batch: list[dict[str, Any]]) -> None:
    global _in_flight
    from gateway.models import RequestLog

    try:
        RequestLog.objects.bulk_create([RequestLog(**row) for row in batch], ignore_conflicts=True)
    except Exception:  # bookkeeping must never take a request down with it
        log.exception("could not write %d request log rows", len(batch))
    finally:
        with _lock:
            _in_flight -= len(batch)


def _write_in_worker(batch: list[dict[str, Any]]) -> None:
    from django.db import close_old_connections

    close_old_connections()  # a worker thread's connection may have gone stale, as in a request cycle
    _write(batch)


async def _drain() -> None:
    while batch := _take():
        await sync_to_async(_write_in_worker, thread_sensitive=False)(batch)
        await _publish(batch)


async def _publish(batch: list[dict[str, Any]]) -> None:
    """Show each written row on its org's live dashboard feed (qlaud/live.py; never raises)."""
    from qlaud.live import publish_request

    for row in batch:
        if row.get("org_id") is not None:
            await publish_request(row["org_id"], row)


_upstream_of_rows: set[asyncio.Task[Any]] = set()


def track(task: asyncio.Task[Any]) -> None:
    """Register bookkeeping that will end in `record()` (settle-then-record), so aflush waits for it."""
    _upstream_of_rows.add(task)
    task.add_done_callback(_upstream_of_rows.discard)


async def aflush() -> None:
    """Wait for this loop's pending bookkeeping and background writers, then write the rest."""
    loop = asyncio.get_running_loop()
    await asyncio.gather(*[t for t in _upstream_of_rows if t.get_loop() is loop], return_exceptions=True)
    await asyncio.gather(*[t for t in _tasks if t.get_loop() is loop], return_exceptions=True)
    await _drain()


def flush() -> None:
    """Write everything still buffered, from sync code."""
    while batch := _take():
        _write(batch)


def wait_idle(timeout: float = 5.0) -> bool:
    """Block until every queued row is written (rows queued by another thread's loop included)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            idle = not _pending and _in_flight == 0
        if idle:
            return True
        time.sleep(0.01)
    return False


atexit.register(flush)
