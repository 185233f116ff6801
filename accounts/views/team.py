"""/dashboard/team/: members and roles, invitations. Scoped to request.org."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import InviteForm, RoleForm
from accounts.models import Invitation, Membership
from accounts.orgs import OrgRuleError, change_role, invite_member, remove_member, withdraw_invitation
from accounts.views.common import org_view, require_manager
from lib.site_url import site_url


def _team_context(request: HttpRequest, form: InviteForm) -> dict[str, object]:
    org = request.org  # type: ignore[attr-defined]
    members = Membership.objects.filter(org=org).select_related("user").order_by("created")
    invitations = Invitation.objects.filter(org=org, accepted_at__isnull=True).order_by("-created")
    return {"members": members, "invitations": invitations, "form": form, "roles": Membership.Role.choices}


@org_view
@require_http_methods(["GET", "POST"])
def team(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST":
        by = require_manager(request)
        if form.is_valid():
            try:
                resent = Invitation.objects.filter(
                    org=request.org,  # type: ignore[attr-defined]
                    email__iexact=form.cleaned_data["email"].strip(),
                    accepted_at__isnull=True,
                ).exists()
                invitation = invite_member(request.org, by=by, site=site_url(request), **form.cleaned_data)  # type: ignore[attr-defined]
            except OrgRuleError as error:
                form.add_error("email", error.message)
            else:
                again = (
                    " again: a fresh link for 7 days; the earlier link still works until it expires" if resent else ""
                )
                messages.success(request, f"Invitation sent to {invitation.email}{again}.")
                return redirect("dashboard_team")
    return render(request, "accounts/team/team.html", _team_context(request, form))


def _member(request: HttpRequest, pk: int) -> Membership:
    return get_object_or_404(Membership.objects.select_related("user"), pk=pk, org=request.org)  # type: ignore[attr-defined]


@org_view
@require_POST
def member_role(request: HttpRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    by = require_manager(request)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise OrgRuleError("Choose a role.")
        change_role(member, form.cleaned_data["role"], by=by)
    except OrgRuleError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"{member.user.email} is now {member.get_role_display().lower()}.")
    return redirect("dashboard_team")


@org_view
@require_http_methods(["GET", "POST"])
def member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a member, or leave the org when it is your own membership."""
    member = _member(request, pk)
    leaving = member.pk == request.membership.pk  # type: ignore[attr-defined]
    if not leaving:
        require_manager(request)
    if request.method == "GET":
        sole_owner = member.role == Membership.Role.OWNER and not (
            Membership.objects.filter(org_id=member.org_id, role=Membership.Role.OWNER).exclude(pk=member.pk).exists()
        )
        context = {"member": member, "leaving": leaving, "sole_owner": sole_owner}
        return render(request, "accounts/team/remove.html", context)
    try:
        remove_member(member, by=request.membership)  # type: ignore[attr-defined]
    except OrgRuleError as error:
        messages.error(request, error.message)
        return redirect("dashboard_team")
    if leaving:
        messages.success(request, f"You left {member.org.name}.")
        return redirect("dashboard")
    messages.success(request, f"{member.user.email} was removed; their keys in this org are revoked.")
    return redirect("dashboard_team")


@org_view
@require_POST
def invitation_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    by = require_manager(request)
    invitation = get_object_or_404(Invitation, pk=pk, org=request.org, accepted_at__isnull=True)  # type: ignore[attr-defined]
    withdraw_invitation(invitation, by=by)
    messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("dashboard_team")
