"""/dashboard/usage/: every request with its cost, filters, CSV export, receipts, daily spend.

Scoped to request.org. Owners and admins see the whole org's usage; members see the usage of
the keys they created (as on the keys page), so a member's receipts of others' keys are 404s.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, cast

from django import forms
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import ApiKey
from accounts.views.common import org_view
from wallet.api import generation_receipt
from wallet.usage import csv_rows, filter_logs, request_logs

PAGE_SIZE = 50


class UsageFilter(forms.Form):
    key = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    model = forms.CharField(required=False, max_length=200)
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, keys: QuerySet[ApiKey], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.TypedChoiceField, self.fields["key"]).choices = [("", "All keys"), *((k.pk, k.name) for k in keys)]


def _logs(request: HttpRequest) -> QuerySet:
    keys_of = None if request.membership.is_manager else request.user  # type: ignore[attr-defined]
    return request_logs(request.org.pk, keys_of=keys_of)  # type: ignore[attr-defined]


def _visible_keys(request: HttpRequest) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.filter(org=request.org).order_by("name")  # type: ignore[attr-defined]
    if not request.membership.is_manager:  # type: ignore[attr-defined]
        keys = keys.filter(created_by=request.user)  # type: ignore[misc]  # org_view: signed in
    return keys


def _filtered(request: HttpRequest) -> tuple[QuerySet, UsageFilter]:
    form = UsageFilter(request.GET or None, keys=_visible_keys(request))
    logs = _logs(request)
    if form.is_valid():
        data = form.cleaned_data
        start = _day_start(data["start"]) if data["start"] else None
        end = _day_start(data["end"]) + timedelta(days=1) if data["end"] else None
        logs = filter_logs(logs, key=data["key"], model=data["model"], start=start, end=end)
    return logs, form


def _day_start(day: Any) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _daily(logs: QuerySet, by: str) -> list[dict[str, Any]]:
    """Spend per day and per `by` (key name or model) over the filtered requests, newest day first."""
    rows = (
        logs.annotate(day=TruncDate("created"))
        .values("day", by)
        .annotate(requests=Count("id"), spend=Sum("cost"))
        .order_by("-day", "-spend")
    )
    return list(rows[:200])


@org_view
def usage_page(request: HttpRequest) -> HttpResponse:
    logs, form = _filtered(request)
    if not request.GET.get("start"):
        logs = logs.filter(created__gte=timezone.now() - timedelta(days=30))
    page = Paginator(logs.select_related("api_key").order_by("-created", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    totals = logs.aggregate(requests=Count("id"), spend=Sum("cost"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "totals": totals,
        "by_key": _daily(logs, "api_key__name"),
        "by_model": _daily(logs, "model"),
        "models": sorted(set(_logs(request).values_list("model", flat=True).distinct()[:200])),
        "query": query.urlencode(),
        "is_manager": request.membership.is_manager,  # type: ignore[attr-defined]
    }
    return render(request, "wallet/usage.html", context)


@org_view
def usage_csv(request: HttpRequest) -> StreamingHttpResponse:
    logs, _ = _filtered(request)
    response = StreamingHttpResponse(csv_rows(logs), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="qlaud-usage-{timezone.now():%Y%m%d}.csv"'
    return response


@org_view
def receipt(request: HttpRequest, request_id: str) -> HttpResponse:
    if not _logs(request).filter(request_id=request_id).exists():
        raise Http404
    data = generation_receipt(request.org.pk, request_id)  # type: ignore[attr-defined]
    return render(request, "wallet/receipt.html", {"r": data, "log": _logs(request).get(request_id=request_id)})
