from __future__ import annotations

from django.urls import path

from catalog import dashboard, pages, views

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
]
