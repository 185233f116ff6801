from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse

from accounts.middleware import SESSION_ORG_KEY, CurrentOrgMiddleware
from accounts.models import Membership, Org


def _request(rf, user, org_id=None):
    request = rf.get("/")
    request.session = SessionStore()
    if org_id is not None:
        request.session[SESSION_ORG_KEY] = org_id
    request.user = user

    async def auser():
        return user

    request.auser = auser
    return request


def test_it_picks_the_session_org_when_the_user_belongs_to_it(rf, alice, org_a, org_b):
    Membership.objects.create(org=org_b, user=alice, role="member")
    request = _request(rf, alice, org_b.pk)
    CurrentOrgMiddleware(lambda r: HttpResponse())(request)
    assert request.org == org_b and request.membership.role == "member"


def test_it_ignores_a_session_org_the_user_does_not_belong_to(rf, charlie, org_a, org_b):
    request = _request(rf, charlie, org_a.pk)
    CurrentOrgMiddleware(lambda r: HttpResponse())(request)
    assert request.org == org_b


@pytest.mark.django_db
def test_anonymous_requests_get_no_org_and_make_no_query(rf, django_assert_num_queries):
    request = _request(rf, AnonymousUser())
    with django_assert_num_queries(0):
        CurrentOrgMiddleware(lambda r: HttpResponse())(request)
    assert request.org is None and request.membership is None


def test_it_runs_on_the_event_loop_for_async_views(rf, alice, org_a):
    async def view(request):
        return HttpResponse(request.org.name)

    middleware = CurrentOrgMiddleware(view)
    request = _request(rf, alice)
    response = async_to_sync(middleware)(request)
    assert response.content == b"Org A"


def test_a_user_without_any_org_gets_a_personal_org_on_the_dashboard(client, db):
    from conftest import _person

    dana = _person("dana@example.com")
    client.force_login(dana)
    assert client.get("/dashboard/keys/").status_code == 200
    assert Org.objects.get(memberships__user=dana).personal
