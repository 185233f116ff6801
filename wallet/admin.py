from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from wallet.models import Hold, LedgerDrift, LedgerEntry, UsageRollup, Wallet


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows are written by wallet/ledger.py only: the admin can look, never touch."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ("org", "balance", "held", "low_balance_threshold", "auto_topup_enabled", "updated")
    search_fields = ("org__name", "org__slug", "stripe_customer_id")


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("created", "wallet", "kind", "amount", "balance_after", "reference")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "reference")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    list_display = ("created", "wallet", "request_id", "amount", "status", "charged")
    list_filter = ("status",)
    search_fields = ("request_id",)


@admin.register(LedgerDrift)
class LedgerDriftAdmin(ReadOnlyAdmin):
    list_display = ("detected", "wallet", "stored_balance", "entries_sum", "stored_held", "open_holds_sum", "resolved")


@admin.register(UsageRollup)
class UsageRollupAdmin(ReadOnlyAdmin):
    list_display = ("period_start", "granularity", "org", "api_key", "model", "requests", "cost")
