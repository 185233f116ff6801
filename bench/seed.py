"""Prepare qlaud's database for the benchmark: migrate, a catalog pointing at the fake, a funded key.

Run by bench.run in a subprocess with the benchmark's DATABASE_URL / REDIS_URL:
    python -m bench.seed --upstream http://127.0.0.1:N [--paced-upstream URL --paced 50:100,50:600]
Prints one JSON line: {"key": "ak_..."}. Idempotent: the bench rows are replaced each run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

PRICES = {"input": 1_000_000, "output": 4_000_000, "cache_read": 100_000, "cache_write": 1_250_000}
CREDIT = 1_000_000_000_000  # $1M: no benchmark request may be refused for money
MODELS = {"bench-chat": ("bench-openai", "openai", "/v1"), "bench-messages": ("bench-anthropic", "anthropic", "")}


def paced_model(interval_ms: int, chunks: int) -> str:
    """An OpenAI-protocol model whose upstream sends `chunks` chunks `interval_ms` apart."""
    return f"bench-paced-{interval_ms}-{chunks}"


def seed(upstream: str, paced_upstream: str = "", paced: tuple[tuple[int, int], ...] = ()) -> str:
    # Everything Django is imported here, after django.setup() in __main__ (this module is imported without settings).
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # App registry: models import only after django.setup(), which __main__ runs after reading the settings.
    from accounts.keys import mint_key
    from accounts.models import User
    from accounts.orgs import create_org
    from catalog import version
    from catalog.models import Host, Model, PriceVersion, Provider
    from wallet.ledger import adjust

    Provider.objects.filter(slug__startswith="bench-").delete()
    Model.objects.filter(public_id__startswith="bench-").delete()
    models = {k: (slug, protocol, upstream + path) for k, (slug, protocol, path) in MODELS.items()}
    for interval_ms, chunks in paced:  # the open-streams benchmark: bench.paced_upstream paces by path
        name = paced_model(interval_ms, chunks)
        models[name] = (name, "openai", f"{paced_upstream}/paced/{interval_ms}/{chunks}/v1")
    for public_id, (slug, protocol, base_url) in models.items():
        provider = Provider.objects.create(slug=slug, name=slug, protocol=protocol, base_url=base_url)
        model = Model.objects.create(
            public_id=public_id, name=public_id, context_length=128_000, capabilities=["tools"]
        )
        host = Host.objects.create(model=model, provider=provider, upstream_model="bench", priority=0)
        host.price = PriceVersion.objects.create(host=host, **PRICES)
        host.save()
    version.bump()
    user = User.objects.filter(email="bench@qlaud.local").first() or User.objects.create_user("bench@qlaud.local")
    org = user.memberships.first().org if user.memberships.exists() else create_org(user, "Bench")
    _key, raw = mint_key(org, user, "bench")
    adjust(org_id=org.pk, amount=CREDIT, reason="benchmark credit", idempotency_key=None)
    return raw


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--paced-upstream", default="", help="bench.paced_upstream's URL")
    parser.add_argument("--paced", default="", help="interval_ms:chunks,... (one model each)")
    args = parser.parse_args()
    paced = tuple(tuple(int(x) for x in p.split(":")) for p in args.paced.split(",") if p)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qlaud.settings")
    sys.path.insert(0, os.getcwd())
    import django  # only once DJANGO_SETTINGS_MODULE and sys.path above are set

    django.setup()
    print(json.dumps({"key": seed(args.upstream, args.paced_upstream, paced)}), flush=True)
