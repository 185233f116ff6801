"""Celery tasks: thin wrappers over plain functions that tests call directly."""

from __future__ import annotations

from celery import shared_task

from accounts import keys


@shared_task
def land_key_changes() -> bool:
    """Bump the key epoch if a revocation's bump was lost (Redis was down and the process died)."""
    return keys.land_key_changes()
