from __future__ import annotations

from django.contrib import admin

from catalog.models import Host, Model, ModelAlias, PriceVersion, Provider


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
        "enabled",
    )
    list_filter = ("protocol", "via_cloudflare", "enabled")
    search_fields = ("slug", "name")
    exclude = ("api_key_encrypted",)  # set with `manage.py setprovider SLUG --api-key`, never shown

    @admin.display(boolean=True, description="stored key")
    def has_stored_key(self, obj: Provider) -> bool:
        return bool(obj.api_key_encrypted)


class HostInline(admin.TabularInline):
    model = Host
    extra = 0
    fields = ("provider", "upstream_model", "price", "priority", "tools_verified", "enabled")
    readonly_fields = ("price",)


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ("public_id", "name", "family", "author", "context_length", "created", "enabled")
    list_filter = ("family", "author", "enabled")
    search_fields = ("public_id", "name")
    inlines = [HostInline]


class PriceVersionInline(admin.TabularInline):
    model = PriceVersion
    extra = 0
    fields = ("input", "output", "cache_read", "cache_write", "valid_from", "source", "as_of", "verified", "note")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # past versions are shown read-only; a price change is a new row

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("model", "provider", "upstream_model", "priority", "tools_verified", "enabled", "price")
    list_filter = ("provider", "enabled", "tools_verified")
    search_fields = ("model__public_id", "upstream_model")
    list_select_related = ("model", "provider", "price")
    inlines = [PriceVersionInline]

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
