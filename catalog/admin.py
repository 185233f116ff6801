from __future__ import annotations

from django.contrib import admin

from catalog.models import Host, Model, ModelAlias, PriceVersion, ProbeSample, Provider, SyncReport


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "protocol",
        "base_url",
        "api_key_env",
        "has_stored_key",
        "via_cloudflare",
        "aig_opt_out",
        "enabled",
    )
    list_filter = ("protocol", "via_cloudflare", "aig_opt_out", "enabled")
    search_fields = ("slug", "name")
    exclude = ("api_key_encrypted",)  # set with `manage.py setprovider SLUG --api-key`, never shown

    @admin.display(boolean=True, description="stored key")
    def has_stored_key(self, obj: Provider) -> bool:
        return bool(obj.api_key_encrypted)


class HostInline(admin.TabularInline):
    model = Host
    extra = 0
    fields = ("provider", "upstream_model", "price", "priority", "enabled", "retired_at")
    readonly_fields = ("price", "retired_at")


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("public_id", "name", "family", "author", "context_length", "created", "enabled", "replacement")
    list_filter = ("family", "author", "enabled")
    search_fields = ("public_id", "name")
    raw_id_fields = ("replacement",)
    inlines = [HostInline]


class PriceVersionInline(admin.TabularInline):
    model = PriceVersion
    extra = 0
    fields = ("input", "output", "cache_read", "cache_write", "valid_from", "source", "as_of", "verified", "note")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # past versions are shown read-only; a price change is a new row

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class RetiredFilter(admin.SimpleListFilter):
    title = "retired upstream"
    parameter_name = "retired"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Retired"), ("no", "Live")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(retired_at__isnull=self.value() == "no")
        return queryset


class PriceVerifiedFilter(admin.SimpleListFilter):
    title = "current price verified"
    parameter_name = "price_verified"

    def lookups(self, request, model_admin) -> list[tuple[str, str]]:
        return [("yes", "Verified"), ("no", "Not verified")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(price__verified=self.value() == "yes")
        return queryset


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = (
        "model",
        "provider",
        "upstream_model",
        "priority",
        "enabled",
        "retired_at",
        "price",
        "price_verified",
        "price_as_of",
    )
    list_filter = (RetiredFilter, PriceVerifiedFilter, "provider", "enabled")
    readonly_fields = ("fidelity",)
    search_fields = ("model__public_id", "upstream_model")
    list_select_related = ("model", "provider", "price")
    inlines = [PriceVersionInline]

    @admin.display(boolean=True, description="verified")
    def price_verified(self, obj: Host) -> bool | None:
        return obj.price.verified if obj.price else None

    @admin.display(description="as of")
    def price_as_of(self, obj: Host):
        return obj.price.as_of if obj.price else None

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        # A price version added inline becomes the host's current price.
        host = form.instance
        latest = host.price_versions.order_by("-id").first()
        if latest is not None and host.price_id != latest.id:
            host.price = latest
            host.save(update_fields=["price", "updated"])


@admin.register(PriceVersion)
class PriceVersionAdmin(admin.ModelAdmin):
    list_display = ("host", "input", "output", "cache_read", "cache_write", "valid_from", "verified")
    list_select_related = ("host__model", "host__provider")
    list_filter = ("verified",)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # receipts point at versions: add a new one instead of editing


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ("alias", "model", "org")
    search_fields = ("alias", "org__name")
    list_select_related = ("model", "org")


@admin.register(SyncReport)
class SyncReportAdmin(admin.ModelAdmin):
    """Read-only: what each catalog sync found (`manage.py synccatalog`, every 6 hours)."""

    list_display = ("created", "provider", "kind", "status", "upstream_count", "n_retired", "n_missing", "n_prices")
    list_filter = ("status", "kind", "provider")
    list_select_related = ("provider",)
    readonly_fields = [f.name for f in SyncReport._meta.fields]

    @admin.display(description="retired")
    def n_retired(self, obj: SyncReport) -> int:
        return len(obj.retired)

    @admin.display(description="not in catalog")
    def n_missing(self, obj: SyncReport) -> int:
        return len(obj.missing)

    @admin.display(description="price differences")
    def n_prices(self, obj: SyncReport) -> int:
        return len(obj.price_diffs)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ProbeSample)
class ProbeSampleAdmin(admin.ModelAdmin):
    """Read-only: the live-board probes (gateway/probes.py); their cost is on the house account's wallet."""

    list_display = ("created", "provider", "host", "ok", "ttft_ms", "tokens_per_s", "output_tokens", "cost", "error")
    list_filter = ("ok", "provider")
    list_select_related = ("host__model",)
    readonly_fields = [f.name for f in ProbeSample._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
