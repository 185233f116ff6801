"""Who is calling and what they may do: authentication, the role rules, throttling.

Every authenticated request carries an `Access` in `request.auth`: the membership it acts as and,
for a management key, the key. A dashboard session acts as the signed-in user in their current
org (with DRF's CSRF check); a management key acts as its creator's current membership in the
key's org, limited to reads when the key's scope is `read`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from accounts.keys import KEY_PREFIX, MANAGEMENT_KEY_PREFIX, KeyRefused, raw_key_from_headers
from accounts.management_keys import management_key_for
from accounts.models import ManagementKey, Membership, Org

API_KEY_ON_MANAGEMENT_API = (
    "This is an API key (ak_...) for calling models; the management API takes a management key (mk_...) "
    "or a signed-in dashboard session."
)


@dataclass(frozen=True)
class Access:
    membership: Membership
    key: ManagementKey | None = None

    @property
    def org(self) -> Org:
        return self.membership.org

    @property
    def is_manager(self) -> bool:
        return self.membership.is_manager

    @property
    def is_owner(self) -> bool:
        return self.membership.role == Membership.Role.OWNER

    @property
    def can_write(self) -> bool:
        return self.key is None or self.key.scope == ManagementKey.Scope.WRITE


class ManagementKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer mk_...` (or `x-api-key`). An ak_ key is refused with its own message."""

    def authenticate(self, request: Request) -> tuple[Any, Access] | None:
        raw = raw_key_from_headers(request.headers)
        if not raw:
            return None
        if raw.startswith(KEY_PREFIX):
            raise exceptions.AuthenticationFailed(API_KEY_ON_MANAGEMENT_API, code="api_key_not_accepted")
        if not raw.startswith(MANAGEMENT_KEY_PREFIX):
            raise exceptions.AuthenticationFailed("Invalid management key.", code="invalid_key")
        try:
            key, membership = management_key_for(raw)
        except KeyRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message, code="invalid_key") from refused
        return membership.user, Access(membership, key)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="qlaud management API"'


class OrgSessionAuthentication(authentication.SessionAuthentication):
    """The dashboard's session (CSRF enforced on writes), acting in the user's current org."""

    def authenticate(self, request: Request) -> tuple[Any, Access] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        membership = getattr(request._request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of any org yet.", code="no_org")
        return result[0], Access(membership)


def access_of(request: Request) -> Access:
    access = request.auth
    if not isinstance(access, Access):
        raise exceptions.NotAuthenticated()
    return access


class OrgAccess(permissions.BasePermission):
    """Authenticated into an org; writes need a session or a read-write management key."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = access_of(request)
        if request.method not in permissions.SAFE_METHODS and not access.can_write:
            raise exceptions.PermissionDenied("This management key is read-only.", code="read_only_key")
        return True


def require_manager(access: Access) -> None:
    if not access.is_manager:
        raise exceptions.PermissionDenied("Only the org's owners and admins can do this.", code="role_required")


def require_owner(access: Access) -> None:
    if not access.is_owner:
        raise exceptions.PermissionDenied("Only the org's owners can do this.", code="owner_required")


class ManagementKeyThrottle(throttling.SimpleRateThrottle):
    """MANAGEMENT_API_RATE per management key, or per user for a session."""

    scope = "management"

    def get_rate(self) -> str:
        return settings.MANAGEMENT_API_RATE

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        access = request.auth
        if isinstance(access, Access):
            ident = f"mk{access.key.pk}" if access.key else f"user{access.membership.user_id}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
