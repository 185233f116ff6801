from __future__ import annotations

from django.urls import path

from gateway.surfaces import ROUTES

urlpatterns = [path(route.path, route.view, name=route.name) for route in ROUTES]
