"""GET /api/v1/key and /api/v1/credits in OpenRouter's shapes, for tools written against it.

As on OpenRouter they are read with the normal API key (ak_...); a management key or a dashboard
session works too. OpenRouter gives USD as JSON numbers, so these do too, converted from integer
micro-dollars only here at the edge; qlaud's own /v1/key and /v1/credits give exact strings.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.db.models import Sum
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.keys import KEY_PREFIX, KeyContext, KeyRefused, raw_key_from_headers, verify_key
from api.access import Access, ManagementKeyAuthentication, OrgSessionAuthentication
from wallet import ledger
from wallet.models import LedgerEntry, Wallet
from wallet.money import MICROS_PER_USD

RESETS = {"day": "daily", "week": "weekly", "month": "monthly", "never": None}


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[None, KeyContext] | None:
        raw = raw_key_from_headers(request.headers)
        if not raw or not raw.startswith(KEY_PREFIX):
            return None
        try:
            return None, async_to_sync(verify_key)(raw)
        except KeyRefused as refused:
            raise exceptions.AuthenticationFailed(refused.message, code="invalid_key") from refused

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="qlaud"'


class AnyKey:
    authentication_classes = [ApiKeyAuthentication, ManagementKeyAuthentication, OrgSessionAuthentication]

    def check_permissions(self, request: Request) -> None:
        if request.auth is None:
            raise exceptions.NotAuthenticated("Send an API key as Authorization: Bearer ak_...")


def dollars(micros: int | None) -> Decimal | None:
    return None if micros is None else Decimal(micros) / MICROS_PER_USD


def _org_id(auth: KeyContext | Access) -> int:
    return auth.org_id if isinstance(auth, KeyContext) else auth.org.pk


class KeyInfo(AnyKey, APIView):
    @extend_schema(summary="The calling key, OpenRouter-shaped", tags=["openrouter"], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        auth = request.auth
        data = _api_key_info(auth) if isinstance(auth, KeyContext) else _management_info(auth)
        return Response({"data": data})


def _api_key_info(ctx: KeyContext) -> dict[str, Any]:
    spent = {period: ledger.key_period_spend(ctx.key_id, period) for period in ("day", "week", "month", "never")}
    usage = spent[ctx.limit_period]
    remaining = None if ctx.spend_limit is None else max(ctx.spend_limit - usage, 0)
    return {
        "label": ctx.name,
        "usage": dollars(usage),
        "usage_daily": dollars(spent["day"]),
        "usage_weekly": dollars(spent["week"]),
        "usage_monthly": dollars(spent["month"]),
        "limit": dollars(ctx.spend_limit),
        "limit_remaining": dollars(remaining),
        "limit_reset": RESETS.get(ctx.limit_period),
        "is_free_tier": False,
        "is_provisioning_key": False,
        "rate_limit": {"requests": ctx.rpm_limit if ctx.rpm_limit is not None else -1, "interval": "1m"},
        "expires_at": ctx.expires_at.isoformat() if ctx.expires_at else None,
    }


def _management_info(access: Access) -> dict[str, Any]:
    label = access.key.name if access.key else access.membership.user.email
    return {
        "label": label,
        "usage": 0,
        "limit": None,
        "limit_remaining": None,
        "limit_reset": None,
        "is_free_tier": False,
        "is_provisioning_key": True,
        "rate_limit": {"requests": -1, "interval": "1m"},
    }


class Credits(AnyKey, APIView):
    @extend_schema(
        summary="The org's credits, OpenRouter-shaped (total_credits - total_usage = balance)",
        tags=["openrouter"],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request: Request) -> Response:
        org_id = _org_id(request.auth)
        wallet = Wallet.objects.filter(org_id=org_id).first()
        balance = wallet.balance if wallet else 0
        usage = LedgerEntry.objects.filter(wallet__org_id=org_id, kind=LedgerEntry.Kind.USAGE)
        used = -(usage.aggregate(s=Sum("amount"))["s"] or 0)
        return Response({"data": {"total_credits": dollars(balance + used), "total_usage": dollars(used)}})
