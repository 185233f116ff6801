"""Bump the catalog version on every catalog write (now, and again once the transaction commits,
so no worker can cache a snapshot read between the write and its commit)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from catalog import version
from catalog.models import Host, Model, ModelAlias, OrgCredential, PriceVersion, Provider


def _changed(sender: Any, **kwargs: Any) -> None:
    version.bump()
    transaction.on_commit(version.bump)


def connect() -> None:
    for model in (Provider, Model, Host, PriceVersion, ModelAlias, OrgCredential):
        post_save.connect(_changed, sender=model, dispatch_uid=f"catalog-bump-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"catalog-bump-delete-{model.__name__}")
