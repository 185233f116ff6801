"""Credit (positive) or debit (negative) an org's wallet by hand, with a reason, through the ledger."""

from __future__ import annotations

import difflib

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
            raise CommandError(_unknown_org(org))
        try:
            amount = usd_to_micros(amount_usd)
            written = ledger.adjust(org_id=target.pk, amount=amount, reason=reason, idempotency_key=key)
        except (ValueError, ledger.LedgerError) as error:
            raise CommandError(str(error)) from error
        balance = Wallet.objects.get(org=target).balance
        verb = "adjusted" if written else "already applied"
        self.stdout.write(f"{verb}: {format_usd(amount)} on {target.slug}; balance {format_usd(balance)}")


def _unknown_org(slug: str) -> str:
    """Name the closest slugs (a personal org's slug is the e-mail's local part plus a random suffix)."""
    slugs = list(Org.objects.values_list("slug", flat=True))
    close = difflib.get_close_matches(slug, slugs, n=5, cutoff=0.5)
    close += [s for s in slugs if slug and slug.lower() in s.lower() and s not in close][: 5 - len(close)]
    if not close:
        return f"no org with slug {slug!r} (the dashboard's Team page shows an org's slug)"
    return f"no org with slug {slug!r}; did you mean: {', '.join(close)}?"
