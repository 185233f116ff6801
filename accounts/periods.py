"""Spend-limit periods of API keys, in UTC. Pure: no Django imports.

Periods are computed from the clock, so nothing needs resetting when one ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

PERIODS = ("day", "week", "month", "never")


def period_start(period: str, now: datetime) -> datetime | None:
    """The start of the current period (UTC midnight, Monday, 1st of month), None for `never`."""
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight
    if period == "week":
        return midnight - timedelta(days=midnight.weekday())
    if period == "month":
        return midnight.replace(day=1)
    if period == "never":
        return None
    raise ValueError(f"unknown limit period {period!r}")


def period_end(period: str, now: datetime) -> datetime | None:
    """When the current period ends (the next one starts), None for `never`."""
    start = period_start(period, now)
    if start is None:
        return None
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
