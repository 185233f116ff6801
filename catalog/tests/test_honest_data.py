"""Unverified prices and retired hosts are shown as such on /models, /models/<id> and /v1/catalog."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone

from catalog.models import PriceVersion
from catalog.tests.conftest import make_host, make_model, make_provider


@pytest.fixture
def mixed(db):
    groq, mistral = make_provider("groq", name="Groq"), make_provider("mistral", name="Mistral AI")
    current = make_model("llama-4-scout", name="Llama 4 Scout")
    old = make_model("llama-3-70b", name="Llama 3 70B", replacement=current)
    verified = make_host(current, groq, upstream="meta-llama/llama-4-scout")
    guessed = make_host(make_model("mistral-medium-3"), mistral, upstream="mistral-medium-latest")
    guessed.price = PriceVersion.objects.create(
        host=guessed, input=400_000, output=2_000_000, verified=False, as_of=date(2026, 11, 28)
    )
    guessed.save()
    gone = make_host(old, groq, upstream="llama3-70b-8192", retired_at=timezone.now())
    return {"verified": verified, "guessed": guessed, "gone": gone}


def test_an_unverified_price_is_marked_with_its_as_of_date_on_the_models_page(client, mixed):
    html = client.get("/models").content.decode()
    row = html[html.index('href="/models/mistral-medium-3"') :][:2500]
    assert "unverified · as of 2026-11-28" in row
    scout = html[html.index('href="/models/llama-4-scout"') :].split("</tr>")[0]
    assert "unverified" not in scout


def test_an_unverified_price_is_marked_on_the_model_page(client, mixed):
    html = client.get("/models/mistral-medium-3").content.decode()
    assert "unverified · as of 2026-11-28" in html


def test_the_catalog_api_says_whether_each_price_is_verified_and_as_of_when(client, mixed):
    data = {m["id"]: m for m in client.get("/v1/catalog").json()["data"]}
    host = data["mistral-medium-3"]["hosts"][0]
    assert (host["price_verified"], host["price_as_of"]) == (False, "2026-11-28")
    assert data["llama-4-scout"]["hosts"][0]["price_verified"] is True


def test_a_model_whose_hosts_are_all_retired_is_shown_retired_with_its_replacement(client, mixed):
    data = {m["id"]: m for m in client.get("/v1/catalog").json()["data"]}
    old = data["llama-3-70b"]
    assert (old["status"], old["replacement"]) == ("retired", "llama-4-scout")
    assert old["hosts"][0]["status"] == "retired" and old["hosts"][0]["retired_at"]

    listing = client.get("/models").content.decode()
    retired = listing[listing.index('id="retired"') :]
    assert "llama-3-70b" in retired and "llama-4-scout" in retired
    page = client.get("/models/llama-3-70b").content.decode()
    assert "Every provider has retired this model" in page and "/models/llama-4-scout" in page


def test_a_retired_host_beside_a_live_one_is_listed_as_retired_and_never_routed(client, mixed):
    make_host(mixed["gone"].model, make_provider("cerebras", name="Cerebras"), upstream="llama-3.3-70b")
    data = {m["id"]: m for m in client.get("/v1/catalog").json()["data"]}
    statuses = [(h["provider"]["slug"], h["status"]) for h in data["llama-3-70b"]["hosts"]]
    assert statuses == [("cerebras", "up"), ("groq", "retired")]
    assert data["llama-3-70b"]["status"] == "available"
    html = client.get("/models/llama-3-70b").content.decode()
    assert ">retired</span>" in html


def test_retired_models_are_not_offered_in_v1_models(client, mixed):
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert "llama-3-70b" not in ids and "llama-4-scout" in ids
