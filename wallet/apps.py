from __future__ import annotations

from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"

    def ready(self) -> None:
        # Imported here, not at the top: models and receivers need Django's app registry, which is ready only now.
        import stripe
        from django.conf import settings
        from django.db.models.signals import post_save

        from accounts.models import Org
        from wallet import stripe_events, tasks  # noqa: F401  (register the dj-stripe and ledger receivers)
        from wallet.ledger import create_wallet_for_org

        post_save.connect(create_wallet_for_org, sender=Org, dispatch_uid="wallet.create_wallet_for_org")
        if settings.STRIPE_API_BASE:
            # Tests and local development point the official client at a fake Stripe.
            stripe.api_base = settings.STRIPE_API_BASE
