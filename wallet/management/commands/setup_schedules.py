"""Create (or update) the periodic Celery tasks in django-celery-beat (wallet, catalog sync). Idempotent."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django_celery_beat.models import IntervalSchedule, PeriodicTask

# name -> (task, every N minutes)
SCHEDULES = {
    "wallet: reconcile stale holds": ("wallet.tasks.reconcile_holds", 5),
    "wallet: sync Stripe checkout sessions": ("wallet.tasks.sync_stripe", 15),
    "wallet: roll up usage": ("wallet.tasks.rollup_usage", 60),
    "wallet: verify ledgers": ("wallet.tasks.verify_ledgers", 60),
    "accounts: land key revocations whose epoch bump was lost": ("accounts.tasks.land_key_changes", 1),
    "catalog: sync with the providers' model lists and prices": ("catalog.tasks.sync_catalog", 360),
}


class Command(BaseCommand):
    help = "Create or update the periodic tasks (reconciliation, Stripe sync, rollups, catalog sync)."

    def handle(self, *args: object, **options: object) -> None:
        for name, (task, minutes) in SCHEDULES.items():
            every, _ = IntervalSchedule.objects.get_or_create(every=minutes, period=IntervalSchedule.MINUTES)
            _, created = PeriodicTask.objects.update_or_create(
                name=name, defaults={"task": task, "interval": every, "enabled": True}
            )
            self.stdout.write(f"{'created' if created else 'updated'}: {name} every {minutes} min")
