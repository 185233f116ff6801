"""What the management API reads and writes. Money is integer micro-dollars (`*_micros`), with an
exact decimal string in USD beside it (`*_usd`) on reads; never a float."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.forms import MODEL_ID
from accounts.models import ApiKey, Invitation, ManagementKey, Membership
from catalog.aliases import ALIAS_PATTERN
from catalog.models import Model, ModelAlias, OrgCredential, Provider
from wallet.api import usd
from wallet.models import LedgerEntry, UsageRollup, Wallet
from wallet.money import usd_to_micros

MIN_SPEND_LIMIT = 10_000  # $0.01, as on the dashboard


class CatalogSlugField(serializers.SlugRelatedField):
    """A catalog object named by its slug. PostgreSQL refuses NUL in text, so a value holding one is
    "does not exist" here instead of a database error."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\0"))
        return super().to_internal_value(data)


class UsdField(serializers.ReadOnlyField):
    """Integer micro-dollars read from `source`, shown as an exact decimal string in USD."""

    def to_representation(self, value: int | None) -> str | None:
        return usd(value)


extend_schema_field({"type": "string", "nullable": True, "example": "1.250000"})(UsdField)


class RateField(serializers.ReadOnlyField):
    """The name of the price's rate that applied, or null when the host has one price (as /v1/generation says)."""

    def to_representation(self, value: str) -> str | None:
        return value or None


extend_schema_field({"type": "string", "nullable": True, "example": "off-peak"})(RateField)


class ApiKeySerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="display_prefix", read_only=True)
    status = serializers.ChoiceField(choices=["active", "revoked", "expired"], read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True, default=None)
    spend_limit_micros = serializers.IntegerField(
        source="spend_limit", required=False, allow_null=True, min_value=MIN_SPEND_LIMIT, max_value=10**15
    )
    spend_limit_usd = UsdField(source="spend_limit")
    usage_micros = serializers.SerializerMethodField(help_text="Spent in the current limit period (micro-dollars).")
    allowed_models = serializers.ListField(
        child=serializers.RegexField(MODEL_ID.pattern, max_length=200), required=False, max_length=500
    )
    rpm_limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1_000_000)
    concurrency_limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=10_000)

    class Meta:
        model = ApiKey
        fields = [
            "id", "name", "prefix", "status", "spend_limit_micros", "spend_limit_usd", "limit_period",
            "usage_micros", "allowed_models", "rpm_limit", "concurrency_limit", "expires_at", "created_by",
            "created", "last_used_at", "revoked_at",
        ]  # fmt: skip
        read_only_fields = ["created", "last_used_at", "revoked_at"]

    def get_usage_micros(self, key: ApiKey) -> int:
        return self.context.get("spend", {}).get(key.pk, 0)

    def validate_allowed_models(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate_expires_at(self, value: Any) -> Any:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Choose a time in the future.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # As on the dashboard: no spend limit means no period; a new limit defaults to monthly.
        if "spend_limit" in attrs and attrs["spend_limit"] is None:
            attrs["limit_period"] = ApiKey.Period.NEVER
        elif attrs.get("spend_limit") is not None and self.instance is None and "limit_period" not in attrs:
            attrs["limit_period"] = ApiKey.Period.MONTH
        return attrs


class CreatedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The raw key (ak_...): shown once, never again.")

    class Meta(ApiKeySerializer.Meta):
        fields = ["key", *ApiKeySerializer.Meta.fields]


class ManagementKeySerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="display_prefix", read_only=True)
    status = serializers.ChoiceField(choices=["active", "revoked"], read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = ManagementKey
        fields = ["id", "name", "prefix", "scope", "status", "created_by", "created", "last_used_at", "revoked_at"]
        read_only_fields = ["created", "last_used_at", "revoked_at"]


class CreatedManagementKeySerializer(ManagementKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The raw key (mk_...): shown once, never again.")

    class Meta(ManagementKeySerializer.Meta):
        fields = ["key", *ManagementKeySerializer.Meta.fields]


class RequestLogSerializer(serializers.Serializer):
    request_id = serializers.CharField()
    created = serializers.DateTimeField()
    api_key_id = serializers.IntegerField(allow_null=True)
    surface = serializers.CharField()
    stream = serializers.BooleanField()
    requested_model = serializers.CharField()
    model = serializers.CharField()
    provider = serializers.CharField()
    status = serializers.IntegerField()
    error_type = serializers.CharField()
    finish_reason = serializers.CharField()
    input_tokens = serializers.IntegerField()
    cache_read_tokens = serializers.IntegerField()
    cache_write_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    usage_estimated = serializers.BooleanField()
    byok = serializers.BooleanField(help_text="Served on the org's own provider key (BYOK).")
    rate = RateField(help_text="The price's rate that applied (e.g. peak, off-peak, over 200k); null: its only price.")
    cost_micros = serializers.IntegerField(source="cost")
    cost_usd = UsdField(source="cost")
    upstream_cost_micros = serializers.IntegerField(source="upstream_cost")
    ttft_ms = serializers.FloatField(allow_null=True)
    total_ms = serializers.FloatField(allow_null=True)


class RollupSerializer(serializers.ModelSerializer):
    day = serializers.DateTimeField(source="period_start")
    cost_micros = serializers.IntegerField(source="cost")
    cost_usd = UsdField(source="cost")
    upstream_cost_micros = serializers.IntegerField(source="upstream_cost")

    class Meta:
        model = UsageRollup
        fields = [
            "day", "api_key", "model", "requests", "input_tokens", "cache_read_tokens", "cache_write_tokens",
            "output_tokens", "reasoning_tokens", "cost_micros", "cost_usd", "upstream_cost_micros",
        ]  # fmt: skip


class WalletSerializer(serializers.ModelSerializer):
    currency = serializers.SerializerMethodField()
    balance_micros = serializers.IntegerField(source="balance")
    balance_usd = UsdField(source="balance")
    on_hold_micros = serializers.IntegerField(source="held")
    available_micros = serializers.IntegerField(source="available")
    available_usd = UsdField(source="available")
    has_card = serializers.SerializerMethodField()

    class Meta:
        model = Wallet
        fields = [
            "currency", "balance_micros", "balance_usd", "on_hold_micros", "available_micros", "available_usd",
            "has_card",
        ]  # fmt: skip

    def get_currency(self, wallet: Wallet) -> str:
        return "USD"

    def get_has_card(self, wallet: Wallet) -> bool:
        return bool(wallet.stripe_payment_method_id)


class WalletSettingsSerializer(serializers.Serializer):
    low_balance_threshold_micros = serializers.IntegerField(
        source="low_balance_threshold", min_value=0, max_value=10**12, required=False
    )
    auto_topup_enabled = serializers.BooleanField(required=False)
    auto_topup_threshold_micros = serializers.IntegerField(
        source="auto_topup_threshold", min_value=0, max_value=10**12, required=False
    )
    auto_topup_amount_micros = serializers.IntegerField(
        source="auto_topup_amount", min_value=0, max_value=10**12, required=False
    )
    auto_topup_last_error = serializers.CharField(read_only=True)

    def validate_auto_topup_amount_micros(self, value: int) -> int:
        low, high = usd_to_micros(settings.TOPUP_MIN_USD), usd_to_micros(settings.TOPUP_MAX_USD)
        if not low <= value <= high:
            raise serializers.ValidationError(f"Between ${settings.TOPUP_MIN_USD} and ${settings.TOPUP_MAX_USD}.")
        return value


class LedgerEntrySerializer(serializers.ModelSerializer):
    amount_micros = serializers.IntegerField(source="amount")
    amount_usd = UsdField(source="amount")
    balance_after_micros = serializers.IntegerField(source="balance_after")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "created",
            "kind",
            "amount_micros",
            "amount_usd",
            "balance_after_micros",
            "reference",
            "api_key",
        ]


class TopupSerializer(serializers.Serializer):
    amount_usd = serializers.DecimalField(max_digits=9, decimal_places=2, help_text='e.g. "20.00"')

    def validate_amount_usd(self, value: Any) -> Any:
        low, high = settings.TOPUP_MIN_USD, settings.TOPUP_MAX_USD
        if not low <= value <= high:
            raise serializers.ValidationError(f"Top up between ${low} and ${high}.")
        return value


class CheckoutSerializer(serializers.Serializer):
    checkout_url = serializers.URLField()


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "role", "created"]
        read_only_fields = ["created"]


