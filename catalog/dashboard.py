"""/dashboard/aliases/: an org's model aliases (list, add, delete), scoped to request.org.

Every member sees the aliases; owners and admins change them. htmx swaps the panel in place;
without JS the forms post and redirect back (PRG).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.views.common import is_htmx, org_view, require_manager
from catalog.aliases import ALIAS_PATTERN, AliasTaken, add_alias, delete_alias
from catalog.models import Model, ModelAlias
from catalog.routing import DEFAULT_ALIASES


class AliasForm(forms.Form):
    alias = forms.RegexField(
        regex=ALIAS_PATTERN,
        max_length=100,
        help_text="The model name your tool sends, e.g. claude-opus-4-8.",
        error_messages={"invalid": "Letters, digits and . _ : @ / - only."},
    )
    model = forms.ModelChoiceField(
        queryset=Model.objects.filter(enabled=True).order_by("name"),
        to_field_name="public_id",
        empty_label=None,
        label="Catalog model",
    )

    def __init__(self, *args: Any, org: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.org = org

    def clean_alias(self) -> str:
        alias = self.cleaned_data["alias"]
        if ModelAlias.objects.filter(org=self.org, alias=alias).exists():
            raise forms.ValidationError("This alias already exists; delete it first to point it elsewhere.")
        return alias


def _context(request: HttpRequest, form: AliasForm) -> dict[str, Any]:
    aliases = ModelAlias.objects.filter(org=request.org).select_related("model")  # type: ignore[attr-defined]
    return {"aliases": aliases, "form": form, "defaults": sorted(DEFAULT_ALIASES.items())}


def _panel(request: HttpRequest, form: AliasForm) -> HttpResponse:
    template = "catalog/aliases/_panel.html" if is_htmx(request) else "catalog/aliases/list.html"
    return render(request, template, _context(request, form))


@org_view
@require_http_methods(["GET", "POST"])
def aliases(request: HttpRequest) -> HttpResponse:
    org = request.org  # type: ignore[attr-defined]
    if request.method == "GET":
        return _panel(request, AliasForm(org=org))
    require_manager(request)
    form = AliasForm(request.POST, org=org)
    if not form.is_valid():
        return _panel(request, form)  # 200: htmx only swaps 2xx answers in, errors included
    try:
        alias = add_alias(org, form.cleaned_data["alias"], form.cleaned_data["model"])
    except AliasTaken as error:  # created meanwhile, after the form's check
        form.add_error("alias", str(error))
        return _panel(request, form)
    if is_htmx(request):
        return _panel(request, AliasForm(org=org))
    messages.success(request, f"{alias.alias} now means {alias.model.public_id}.")
    return redirect("dashboard_aliases")


@org_view
@require_POST
def alias_delete(request: HttpRequest, pk: int) -> HttpResponse:
    alias = get_object_or_404(ModelAlias, pk=pk, org=request.org)  # type: ignore[attr-defined]
    require_manager(request)
    delete_alias(alias)
    if is_htmx(request):
        return _panel(request, AliasForm(org=request.org))  # type: ignore[attr-defined]
    messages.success(request, f"Deleted the alias {alias.alias}.")
    return redirect("dashboard_aliases")
