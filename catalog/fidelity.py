"""A host's measured fidelity: which conformance cases it passed when staff last ran `manage.py fidelity`.

The record lives on `Host.fidelity` as `{"checked": ISO date-time, "cases": {case: {"ok": bool | None,
"detail": str}}}`; `ok` None means the case does not apply to the host (no native count_tokens, no reasoning).
The suite itself runs the gateway's provider modules, so it lives in gateway/fidelity.py; this module only names
the cases and reads and writes the record. Pure except `record`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

CASES = (
    "tool_call",
    "streamed_tool_arguments",
    "parallel_tool_calls",
    "reasoning_with_tools",
    "json_mode",
    "cache_accounting",
    "count_tokens",
)
# What `:nitro` asks of a host before it may come first: agents' tool loops work on it.
TOOL_CASES = ("tool_call", "streamed_tool_arguments", "parallel_tool_calls")


def outcomes(record: Mapping[str, Any] | None) -> dict[str, bool | None]:
    """case -> passed (None: not applicable); only the cases the record holds."""
    cases = (record or {}).get("cases") or {}
    return {name: cases[name].get("ok") for name in CASES if isinstance(cases.get(name), dict)}


def tools_passed(record: Mapping[str, Any] | None) -> bool:
    found = outcomes(record)
    return all(found.get(name) is True for name in TOOL_CASES)


def summary(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What /v1/catalog shows: when it was checked, what passed and what failed."""
    if not record or not record.get("cases"):
        return None
    found = outcomes(record)
    return {
        "checked": record.get("checked"),
        "passed": [name for name, ok in found.items() if ok is True],
        "failed": [name for name, ok in found.items() if ok is False],
        "tools": tools_passed(record),
    }


def make_record(cases: Mapping[str, tuple[bool | None, str]], at: datetime) -> dict[str, Any]:
    return {
        "checked": at.isoformat(),
        "cases": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in cases.items()},
    }


def record(host_id: int, cases: Mapping[str, tuple[bool | None, str]], at: datetime) -> None:
    """Store a run's results on the host (a save, so every worker's catalog snapshot refreshes)."""
    from catalog.models import Host

    host = Host.objects.get(pk=host_id)
    host.fidelity = make_record(cases, at)
    host.save(update_fields=["fidelity", "updated"])
