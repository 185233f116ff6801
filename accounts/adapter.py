from __future__ import annotations

import ipaddress
from types import SimpleNamespace
from urllib.parse import urlsplit

from allauth import app_settings as allauth_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.http import HttpRequest

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

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: object) -> str:
        """The "key" of the login_failed rate limit: the account *and* the client (settings.ACCOUNT_RATE_LIMITS).

        allauth keys it on the address alone, so a stranger's wrong passwords locked the real user out;
        here they only throttle the stranger. allauth also clears this key after a password reset.
        """
        return f"{super()._get_login_attempts_cache_key(request, **credentials)}:{self._client(request)}"

    def _client(self, request: HttpRequest) -> str:
        """The client's address as allauth's per-ip limits count it: IPv6 by network (one host owns a /64)."""
        ip = self.get_client_ip(request)
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return ip
        if address.version == 6:
            return str(ipaddress.IPv6Network(f"{ip}/{allauth_settings.RATE_LIMIT_IPV6_PREFIX}", strict=False))
        return ip
