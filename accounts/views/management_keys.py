"""/dashboard/keys/management/: management keys (mk_) for the management API. Owners and admins only."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.management_keys import mint_management_key, revoke_management_key
from accounts.models import ManagementKey
from accounts.views.common import org_view, require_manager


class ManagementKeyForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. terraform, billing bot"}))
    scope = forms.ChoiceField(choices=ManagementKey.Scope.choices, initial=ManagementKey.Scope.READ)


@org_view
@require_http_methods(["GET", "POST"])
def management_keys(request: HttpRequest) -> HttpResponse:
    by = require_manager(request)
    form = ManagementKeyForm(request.POST or None)
    raw_key = None
    if request.method == "POST" and form.is_valid():
        _key, raw_key = mint_management_key(request.org, by=by, **form.cleaned_data)  # type: ignore[attr-defined]
        form = ManagementKeyForm()
    keys = ManagementKey.objects.filter(org=request.org).select_related("created_by")  # type: ignore[attr-defined]
    context = {"keys": keys.order_by("revoked_at", "-created"), "form": form, "raw_key": raw_key}
    response = render(request, "accounts/keys/management.html", context)
    response["Cache-Control"] = "no-store"  # it may show a raw key
    return response


@org_view
@require_POST
def management_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    by = require_manager(request)
    key = get_object_or_404(ManagementKey, pk=pk, org=request.org)  # type: ignore[attr-defined]
    revoke_management_key(key, by=by)
    messages.success(request, f"Management key “{key.name}” revoked.")
    return redirect("dashboard_management_keys")
