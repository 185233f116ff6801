from __future__ import annotations

from django.urls import path

from catalog import byok_dashboard, dashboard, pages, views

urlpatterns = [
    path("v1/catalog", views.catalog, name="api_catalog"),
    path("v1/models", views.models, name="api_models"),
    path("v1/models/<path:model_id>", views.model, name="api_model"),
    path("models", pages.models_page, name="models"),
    path("models/<path:model_id>", pages.model_page, name="model"),
    path("pricing", pages.pricing_page, name="pricing"),
    path("pricing/calculate", pages.pricing_calculate, name="pricing_calculate"),
    path("dashboard/aliases/", dashboard.aliases, name="dashboard_aliases"),
    path("dashboard/aliases/<int:pk>/delete/", dashboard.alias_delete, name="dashboard_alias_delete"),
    path("dashboard/org/settings/byok/", byok_dashboard.credentials, name="dashboard_byok"),
    path("dashboard/org/settings/byok/<int:pk>/mode/", byok_dashboard.credential_mode, name="dashboard_byok_mode"),
    path(
        "dashboard/org/settings/byok/<int:pk>/delete/", byok_dashboard.credential_delete, name="dashboard_byok_delete"
    ),
]
