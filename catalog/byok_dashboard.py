"""/dashboard/org/settings/byok/: the org's own provider keys (bring your own key), owners and admins only.

A plain member gets a 404, as on every page that is not theirs. The writes are catalog.byok's functions, the
same ones /api/v1/byok/ calls: a key is checked upstream before it is stored and shown back only as its last
four characters. htmx swaps the panel in place; without JS the forms post and redirect back (PRG).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.views.common import is_htmx, org_view, require_manager
from catalog import byok
from catalog.models import OrgCredential, Provider


class CredentialForm(forms.Form):
    provider = forms.ModelChoiceField(
        queryset=Provider.objects.filter(enabled=True).order_by("name"), to_field_name="slug", empty_label=None
    )
    key = forms.CharField(
        required=False,
        max_length=4000,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Checked with the provider before it is stored; shown back only as its last four characters.",
    )
    access_key_id = forms.CharField(required=False, max_length=128, label="Access key id")
    secret_access_key = forms.CharField(
        required=False,
        max_length=256,
        label="Secret access key",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    service_account = forms.CharField(
        required=False,
        max_length=20_000,
        label="Service account key (JSON)",
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off", "spellcheck": "false"}),
    )
    project = forms.CharField(required=False, max_length=64, label="Project id")
    region = forms.CharField(
        required=False, max_length=64, label="Region", help_text="Bedrock: e.g. us-east-1. Vertex: e.g. global."
    )
    mode = forms.ChoiceField(choices=OrgCredential.Mode.choices, initial=OrgCredential.Mode.MINE_FIRST)

    def shaped(self) -> bool:
        provider = self.cleaned_data["provider"]
        return provider.protocol in byok.SHAPES


class ModeForm(forms.Form):
    mode = forms.ChoiceField(choices=OrgCredential.Mode.choices)


def _panel(request: HttpRequest, form: CredentialForm) -> HttpResponse:
    credentials = OrgCredential.objects.filter(org=request.org).select_related("provider")  # type: ignore[attr-defined]
    context: dict[str, Any] = {"credentials": credentials, "form": form, "modes": OrgCredential.Mode.choices}
    template = "catalog/byok/_panel.html" if is_htmx(request) else "catalog/byok/list.html"
    return render(request, template, context)


def _done(request: HttpRequest, message: str) -> HttpResponse:
    if is_htmx(request):
        return _panel(request, CredentialForm())
    messages.success(request, message)
    return redirect("dashboard_byok")


def _credential(request: HttpRequest, pk: int) -> OrgCredential:
    """This org's credential (another org's is a 404), for owners and admins (a member's is a 404 too)."""
    cred = get_object_or_404(OrgCredential, pk=pk, org=request.org)  # type: ignore[attr-defined]
    require_manager(request)
    return cred


@org_view
@require_http_methods(["GET", "POST"])
def credentials(request: HttpRequest) -> HttpResponse:
    require_manager(request)
    if request.method == "GET":
        return _panel(request, CredentialForm())
    form = CredentialForm(request.POST)
    if not form.is_valid():
        return _panel(request, form)  # 200: htmx only swaps 2xx answers in, errors included
    data = form.cleaned_data
    secret = byok.secret_from(data["provider"], data)
    try:
        cred = byok.save_credential(request.org, data["provider"], secret, data["mode"])  # type: ignore[attr-defined]
    except byok.CredentialRefused as refused:
        form.add_error(None if form.shaped() else "key", refused.message)
        return _panel(request, form)
    return _done(request, f"Stored your {cred.provider.name} key ending in {cred.last4}.")


@org_view
@require_POST
def credential_mode(request: HttpRequest, pk: int) -> HttpResponse:
    cred = _credential(request, pk)
    form = ModeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the two modes.")
        return redirect("dashboard_byok") if not is_htmx(request) else _panel(request, CredentialForm())
    byok.set_mode(cred, form.cleaned_data["mode"])
    return _done(request, f"{cred.provider.name}: {cred.get_mode_display()}.")


@org_view
@require_POST
def credential_delete(request: HttpRequest, pk: int) -> HttpResponse:
    cred = _credential(request, pk)
    byok.delete_credential(cred)
    return _done(request, f"Removed your {cred.provider.name} key; qlaud's key serves {cred.provider.name} again.")
