"""`make chaos`: every drill (or those named) on a private PostgreSQL cluster and redis-server, loopback only.

    python -m bench.chaos [drill ...] [--pg-port 5441] [--redis-port 6391]

Writes bench/results/chaos.json and prints one table; exits 1 if any drill broke an invariant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench.chaos.drills import PLANS, run
from bench.chaos.stack import World
from bench.servers import RESULTS


def table(reports: list[dict]) -> str:
    lines = [
        "| drill | requests | ok | errors by kind | refusal after recovery | money | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in reports:
        for model, s in r["by_model"].items():
            errors = ", ".join(f"{k}: {n}" for k, n in sorted(s["errors"].items())) or "none"
            m = r["money"]
            money = (
                f"{m['usage_entries']} charges for {m['costed_rows']} costed rows, "
                f"{m['double_charges']} double, balance {'=' if m['balance_is_credits_minus_charges'] else '!='} "
                "credits - charges"
            )
            verdict = "ok" if not r["failures"] else "FAILED: " + "; ".join(r["failures"])
            lines.append(
                f"| {r['drill']} ({model}) | {s['requests']} | {s['ok']} | {errors} | "
                f"{s['refusal_after_recovery_s']} s | {money} | {verdict} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("drills", nargs="*", choices=[*PLANS, []], help="default: all")
    parser.add_argument("--pg-port", type=int, default=5441)
    parser.add_argument("--redis-port", type=int, default=6391)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    world = World(RESULTS / "chaos-logs", args.pg_port, args.redis_port)
    reports = []
    started = time.monotonic()
    try:
        world.up()
        for name in args.drills or list(PLANS):
            print(f"== {name}", file=sys.stderr, flush=True)
            report = run(world, PLANS[name])
            print(json.dumps(report, indent=1), file=sys.stderr, flush=True)
            reports.append(report)
    finally:
        world.down()
    (RESULTS / "chaos.json").write_text(json.dumps(reports, indent=1))
    print(table(reports))
    print(f"\n{len(reports)} drills in {time.monotonic() - started:.0f} s; details in {RESULTS / 'chaos.json'}")
    return 1 if any(r["failures"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
