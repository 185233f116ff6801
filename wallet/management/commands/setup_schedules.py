"""Create (or update) the periodic Celery tasks in django-celery-beat (wallet, catalog sync). Idempotent."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask


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


class Command(BaseCommand):
    help = "Create or update the periodic tasks (reconciliation, Stripe sync, rollups, catalog sync)."

    def handle(self, *args: object, **options: object) -> None:
        for name, (task, seconds) in schedules().items():
            every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
            _, created = PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": every, "enabled": True}
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} every {seconds} s")
