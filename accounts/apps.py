from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        from allauth.account.signals import user_signed_up

        user_signed_up.connect(_personal_org_on_signup, dispatch_uid="accounts.personal_org")


def _personal_org_on_signup(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Social sign-ups skip the account adapter's save_user; every new user still gets an org."""
    from accounts.orgs import create_personal_org

    create_personal_org(user)
