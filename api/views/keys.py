"""/api/v1/keys/ (API keys) and /api/v1/management-keys/. Members manage only the keys they created."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.keys import mint_key, revoke_key, update_key
from accounts.management_keys import mint_management_key, revoke_management_key
from accounts.models import ApiKey, ManagementKey
from api.access import access_of, require_manager
from api.pagination import NewestFirst
from api.serializers import (
    ApiKeySerializer,
    CreatedApiKeySerializer,
    CreatedManagementKeySerializer,
    ManagementKeySerializer,
)
from requestlog.models import RequestLog


class _KeyViews:
    serializer_class = ApiKeySerializer
    request: Request

    def get_queryset(self) -> QuerySet[ApiKey]:
        return ApiKey.objects.visible_to(access_of(self.request).membership).select_related("created_by")

    def _out(self, keys: list[ApiKey], *, many: bool = True) -> Any:
        spend = RequestLog.objects.spend_by_key(keys)
        data = ApiKeySerializer(keys, many=True, context={"spend": spend}).data
        return data if many else data[0]


@extend_schema_view(
    get=extend_schema(summary="List API keys", tags=["keys"]),
    post=extend_schema(summary="Create an API key", tags=["keys"], responses={201: CreatedApiKeySerializer}),
)
class KeyList(_KeyViews, generics.ListCreateAPIView):
    pagination_class = NewestFirst

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self._out(list(page or [])))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access = access_of(request)
        serializer = ApiKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        limits = dict(serializer.validated_data)
        name = limits.pop("name")
        key, raw = mint_key(access.org, access.membership.user, name, **limits)
        data = {"key": raw, **self._out([key], many=False)}
        return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


@extend_schema_view(
    get=extend_schema(summary="Read an API key", tags=["keys"]),
    patch=extend_schema(summary="Change a key's name, limits or expiry", tags=["keys"]),
    delete=extend_schema(
        summary="Revoke an API key (it is kept, marked revoked)", tags=["keys"], responses={200: ApiKeySerializer}
    ),
)
class KeyDetail(_KeyViews, generics.RetrieveUpdateDestroyAPIView):
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(self._out([self.get_object()], many=False))

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        serializer = ApiKeySerializer(key, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        update_key(key, **serializer.validated_data)
        return Response(self._out([key], many=False))

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = self.get_object()
        revoke_key(key)
        return Response(self._out([key], many=False))


class _ManagementKeyViews:
    serializer_class = ManagementKeySerializer
    request: Request

    def get_queryset(self) -> QuerySet[ManagementKey]:
        access = access_of(self.request)
        require_manager(access)
        return ManagementKey.objects.filter(org=access.org).select_related("created_by")


@extend_schema_view(
    get=extend_schema(summary="List management keys (owners and admins)", tags=["management keys"]),
    post=extend_schema(
        summary="Create a management key (owners and admins)",
        tags=["management keys"],
        responses={201: CreatedManagementKeySerializer},
    ),
)
class ManagementKeyList(_ManagementKeyViews, generics.ListCreateAPIView):
    pagination_class = NewestFirst

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        access = access_of(request)
        require_manager(access)
        serializer = ManagementKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key, raw = mint_management_key(
            access.org, by=access.membership, name=data["name"], scope=data.get("scope", ManagementKey.Scope.READ)
        )
        data = {"key": raw, **ManagementKeySerializer(key).data}
        return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


@extend_schema_view(
    get=extend_schema(summary="Read a management key", tags=["management keys"]),
    delete=extend_schema(
        summary="Revoke a management key", tags=["management keys"], responses={200: ManagementKeySerializer}
    ),
)
class ManagementKeyDetail(_ManagementKeyViews, generics.RetrieveDestroyAPIView):
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = revoke_management_key(self.get_object(), by=access_of(request).membership)
        return Response(ManagementKeySerializer(key).data)
