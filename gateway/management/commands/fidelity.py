from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway.fidelity import check_hosts


class Command(BaseCommand):
    help = (
        "Run the fidelity suite (tool calls, streamed and parallel tool calls, reasoning with tools, JSON mode, cache "
        "accounting, count_tokens) against enabled hosts through the real provider modules, and record the results "
        "on each host (shown in /v1/catalog and /models/<id>, used by :nitro). Calls the upstreams: it costs a little."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", help="only this provider's hosts (its slug)")
        parser.add_argument("--host", type=int, help="only this host (its id)")

    def handle(self, *args: Any, provider: str | None, host: int | None, **opts: Any) -> None:
        results = check_hosts(provider=provider, host_id=host)
        if not results:
            raise CommandError("No enabled host matches.")
        for host_id, cases in results.items():
            failed = {name: detail for name, (ok, detail) in cases.items() if ok is False}
            passed = sum(1 for ok, _ in cases.values() if ok)
            self.stdout.write(f"host {host_id}: {passed} passed, {len(failed)} failed")
            for name, detail in failed.items():
                self.stdout.write(f"  {name}: {detail}")
