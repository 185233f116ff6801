from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog import readiness
from catalog.crypto import encrypt
from catalog.models import Provider


class Command(BaseCommand):
    help = "Change how qlaud reaches one provider: base URL, credentials, Cloudflare routing, enabled."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--base-url")
        keys = parser.add_mutually_exclusive_group()
        keys.add_argument("--api-key-env", help="read the key from this environment variable")
        keys.add_argument("--api-key", help="store this key, encrypted at rest (FIELD_ENCRYPTION_KEY)")
        route = parser.add_mutually_exclusive_group()
        route.add_argument("--via-cloudflare", action="store_true", default=None)
        route.add_argument("--direct", action="store_true", default=None)
        aig = parser.add_mutually_exclusive_group()
        aig.add_argument("--no-aig", action="store_true", default=None, help="never through Cloudflare AI Gateway")
        aig.add_argument("--aig", action="store_true", default=None, help="follow the AI Gateway switch again")
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--enable", action="store_true", default=None)
        state.add_argument("--disable", action="store_true", default=None)

    def handle(self, *args: Any, slug: str, **opts: Any) -> None:
        provider = Provider.objects.filter(slug=slug).first()
        if provider is None:
            raise CommandError(
                f"No provider {slug!r}. Known: {', '.join(Provider.objects.values_list('slug', flat=True))}"
            )
        changes = self._apply(provider, opts)
        if not changes:
            raise CommandError("Nothing to change: pass at least one option (see --help).")
        missing = readiness.missing_for(provider)
        if provider.enabled and opts["enable"] and missing:
            # Enabled without its settings it would only be skipped (and shown as not configured): say why now.
            raise CommandError(f"Not enabled: {readiness.hint(slug, provider.api_key_env, missing)}.")
        provider.save()
        # Never echo the key itself.
        self.stdout.write(f"{slug}: {', '.join(changes)}")

    def _apply(self, provider: Provider, opts: dict[str, Any]) -> list[str]:
        changes = []
        if opts["base_url"]:
            provider.base_url = opts["base_url"].rstrip("/")
            changes.append(f"base URL {provider.base_url}")
        if opts["api_key_env"]:
            provider.api_key_env, provider.api_key_encrypted = opts["api_key_env"], ""
            changes.append(f"key from ${provider.api_key_env}")
        if opts["api_key"]:
            provider.api_key_encrypted = encrypt(opts["api_key"])
            changes.append("key stored (encrypted)")
        if opts["via_cloudflare"] or opts["direct"]:
            provider.via_cloudflare = bool(opts["via_cloudflare"])
            changes.append("via Cloudflare AI Gateway" if provider.via_cloudflare else "direct")
        if opts["no_aig"] or opts["aig"]:
            provider.aig_opt_out = bool(opts["no_aig"])
            changes.append(
                "opted out of Cloudflare AI Gateway" if provider.aig_opt_out else "follows the AI Gateway switch"
            )
        if opts["enable"] or opts["disable"]:
            provider.enabled = bool(opts["enable"])
            changes.append("enabled" if provider.enabled else "disabled")
        return changes
