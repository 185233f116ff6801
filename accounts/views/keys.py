"""/dashboard/keys/: list, create (the raw key shown once), revoke. Scoped to request.org."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import KeyCreateForm
from accounts.keys import mint_key, revoke_key
from accounts.models import ApiKey
from accounts.views.common import is_htmx, org_view
from requestlog.models import RequestLog


def visible_keys(request: HttpRequest) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.visible_to(request.membership).select_related("created_by")  # type: ignore[attr-defined]
    return keys.order_by("revoked_at", "-created")


def _rows(keys: QuerySet[ApiKey]) -> list[dict[str, Any]]:
    keys = list(keys)
    spend = RequestLog.objects.spend_by_key(keys)
    return [{"key": key, "spend": spend.get(key.pk, 0)} for key in keys]


def _panel_context(
    request: HttpRequest, form: KeyCreateForm, raw_key: str | None = None, new_key: ApiKey | None = None
) -> dict[str, Any]:
    return {"rows": _rows(visible_keys(request)), "form": form, "raw_key": raw_key, "new_key": new_key}


@org_view
@require_http_methods(["GET", "POST"])
def keys_list(request: HttpRequest) -> HttpResponse:
    form = KeyCreateForm(request.POST or None)
    raw_key = new_key = None
    if request.method == "POST" and form.is_valid():
        new_key, raw_key = mint_key(request.org, request.user, form.cleaned_data["name"], **form.limits())  # type: ignore[attr-defined,arg-type]
        form = KeyCreateForm()
    context = _panel_context(request, form, raw_key, new_key)
    template = "accounts/keys/_panel.html" if is_htmx(request) else "accounts/keys/list.html"
    # Never cache a page that shows a raw key.
    response = render(request, template, context)
    response["Cache-Control"] = "no-store"
    return response


@org_view
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(visible_keys(request), pk=pk)
    if request.method == "GET":
        return render(request, "accounts/keys/revoke.html", {"key": key})
    revoke_key(key)
    if is_htmx(request):
        row = {"key": key, "spend": RequestLog.objects.spend_by_key([key]).get(key.pk, 0)}
        return render(request, "accounts/keys/_row.html", {"row": row})
    messages.success(request, f"Key “{key.name}” revoked. Requests with it are refused from now on.")
    return redirect("dashboard_keys")
