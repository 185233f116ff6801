from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from catalog.aliases import load_org_aliases, org_aliases
from catalog.models import ModelAlias
from catalog.tests.conftest import make_host, make_model, make_provider


@pytest.fixture
def models(db):
    provider = make_provider("deepseek")
    return {m: make_host(make_model(m), provider).model for m in ("deepseek-v3.2", "claude-haiku-4.5")}


@pytest.fixture
def alias_a(org_a, models):
    return ModelAlias.objects.create(org=org_a, alias="my-opus", model=models["deepseek-v3.2"])


def test_an_owner_lists_the_orgs_aliases(client, alice, alias_a):
    client.force_login(alice)
    html = client.get("/dashboard/aliases/").content.decode()
    assert "my-opus" in html and "deepseek-v3.2" in html and "Add an alias" in html


def test_an_owner_adds_an_alias_without_javascript(client, alice, org_a, models):
    client.force_login(alice)
    response = client.post("/dashboard/aliases/", {"alias": "claude-sonnet-5", "model": "claude-haiku-4.5"})
    assert response.status_code == 302 and response["Location"] == "/dashboard/aliases/"
    assert load_org_aliases(org_a.id) == {"claude-sonnet-5": "claude-haiku-4.5"}


def test_an_owner_adds_an_alias_with_htmx_and_gets_the_panel_back(client, alice, org_a, models):
    client.force_login(alice)
    response = client.post(
        "/dashboard/aliases/", {"alias": "gpt-5-codex", "model": "deepseek-v3.2"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<div id="aliases-panel">') and "gpt-5-codex" in html


def test_a_duplicate_or_malformed_alias_is_refused_with_a_message(client, alice, alias_a):
    client.force_login(alice)
    dup = client.post("/dashboard/aliases/", {"alias": "my-opus", "model": "claude-haiku-4.5"})
    assert "already exists" in dup.content.decode()
    bad = client.post(
        "/dashboard/aliases/", {"alias": "has space", "model": "claude-haiku-4.5"}, HTTP_HX_REQUEST="true"
    )
    assert bad.status_code == 200 and "Letters, digits" in bad.content.decode()
    assert bad.content.decode().startswith('<div id="aliases-panel">')
    unknown = client.post("/dashboard/aliases/", {"alias": "x", "model": "gpt-9"})
    assert "Select a valid choice" in unknown.content.decode()
    assert ModelAlias.objects.count() == 1


def test_an_owner_deletes_an_alias(client, alice, alias_a):
    client.force_login(alice)
    response = client.post(f"/dashboard/aliases/{alias_a.pk}/delete/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "No aliases yet" in response.content.decode()
    assert not ModelAlias.objects.exists()


def test_a_member_sees_the_aliases_but_cannot_change_them(client, bob, alias_a):
    client.force_login(bob)
    html = client.get("/dashboard/aliases/").content.decode()
    assert "my-opus" in html and "Add an alias" not in html
    assert client.post("/dashboard/aliases/", {"alias": "a", "model": "deepseek-v3.2"}).status_code == 404
    assert client.post(f"/dashboard/aliases/{alias_a.pk}/delete/").status_code == 404
    assert ModelAlias.objects.filter(alias="a").count() == 0 and ModelAlias.objects.count() == 1


def test_charlie_sees_nothing_of_org_a_and_gets_404_deleting_its_alias(client, charlie, org_b, alias_a):
    client.force_login(charlie)
    assert "my-opus" not in client.get("/dashboard/aliases/").content.decode()
    assert client.post(f"/dashboard/aliases/{alias_a.pk}/delete/").status_code == 404
    assert ModelAlias.objects.filter(pk=alias_a.pk).exists()


def test_the_same_alias_name_may_exist_in_two_orgs(client, charlie, org_b, alias_a):
    client.force_login(charlie)
    client.post("/dashboard/aliases/", {"alias": "my-opus", "model": "claude-haiku-4.5"})
    assert load_org_aliases(org_b.id) == {"my-opus": "claude-haiku-4.5"}
    assert load_org_aliases(alias_a.org_id) == {"my-opus": "deepseek-v3.2"}


def test_an_anonymous_visitor_is_sent_to_sign_in(client, db):
    response = client.get("/dashboard/aliases/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
async def test_org_aliases_is_cached_until_the_catalog_changes(close_thread_connections, django_assert_num_queries):
    from accounts.models import Org

    @sync_to_async
    def setup():
        provider = make_provider("deepseek")
        model = make_host(make_model("deepseek-v3.2"), provider).model
        org = Org.objects.create(name="A", slug="a")
        ModelAlias.objects.create(org=org, alias="opus", model=model)
        return org, model

    org, model = await setup()
    assert await org_aliases(org.id) == {"opus": "deepseek-v3.2"}
    assert await org_aliases(org.id) is await org_aliases(org.id)  # a hit: no query
    await sync_to_async(ModelAlias.objects.create)(org=org, alias="sonnet", model=model)
    assert await org_aliases(org.id) == {"opus": "deepseek-v3.2", "sonnet": "deepseek-v3.2"}
