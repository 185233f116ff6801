"""The drills' view of qlaud's database, run in a subprocess with the drill's DATABASE_URL / REDIS_URL:

    python -m bench.chaos.world setup --upstream URL   migrate; the chaos catalog (below)
    python -m bench.chaos.world tenant --credit MICROS  a funded org and key: {"org_id", "key"}
    python -m bench.chaos.world check --org N [--ids FILE] [--reconcile]   the money and log invariants

Catalog: `chaos-solo` (one host, `solo`), `chaos-pair` (hosts `pa` first, then `pb`); each host's base URL is
`<upstream>/<host>/v1` on bench/chaos/upstream.py, which the drills switch per host.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

PRICES = {"input": 1_000_000, "output": 10_000_000, "cache_read": 100_000, "cache_write": 1_250_000}
MODELS = {"chaos-solo": ("solo",), "chaos-pair": ("pa", "pb")}


def setup(upstream: str) -> dict:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    # App registry: models import only after django.setup(), which __main__ runs first.
    from catalog import version
    from catalog.models import Host, Model, PriceVersion, Provider

    for public_id, hosts in MODELS.items():
        Model.objects.filter(public_id=public_id).delete()
        model = Model.objects.create(public_id=public_id, name=public_id, context_length=128_000)
        for priority, slug in enumerate(hosts):
            Provider.objects.filter(slug=f"chaos-{slug}").delete()
            base = f"{upstream}/{slug}/v1"
            provider = Provider.objects.create(slug=f"chaos-{slug}", name=slug, protocol="openai", base_url=base)
            host = Host.objects.create(model=model, provider=provider, upstream_model="chaos", priority=priority)
            host.price = PriceVersion.objects.create(host=host, **PRICES)
            host.save()
    version.bump()
    return {"models": list(MODELS)}


def tenant(credit: int) -> dict:
    # App registry: models import only after django.setup(), which __main__ runs first.
    from accounts.keys import mint_key
    from accounts.models import User
    from accounts.orgs import create_org
    from wallet.ledger import adjust

    n = User.objects.filter(email__startswith="chaos").count()
    user = User.objects.create_user(f"chaos{n}@qlaud.local")
    org = create_org(user, f"Chaos {n}")
    _key, raw = mint_key(org, user, "chaos")
    adjust(org_id=org.pk, amount=credit, reason="chaos drill credit", idempotency_key=None)
    return {"org_id": org.pk, "key": raw}


def check(org_id: int, ids: list[str], reconcile: bool) -> dict:
    # App registry: models import only after django.setup(), which __main__ runs first.
    from django.db.models import Count, Sum

    from requestlog.models import RequestLog
    from wallet import ledger
    from wallet.models import Hold, LedgerEntry, Wallet
    from wallet.reconcile import reconcile_holds

    reconciled = reconcile_holds() if reconcile else {}
    wallet = Wallet.objects.get(org_id=org_id)
    entries = LedgerEntry.objects.filter(wallet=wallet)
    usage = entries.filter(kind=LedgerEntry.Kind.USAGE)
    charged = dict(usage.values_list("reference", "amount"))
    logs = RequestLog.objects.filter(org_id=org_id)
    costed = dict(logs.filter(cost__gt=0).values_list("request_id", "cost"))
    logged = set(logs.values_list("request_id", flat=True))
    doubles = usage.values("reference").annotate(n=Count("pk")).filter(n__gt=1).count()
    credits = entries.exclude(kind=LedgerEntry.Kind.USAGE).aggregate(s=Sum("amount"))["s"] or 0
    return {
        "reconciled": reconciled,
        "log_rows": len(logged),
        "log_status": dict(logs.values_list("status").annotate(n=Count("pk")).values_list("status", "n")),
        "costed_rows": len(costed),
        "costed_rows_without_usage_entry": sum(1 for r in costed if r not in charged),
        "usage_entries": len(charged),
        "usage_entries_without_log_row": sum(1 for r in charged if r not in logged),
        "charge_differs_from_log_cost": sum(1 for r, c in costed.items() if r in charged and -charged[r] != c),
        "double_charges": doubles,
        "credits": credits,
        "charges": -sum(charged.values()),
        "balance": wallet.balance,
        "entries_sum": entries.aggregate(s=Sum("amount"))["s"] or 0,
        "balance_is_credits_minus_charges": wallet.balance == credits + sum(charged.values()),
        "open_holds": Hold.objects.filter(wallet=wallet, status=Hold.Status.OPEN).count(),
        "held": wallet.held,
        "ledger_drift": len(ledger.ledger_drift()),
        "ids_without_log_row": [i for i in ids if i not in logged],
        "charged_by_id": {i: -charged[i] for i in ids if i in charged},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["setup", "tenant", "check"])
    parser.add_argument("--upstream", default="")
    parser.add_argument("--credit", type=int, default=100_000_000)
    parser.add_argument("--org", type=int, default=0)
    parser.add_argument("--ids", default="", help="a file of request ids, one a line")
    parser.add_argument("--reconcile", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qlaud.settings")
    sys.path.insert(0, os.getcwd())
    import django  # only once DJANGO_SETTINGS_MODULE and sys.path above are set

    django.setup()
    if args.command == "setup":
        out = setup(args.upstream)
    elif args.command == "tenant":
        out = tenant(args.credit)
    else:
        ids = open(args.ids).read().split() if args.ids else []
        out = check(args.org, ids, args.reconcile)
    print(json.dumps(out, default=str), flush=True)