class InvitationSerializer(serializers.ModelSerializer):
    invited_by = serializers.EmailField(source="invited_by.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created"]
        read_only_fields = ["created"]


class AliasSerializer(serializers.ModelSerializer):
    alias = serializers.RegexField(ALIAS_PATTERN, max_length=100)
    model = CatalogSlugField(slug_field="public_id", queryset=Model.objects.filter(enabled=True))

    class Meta:
        model = ModelAlias
        fields = ["id", "alias", "model"]


class ByokSerializer(serializers.ModelSerializer):
    """An org's own provider key (BYOK). The key is write-only: answers show only its last four characters."""

    provider = CatalogSlugField(slug_field="slug", queryset=Provider.objects.filter(enabled=True))
    key = serializers.CharField(
        write_only=True, required=False, max_length=4000, help_text="The key, for providers other than Bedrock/Vertex"
    )
    access_key_id = serializers.CharField(write_only=True, required=False, max_length=128, help_text="Bedrock")
    secret_access_key = serializers.CharField(write_only=True, required=False, max_length=256, help_text="Bedrock")
    service_account = serializers.JSONField(
        write_only=True, required=False, help_text="Vertex: the service account key JSON (an object or its text)"
    )
    project = serializers.CharField(write_only=True, required=False, max_length=64, help_text="Vertex")
    region = serializers.CharField(
        write_only=True, required=False, max_length=64, help_text="Bedrock (e.g. us-east-1) or Vertex (e.g. global)"
    )
    mode = serializers.ChoiceField(choices=OrgCredential.Mode.choices, default=OrgCredential.Mode.MINE_FIRST)

    class Meta:
        model = OrgCredential
        fields = [
            "id",
            "provider",
            "key",
            "access_key_id",
            "secret_access_key",
            "service_account",
            "project",
            "region",
            "mode",
            "last4",
            "label",
            "last_error",
            "last_error_at",
            "created",
        ]
        read_only_fields = ["last4", "label", "last_error", "last_error_at", "created"]


class ByokModeSerializer(serializers.Serializer):
    """The one thing a stored own key lets you change: use it first (mine_first) or only it (only_mine)."""

    mode = serializers.ChoiceField(choices=OrgCredential.Mode.choices)
