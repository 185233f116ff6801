"""The management API, included at /api/v1/ by qlaud/urls.py, and its rendered reference."""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from api.views import byok, keys, openrouter, team, usage, wallet

urlpatterns = [
    path("keys/", keys.KeyList.as_view(), name="api_keys"),
    path("keys/<int:pk>/", keys.KeyDetail.as_view(), name="api_key_detail"),
    path("management-keys/", keys.ManagementKeyList.as_view(), name="api_management_keys"),
    path("management-keys/<int:pk>/", keys.ManagementKeyDetail.as_view(), name="api_management_key_detail"),
    path("usage/", usage.UsageList.as_view(), name="api_usage"),
    path("usage/daily/", usage.DailyUsage.as_view(), name="api_usage_daily"),
    path("usage/export.csv", usage.UsageCsv.as_view(), name="api_usage_csv"),
    path("usage/<str:request_id>/", usage.UsageReceipt.as_view(), name="api_usage_receipt"),
    path("wallet/", wallet.WalletView.as_view(), name="api_wallet"),
    path("wallet/ledger/", wallet.LedgerList.as_view(), name="api_wallet_ledger"),
    path("wallet/topup/", wallet.TopupView.as_view(), name="api_wallet_topup"),
    path("wallet/settings/", wallet.WalletSettingsView.as_view(), name="api_wallet_settings"),
    path("team/members/", team.MemberList.as_view(), name="api_members"),
    path("team/members/<int:pk>/", team.MemberDetail.as_view(), name="api_member_detail"),
    path("team/invitations/", team.InvitationList.as_view(), name="api_invitations"),
    path("team/invitations/<int:pk>/", team.InvitationDetail.as_view(), name="api_invitation_detail"),
    path("aliases/", team.AliasList.as_view(), name="api_aliases"),
    path("aliases/<int:pk>/", team.AliasDetail.as_view(), name="api_alias_detail"),
    path("byok/", byok.ByokList.as_view(), name="api_byok"),
    path("byok/<int:pk>/", byok.ByokDetail.as_view(), name="api_byok_detail"),
    path("key", openrouter.KeyInfo.as_view(), name="api_openrouter_key"),
    path("credits", openrouter.Credits.as_view(), name="api_openrouter_credits"),
    path(
        "schema/",
        SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[], throttle_classes=[]),
        name="api_schema",
    ),
]


class RedocView(SpectacularRedocView):
    """Redoc with the policy it needs: its styles are injected at run time and its search runs in a blob: worker."""

    def dispatch(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]  # not get: it is kept out of the schema
        response = super().dispatch(request, *args, **kwargs)
        response["Content-Security-Policy"] = settings.REDOC_CONTENT_SECURITY_POLICY
        return response


# Served under /docs/: Redoc's files come from drf-spectacular-sidecar's static files, not a CDN.
docs_urlpatterns = [
    path(
        "reference/",
        RedocView.as_view(url_name="api_schema", authentication_classes=[], permission_classes=[], throttle_classes=[]),
        name="management_api_reference",
    ),
]
