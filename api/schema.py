"""How the OpenAPI schema describes qlaud's authentication classes (drf-spectacular extensions)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ManagementKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.access.ManagementKeyAuthentication"
    name = "managementKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "A management key: Authorization: Bearer mk_..."}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "api.access.OrgSessionAuthentication"
    name = "dashboardSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "Signed in; writes need CSRF."}


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.views.openrouter.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "http", "scheme": "bearer", "description": "An API key: Authorization: Bearer ak_..."}
