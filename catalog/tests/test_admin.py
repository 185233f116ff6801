from __future__ import annotations

import pytest

from accounts.models import User
from catalog.models import Host, SyncReport


@pytest.fixture
def admin_client(client, seeded):
    user = User.objects.create_superuser("root@example.com", "pw-for-tests-only")
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", ["provider", "model", "host", "priceversion", "modelalias", "probesample"])
def test_every_catalog_model_has_a_working_admin_list(admin_client, name):
    assert admin_client.get(f"/admin/catalog/{name}/").status_code == 200


def test_the_provider_admin_never_shows_a_stored_key(admin_client):
    from catalog.crypto import encrypt
    from catalog.models import Provider

    groq = Provider.objects.get(slug="groq")
    groq.api_key_encrypted = encrypt("gsk_secret_value")
    groq.save()
    html = admin_client.get(f"/admin/catalog/provider/{groq.pk}/change/").content.decode()
    assert "gsk_secret_value" not in html and groq.api_key_encrypted not in html


def test_a_price_version_added_in_the_host_admin_becomes_the_current_price(admin_client):
    host = Host.objects.select_related("price").get(provider__slug="deepseek", upstream_model="deepseek-chat")
    old = host.price
    page = admin_client.get(f"/admin/catalog/host/{host.pk}/change/")
    assert page.status_code == 200
    data = {
        "model": host.model_id,
        "provider": host.provider_id,
        "upstream_model": host.upstream_model,
        "max_output_tokens": host.max_output_tokens or "",
        "context_length": "",
        "quantization": "",
        "priority": host.priority,
        "capabilities": "[]",
        "enabled": "on",
        "price_versions-TOTAL_FORMS": "1",
        "price_versions-INITIAL_FORMS": "0",
        "price_versions-MIN_NUM_FORMS": "0",
        "price_versions-MAX_NUM_FORMS": "1000",
        "price_versions-0-host": host.pk,
        "price_versions-0-input": 300000,
        "price_versions-0-output": 450000,
        "price_versions-0-cache_read": 30000,
        "price_versions-0-cache_write": 0,
        "price_versions-0-valid_from_0": "2099-01-01",
        "price_versions-0-valid_from_1": "00:00:00",
        "price_versions-0-source": "https://api-docs.deepseek.com/quick_start/pricing",
        "price_versions-0-as_of": "",
        "price_versions-0-verified": "on",
        "price_versions-0-note": "",
    }
    response = admin_client.post(f"/admin/catalog/host/{host.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    host.refresh_from_db()
    assert host.price.input == 300000 and host.price_id != old.pk
    assert host.price_versions.count() == 2 and host.price_versions.filter(pk=old.pk, input=old.input).exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/catalog/host/?retired=yes",
        "/admin/catalog/host/?price_verified=no",
        "/admin/catalog/priceversion/?verified__exact=0",
        "/admin/catalog/syncreport/",
        "/admin/catalog/syncreport/?status__exact=failed",
    ],
)
def test_staff_filter_retired_hosts_unverified_prices_and_sync_reports(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_the_host_admin_lists_only_unverified_prices_when_filtered(admin_client):
    html = admin_client.get("/admin/catalog/host/?price_verified=no").content.decode()
    unverified = Host.objects.filter(price__verified=False).select_related("model").first()
    verified = Host.objects.filter(price__verified=True).select_related("model").first()
    assert str(unverified.upstream_model) in html
    assert f">{verified.upstream_model}<" not in html


def test_a_sync_report_shows_what_it_found(admin_client):
    report = SyncReport.objects.create(status="ok", missing=["new-model-x"], retired=["old @ groq (old)"])
    html = admin_client.get(f"/admin/catalog/syncreport/{report.pk}/change/").content.decode()
    assert "new-model-x" in html and "old @ groq (old)" in html
