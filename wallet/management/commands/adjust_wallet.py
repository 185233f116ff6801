"""Credit (positive) or debit (negative) an org's wallet by hand, with a reason, through the ledger."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Org
from wallet import ledger
from wallet.models import Wallet
from wallet.money import format_usd, usd_to_micros


class Command(BaseCommand):
    help = "Adjust an org's balance: adjust_wallet <org slug> <USD, e.g. 5 or -1.25> <reason> [--key KEY]"

    def add_arguments(self, parser) -> None:
        parser.add_argument("org")
        parser.add_argument("amount_usd")
        parser.add_argument("reason")
        parser.add_argument("--key", default=None, help="idempotency key: a rerun with it is a no-op")

    def handle(self, *args: object, org: str, amount_usd: str, reason: str, key: str | None, **options: object) -> None:
        target = Org.objects.filter(slug=org).first()
        if target is None:
            raise CommandError(f"no org with slug {org!r}")
        try:
            amount = usd_to_micros(amount_usd)
            written = ledger.adjust(org_id=target.pk, amount=amount, reason=reason, idempotency_key=key)
        except (ValueError, ledger.LedgerError) as error:
            raise CommandError(str(error)) from error
        balance = Wallet.objects.get(org=target).balance
        verb = "adjusted" if written else "already applied"
        self.stdout.write(f"{verb}: {format_usd(amount)} on {target.slug}; balance {format_usd(balance)}")
