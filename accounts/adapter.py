from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):  # type: ignore[no-untyped-def]
        from accounts.orgs import create_personal_org

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            create_personal_org(user)
        return user
