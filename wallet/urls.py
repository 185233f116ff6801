"""Wallet URLs, included at the root: the account API under /v1/ and dashboard pages."""

from __future__ import annotations

from django.urls import path

from wallet import api
from wallet.views import topup, usage

urlpatterns = [
    path("v1/credits", api.credits, name="api_credits"),
    path("v1/key", api.key, name="api_key"),
    path("v1/generation", api.generation, name="api_generation"),
    path("dashboard/wallet/", topup.wallet_page, name="wallet"),
    path("dashboard/wallet/topup/", topup.topup, name="wallet_topup"),
    path("dashboard/wallet/success", topup.topup_success, name="wallet_success"),
    path("dashboard/wallet/alert/", topup.low_balance, name="wallet_low_balance"),
    path("dashboard/wallet/auto-topup/", topup.auto_topup, name="wallet_auto_topup"),
    path("dashboard/wallet/card/", topup.save_card, name="wallet_card"),
    path("dashboard/usage/", usage.usage_page, name="usage"),
    path("dashboard/usage/export.csv", usage.usage_csv, name="usage_csv"),
    path("dashboard/usage/<str:request_id>/", usage.receipt, name="usage_receipt"),
]
