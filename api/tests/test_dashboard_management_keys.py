"""The dashboard's management keys page: owners and admins mint and revoke; members and other orgs get 404s."""

from __future__ import annotations

import re

from django.test import Client

from accounts.models import ManagementKey
from api.tests.conftest import bearer


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_an_owner_mints_a_management_key_on_the_dashboard_that_opens_the_api(alice, org_a):
    page = _signed_in(alice).post("/dashboard/keys/management/", {"name": "ops", "scope": "write"})
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    raw = re.search(r"mk_[A-Za-z0-9]{40}", page.content.decode()).group(0)
    assert bearer(raw).get("/api/v1/keys/").status_code == 200


def test_a_revoked_management_key_is_refused(alice, org_a):
    client = _signed_in(alice)
    raw = re.search(
        r"mk_[A-Za-z0-9]{40}",
        client.post("/dashboard/keys/management/", {"name": "x", "scope": "read"}).content.decode(),
    ).group(0)
    key = ManagementKey.objects.get(org=org_a)
    assert client.post(f"/dashboard/keys/management/{key.pk}/revoke/").status_code == 302
    assert bearer(raw).get("/api/v1/keys/").status_code == 401


def test_members_and_other_orgs_get_404s(alice, bob, charlie, org_a, org_b):
    _signed_in(alice).post("/dashboard/keys/management/", {"name": "x", "scope": "read"})
    key = ManagementKey.objects.get(org=org_a)
    assert _signed_in(bob).get("/dashboard/keys/management/").status_code == 404
    assert _signed_in(charlie).post(f"/dashboard/keys/management/{key.pk}/revoke/").status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
