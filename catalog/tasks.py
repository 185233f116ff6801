"""Celery tasks: thin wrappers over plain functions that tests call directly."""

from __future__ import annotations

from celery import shared_task

from catalog import sync


@shared_task
def sync_catalog() -> dict[str, int]:
    """Scheduled by `manage.py setup_schedules` (every 6 hours)."""
    reports = sync.sync_all()
    return {"reports": len(reports), "retired": sum(len(r.retired) for r in reports)}
