from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context

from lib.site_url import site_url


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):  # type: ignore[no-untyped-def]
        from accounts.orgs import create_personal_org

        user = super().save_user(request, user, form, commit=commit)
        if commit:
            create_personal_org(user)
        return user

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # The Site row was written at migrate time; the e-mail names the address this site answers on now.
        domain = urlsplit(site_url(allauth_context.request)).netloc
        context = {"current_site": SimpleNamespace(name="qlaud", domain=domain), **context}
        super().send_mail(template_prefix, email, context)
