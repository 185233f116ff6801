"""Dashboard URLs of accounts, included at /dashboard/ (names are global, prefixed `dashboard_`)."""

from __future__ import annotations

from django.urls import path

from accounts.views import keys, management_keys, orgs, playground, team

urlpatterns = [
    path("", orgs.overview, name="dashboard"),
    path("keys/", keys.keys_list, name="dashboard_keys"),
    path("keys/<int:pk>/revoke/", keys.key_revoke, name="dashboard_key_revoke"),
    path("playground/", playground.playground, name="dashboard_playground"),
    path("keys/management/", management_keys.management_keys, name="dashboard_management_keys"),
    path(
        "keys/management/<int:pk>/revoke/",
        management_keys.management_key_revoke,
        name="dashboard_management_key_revoke",
    ),
    path("team/", team.team, name="dashboard_team"),
    path("team/members/<int:pk>/role/", team.member_role, name="dashboard_member_role"),
    path("team/members/<int:pk>/remove/", team.member_remove, name="dashboard_member_remove"),
    path("team/invitations/<int:pk>/withdraw/", team.invitation_withdraw, name="dashboard_invitation_withdraw"),
    path("org/switch/", orgs.org_switch, name="dashboard_org_switch"),
    path("org/new/", orgs.org_new, name="dashboard_org_new"),
    path("org/settings/", orgs.org_settings, name="dashboard_org_settings"),
    path("invitations/<str:token>/", orgs.invitation_accept, name="invitation_accept"),
]
