"""/api/v1/usage/: the request log (rows, receipts, CSV) and daily rollups.

Owners and admins read the whole org's usage; members the usage of the keys they created, as on
the dashboard's usage page (the same wallet.usage functions select the rows).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.access import Access, access_of
from api.pagination import DaysNewestFirst, NewestFirst
from api.serializers import RequestLogSerializer, RollupSerializer
from wallet.api import generation_receipt
from wallet.models import UsageRollup
from wallet.usage import csv_rows, filter_logs, request_logs


class UsageFilter(serializers.Serializer):
    key = serializers.IntegerField(required=False, min_value=1, help_text="An API key's id.")
    model = serializers.CharField(required=False, max_length=200, help_text="The catalog model served.")
    start = serializers.DateTimeField(required=False, help_text="From this time (inclusive), ISO 8601.")
    end = serializers.DateTimeField(required=False, help_text="Until this time (exclusive), ISO 8601.")


FILTERS = [UsageFilter]


def _filters(request: Request) -> dict[str, Any]:
    form = UsageFilter(data=request.query_params)
    form.is_valid(raise_exception=True)
    return dict(form.validated_data)


def _logs(access: Access) -> QuerySet:
    return request_logs(access.org.pk, keys_of=None if access.is_manager else access.membership.user)


@extend_schema(summary="List requests (the request log), newest first", tags=["usage"], parameters=FILTERS)
class UsageList(generics.ListAPIView):
    serializer_class = RequestLogSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet:
        return filter_logs(_logs(access_of(self.request)), **_filters(self.request))


@extend_schema(summary="One request's receipt: tokens, prices, cost, ledger entry", tags=["usage"])
class UsageReceipt(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, request_id: str) -> Response:
        access = access_of(request)
        if not _logs(access).filter(request_id=request_id).exists():
            raise Http404
        return Response(generation_receipt(access.org.pk, request_id))


class CsvRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; errors still render as JSON."""

    media_type = "text/csv"
    format = "csv"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return JSONRenderer().render(data)


class UsageCsv(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        summary="The filtered request log as CSV (the dashboard's export)",
        tags=["usage"],
        parameters=FILTERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        logs = filter_logs(_logs(access_of(request)), **_filters(request))
        response = StreamingHttpResponse(csv_rows(logs), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="qlaud-usage-{timezone.now():%Y%m%d}.csv"'
        return response


@extend_schema(summary="Daily rollups per key and model, newest day first", tags=["usage"], parameters=FILTERS)
class DailyUsage(generics.ListAPIView):
    serializer_class = RollupSerializer
    pagination_class = DaysNewestFirst

    def get_queryset(self) -> QuerySet[UsageRollup]:
        access = access_of(self.request)
        rows = UsageRollup.objects.filter(org=access.org, granularity=UsageRollup.Granularity.DAY)
        if not access.is_manager:
            rows = rows.filter(api_key__created_by=access.membership.user)
        f = _filters(self.request)
        if f.get("key"):
            rows = rows.filter(api_key_id=f["key"])
        if f.get("model"):
            rows = rows.filter(model=f["model"])
        if f.get("start"):
            rows = rows.filter(period_start__gte=f["start"])
        if f.get("end"):
            rows = rows.filter(period_start__lt=f["end"])
        return rows
