"""Create (or update) the periodic Celery tasks in django-celery-beat (wallet, catalog sync). Idempotent."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

PROBES = "gateway: live-board probes (one tiny request per provider, paid by the house)"


def schedules() -> dict[str, tuple[str, int]]:
    """name -> (task, every N seconds). The reconciler's pace bounds how long a dead worker's lease
    stays on hold (WALLET_LEASE_TTL_SECONDS + RECONCILE_EVERY_SECONDS)."""
    return {
        "wallet: reconcile stale holds": ("wallet.tasks.reconcile_holds", settings.RECONCILE_EVERY_SECONDS),
        "wallet: sync Stripe checkout sessions": ("wallet.tasks.sync_stripe", 15 * 60),
        "wallet: roll up usage": ("wallet.tasks.rollup_usage", 60 * 60),
        "wallet: verify ledgers": ("wallet.tasks.verify_ledgers", 60 * 60),
        "accounts: land key revocations whose epoch bump was lost": ("accounts.tasks.land_key_changes", 60),
        "catalog: sync with the providers' model lists and prices": ("catalog.tasks.sync_catalog", 6 * 60 * 60),
    }


def probe_schedule() -> tuple[str, int] | None:
    """The probes' entry, or None when they are off (PROBE_INTERVAL_SECONDS / PROBE_DAILY_BUDGET_MICROS unset)."""
    if settings.PROBE_INTERVAL_SECONDS > 0 and settings.PROBE_DAILY_BUDGET_MICROS > 0:
        return ("gateway.tasks.run_probes", settings.PROBE_INTERVAL_SECONDS)
    return None


class Command(BaseCommand):
    help = "Create or update the periodic tasks (reconciliation, Stripe sync, rollups, catalog sync, probes)."

    def handle(self, *args: object, **options: object) -> None:
        for name, (task, seconds) in schedules().items():
            every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            _, created = PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": every, "enabled": True}
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} every {seconds} s")
        probes = probe_schedule()
        if probes is None:
            if PeriodicTask.objects.filter(name=PROBES).update(enabled=False):
                self.stdout.write(f"disabled: {PROBES} (probes are not configured)")
            return
        every, _ = IntervalSchedule.objects.get_or_create(every=probes[1], period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(
            name=PROBES, defaults={"task": probes[0], "interval": every, "enabled": True}
        )
        self.stdout.write(f"scheduled: {PROBES} every {probes[1]} s")
