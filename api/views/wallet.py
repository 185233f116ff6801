"""/api/v1/wallet/: balance, ledger, Checkout top-ups, money settings.

Any member reads the balance and may add money (as on the dashboard); the money settings are
changed by owners only (wallet.autotopup enforces it for the dashboard and the API alike).
"""

from __future__ import annotations

import logging

import stripe
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import access_of
from api.pagination import NewestFirst
from api.serializers import (
    CheckoutSerializer,
    LedgerEntrySerializer,
    TopupSerializer,
    WalletSerializer,
    WalletSettingsSerializer,
)
from wallet import ledger, payments
from wallet.autotopup import configure_auto_topup, set_low_balance_alert
from wallet.models import LedgerEntry
from wallet.money import usd_to_micros

log = logging.getLogger(__name__)


class PaymentsUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "Top-ups are not available: this server has no Stripe key configured."
    default_code = "payments_unavailable"


class StripeFailed(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "Stripe could not start the checkout. Nothing was charged; please try again."
    default_code = "stripe_error"


class WalletView(APIView):
    @extend_schema(summary="The wallet's balance", tags=["wallet"], responses={200: WalletSerializer})
    def get(self, request: Request) -> Response:
        return Response(WalletSerializer(ledger.ensure_wallet(access_of(request).org.pk)).data)


@extend_schema(summary="Ledger entries, newest first (members: top-ups and adjustments only)", tags=["wallet"])
class LedgerList(generics.ListAPIView):
    serializer_class = LedgerEntrySerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[LedgerEntry]:
        access = access_of(self.request)
        entries = LedgerEntry.objects.filter(wallet__org=access.org)
        if not access.is_manager:  # the dashboard's history: no per-request usage of others' keys
            entries = entries.exclude(kind=LedgerEntry.Kind.USAGE)
        return entries


class TopupView(APIView):
    @extend_schema(
        summary="Start a Stripe Checkout top-up; send the customer to checkout_url",
        tags=["wallet"],
        request=TopupSerializer,
        responses={201: CheckoutSerializer},
    )
    def post(self, request: Request) -> Response:
        access = access_of(request)
        form = TopupSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        if not payments.api_key():
            raise PaymentsUnavailable()
        ledger.ensure_wallet(access.org.pk)
        micros = usd_to_micros(form.validated_data["amount_usd"])
        try:
            url = payments.create_topup_session(access.org, micros, access.membership.user.email)
        except stripe.StripeError as error:
            log.warning("checkout session failed for org %s: %s", access.org.pk, error)
            raise StripeFailed() from error
        return Response({"checkout_url": url}, status=status.HTTP_201_CREATED)


class WalletSettingsView(APIView):
    @extend_schema(summary="Low-balance alert and auto top-up", tags=["wallet"], responses=WalletSettingsSerializer)
    def get(self, request: Request) -> Response:
        return Response(WalletSettingsSerializer(ledger.ensure_wallet(access_of(request).org.pk)).data)

    @extend_schema(
        summary="Change the low-balance alert or auto top-up (owners only)",
        tags=["wallet"],
        request=WalletSettingsSerializer,
        responses=WalletSettingsSerializer,
    )
    def patch(self, request: Request) -> Response:
        access = access_of(request)
        form = WalletSettingsSerializer(data=request.data, partial=True)
        form.is_valid(raise_exception=True)
        wallet, data = ledger.ensure_wallet(access.org.pk), form.validated_data
        if not access.is_owner:
            raise exceptions.PermissionDenied("Only the org's owners can change money settings.", code="owner_required")
        if "low_balance_threshold" in data:
            wallet = set_low_balance_alert(access.membership, data["low_balance_threshold"])
        auto = {"auto_topup_enabled", "auto_topup_threshold", "auto_topup_amount"}
        if auto & set(data):
            wallet = configure_auto_topup(
                access.membership,
                enabled=data.get("auto_topup_enabled", wallet.auto_topup_enabled),
                threshold=data.get("auto_topup_threshold", wallet.auto_topup_threshold),
                amount=data.get("auto_topup_amount", wallet.auto_topup_amount),
            )
        return Response(WalletSettingsSerializer(wallet).data)
