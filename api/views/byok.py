"""/api/v1/byok/: the org's own provider keys (bring your own key), for owners and admins.

Saving checks the key upstream (catalog.byok.save_credential, the dashboard's function too); answers never carry
the key, only its last four characters. Another org's credential is a 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from api.access import access_of, require_manager
from api.serializers import ByokModeSerializer, ByokSerializer
from catalog.byok import delete_credential, save_credential, secret_from, set_mode
from catalog.models import OrgCredential


class _Credentials(generics.GenericAPIView):
    serializer_class = ByokSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[OrgCredential]:
        access = access_of(self.request)
        require_manager(access)
        return OrgCredential.objects.filter(org=access.org).select_related("provider").order_by("provider__slug")


@extend_schema_view(
    get=extend_schema(summary="List the org's own provider keys (owners and admins)", tags=["byok"]),
    post=extend_schema(
        summary="Store the org's own key for a provider, checked upstream first (owners and admins)", tags=["byok"]
    ),
)
class ByokList(_Credentials, generics.ListCreateAPIView):
    def perform_create(self, serializer: ByokSerializer) -> None:  # type: ignore[override]
        access = access_of(self.request)
        require_manager(access)
        data = serializer.validated_data
        secret = secret_from(data["provider"], data)
        serializer.instance = save_credential(access.org, data["provider"], secret, data["mode"])


@extend_schema_view(
    get=extend_schema(summary="Read one of the org's own provider keys (last four characters only)", tags=["byok"]),
    patch=extend_schema(
        summary="Change the mode: mine_first (fall back to qlaud's key) or only_mine (owners and admins)",
        tags=["byok"],
        request=ByokModeSerializer,
        responses=ByokSerializer,
    ),
    delete=extend_schema(summary="Remove the org's own key for a provider (owners and admins)", tags=["byok"]),
)
class ByokDetail(_Credentials, generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        cred = self.get_object()
        change = ByokModeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        set_mode(cred, change.validated_data["mode"])
        return Response(ByokSerializer(cred).data)

    def perform_destroy(self, instance: OrgCredential) -> None:
        delete_credential(instance)
