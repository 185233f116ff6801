from __future__ import annotations

from typing import Any


def create_wallet_for_org(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    """Every org gets a wallet. The ledger also creates one lazily, so a missed signal is harmless."""
    if created and not kwargs.get("raw"):
        from wallet.ledger import ensure_wallet

        ensure_wallet(instance.pk)
