"""Overview, switching orgs, new orgs, accepting invitations."""

from __future__ import annotations

from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import OrgForm, OrgSettingsForm, SwitchOrgForm
from accounts.middleware import SESSION_ORG_KEY
from accounts.models import ApiKey, Membership
from accounts.orgs import (
    OrgRuleError,
    accept_invitation,
    can_accept,
    create_org,
    invitation_from_token,
    set_auto_cache,
)
from accounts.views.common import org_view, require_manager


@org_view
def overview(request: HttpRequest) -> HttpResponse:
    """A minimal overview; the site pages may replace it with a richer one."""
    keys = ApiKey.objects.filter(org=request.org, revoked_at__isnull=True)  # type: ignore[attr-defined]
    members = Membership.objects.filter(org=request.org).count()  # type: ignore[attr-defined]
    return render(request, "accounts/overview.html", {"active_keys": keys.count(), "members": members})


@org_view
@require_POST
def org_switch(request: HttpRequest) -> HttpResponse:
    form = SwitchOrgForm(request.POST)
    if not form.is_valid():
        raise Http404
    membership = Membership.objects.filter(user=request.user, org_id=form.cleaned_data["org"]).first()
    if membership is None:
        raise Http404
    request.session[SESSION_ORG_KEY] = membership.org_id
    messages.success(request, f"Switched to {membership.org.name}.")
    return redirect(_safe_next(request) or "dashboard")


def _safe_next(request: HttpRequest) -> str | None:
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return None


@org_view
@require_http_methods(["GET", "POST"])
def org_new(request: HttpRequest) -> HttpResponse:
    form = OrgForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        org = create_org(request.user, form.cleaned_data["name"])  # type: ignore[arg-type]
        request.session[SESSION_ORG_KEY] = org.pk
        messages.success(request, f"Created {org.name}. Invite your team and top up its wallet.")
        return redirect("dashboard_team")
    return render(request, "accounts/org_new.html", {"form": form})


@org_view
@require_http_methods(["GET", "POST"])
def org_settings(request: HttpRequest) -> HttpResponse:
    """Every member sees the org's settings; owners and admins change them."""
    org = request.org  # type: ignore[attr-defined]
    data = request.POST if request.method == "POST" else None  # an unticked box posts nothing
    form = OrgSettingsForm(data, initial={"auto_cache": org.auto_cache})
    if request.method == "POST":
        membership = require_manager(request)
        if form.is_valid():
            set_auto_cache(org, form.cleaned_data["auto_cache"], by=membership)
            messages.success(request, "Settings saved.")
            return redirect("dashboard_org_settings")
    can_edit = request.membership.is_manager  # type: ignore[attr-defined]
    return render(request, "accounts/org_settings.html", {"form": form, "can_edit": can_edit})


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitation_from_token(token)
    except signing.SignatureExpired:
        return _invitation_problem(
            request, "This invitation has expired", "Ask the person who invited you for a new one."
        )
    except signing.BadSignature:
        return _invitation_problem(
            request, "This invitation link is not valid", "Check that you copied the whole link."
        )
    if invitation is None:
        return _invitation_problem(request, "This invitation was withdrawn", "Ask the org's owners for a new one.")
    if invitation.accepted_at is not None:
        return _invitation_problem(request, "This invitation has already been used", "Sign in to reach the org.")
    context = {
        "invitation": invitation,
        "can_accept": request.user.is_authenticated and can_accept(invitation, request.user),
    }
    if request.method == "GET" or not request.user.is_authenticated:
        return render(request, "accounts/invitation.html", context)
    try:
        membership = accept_invitation(invitation, request.user)  # type: ignore[arg-type]
    except OrgRuleError as error:
        messages.error(request, error.message)
        return render(request, "accounts/invitation.html", context, status=403)
    request.session[SESSION_ORG_KEY] = membership.org_id
    messages.success(request, f"Welcome to {membership.org.name}.")
    return redirect("dashboard")


def _invitation_problem(request: HttpRequest, title: str, hint: str) -> HttpResponse:
    return render(request, "accounts/invitation_problem.html", {"title": title, "hint": hint}, status=400)
