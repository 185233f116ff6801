"""Per-org model aliases for the gateway: one query per org per catalog version, then memory.

Saving or deleting a `ModelAlias` bumps the catalog version (catalog.signals), so every worker
sees a change within a second. Built-in names (routing.DEFAULT_ALIASES) are applied by
routing.resolve() after these, so an org's own alias always wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from catalog.snapshot import get_snapshot
from lib.threads import in_pool

if TYPE_CHECKING:
    from accounts.models import Org
    from catalog.models import Model, ModelAlias

ALIAS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,99}$"

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


class AliasTaken(Exception):
    pass


def add_alias(org: Org, alias: str, model: Model) -> ModelAlias:
    """`alias` now means `model` for this org (the dashboard and the management API both call this)."""
    from catalog.models import ModelAlias

    if ModelAlias.objects.filter(org=org, alias=alias).exists():
        raise AliasTaken("This alias already exists; delete it first to point it elsewhere.")
    return ModelAlias.objects.create(org=org, alias=alias, model=model)


def delete_alias(alias: ModelAlias) -> None:
    alias.delete()


def reset() -> None:
    _by_org.clear()
