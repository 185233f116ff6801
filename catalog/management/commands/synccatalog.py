"""Compare the catalog with the providers' own model lists and OpenRouter's prices. Idempotent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from catalog import sync
from catalog.models import SyncReport


class Command(BaseCommand):
    help = (
        "Read each enabled provider's model list: retire hosts whose upstream model is gone, list "
        "upstream models the catalog lacks, report prices that differ from OpenRouter's (never change them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slugs", nargs="*", help="only these providers (skips the price check)")
        parser.add_argument("--no-mail", action="store_true", help="do not mail the staff (ADMINS)")

    def handle(self, *args: Any, slugs: list[str], no_mail: bool, **opts: Any) -> None:
        for report in sync.sync_all(slugs=slugs, mail=not no_mail):
            self.stdout.write(describe(report))


def describe(report: SyncReport) -> str:
    name = report.provider.slug if report.provider else report.kind
    if report.status != SyncReport.Status.OK:
        return f"{name}: {report.status}: {report.reason}"
    parts = [f"{report.upstream_count} upstream"]
    parts += [f"{len(v)} {k}" for k, v in (("retired", report.retired), ("back", report.restored)) if v]
    if report.kind == SyncReport.PRICE_CHECK:
        parts.append(f"{len(report.price_diffs)} price differences")
    else:
        parts.append(f"{len(report.missing)} not in the catalog")
    return f"{name}: ok: {', '.join(parts)}"
