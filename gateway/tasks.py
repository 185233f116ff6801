"""Celery tasks: thin wrappers over plain functions that tests call directly."""

from __future__ import annotations

from celery import shared_task

from gateway import probes
from gateway.fidelity import check_hosts


@shared_task
def check_fidelity(provider: str | None = None, host_id: int | None = None) -> dict[str, int]:
    """The fidelity suite on enabled hosts (schedule it with django-celery-beat, e.g. daily)."""
    results = check_hosts(provider=provider, host_id=host_id)
    failed = sum(1 for cases in results.values() for ok, _ in cases.values() if ok is False)
    return {"hosts": len(results), "failed_cases": failed}


@shared_task
def run_probes() -> dict[str, int | str]:
    """The live-board probes (gateway/probes.py); scheduled by `manage.py setup_schedules` every
    PROBE_INTERVAL_SECONDS when probes are configured."""
    return probes.run_probes()
