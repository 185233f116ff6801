"""Per-org model aliases for the gateway: one query per org per catalog version, then memory.

Saving or deleting a `ModelAlias` bumps the catalog version (catalog.signals), so every worker
sees a change within a second. Built-in names (routing.DEFAULT_ALIASES) are applied by
routing.resolve() after these, so an org's own alias always wins.
"""

from __future__ import annotations

from catalog.snapshot import get_snapshot
from lib.threads import in_pool

_by_org: dict[int, tuple[int, dict[str, str]]] = {}


def load_org_aliases(org_id: int) -> dict[str, str]:
    from catalog.models import ModelAlias

    return dict(ModelAlias.objects.filter(org_id=org_id).values_list("alias", "model__public_id"))


async def org_aliases(org_id: int) -> dict[str, str]:
    """alias -> catalog model id for one org (what resolve(..., aliases=...) takes)."""
    snap_version = (await get_snapshot()).version
    cached = _by_org.get(org_id)
    if cached is not None and cached[0] == snap_version:
        return cached[1]
    aliases = await in_pool(load_org_aliases)(org_id)
    _by_org[org_id] = (snap_version, aliases)
    return aliases


def reset() -> None:
    _by_org.clear()
