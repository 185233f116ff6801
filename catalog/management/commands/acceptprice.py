"""Accept a price difference the catalog sync reported: a new PriceVersion for the host."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.models import Host, SyncReport
from catalog.sync import accept_price


class Command(BaseCommand):
    help = "Accept the published price the last catalog sync reported for HOST_ID (a new PriceVersion)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("host_id", type=int)
        parser.add_argument("--verified", action="store_true", help="also checked on the provider's own page")

    def handle(self, *args: Any, host_id: int, verified: bool, **opts: Any) -> None:
        host = Host.objects.select_related("model", "provider", "price").filter(id=host_id).first()
        if host is None:
            raise CommandError(f"No host {host_id}.")
        report = SyncReport.objects.filter(kind=SyncReport.PRICE_CHECK, status=SyncReport.Status.OK).first()
        diff = next((d for d in (report.price_diffs if report else []) if d["host_id"] == host_id), None)
        if diff is None:
            raise CommandError(f"The last price check reported no difference for {host}. Run synccatalog first.")
        if diff["price_version_id"] != host.price_id:
            raise CommandError(f"{host}'s price changed since the check; run synccatalog again.")
        pv = accept_price(host, diff, report.created, verified=verified)
        self.stdout.write(f"{host}: new price version {pv.id}: {diff['theirs']}")
