from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

from catalog import loader
from catalog.models import Host, Model, PriceVersion, Provider


def run(*args: str) -> str:
    out = StringIO()
    call_command("loadcatalog", *args, stdout=out)
    return out.getvalue().strip()


@pytest.mark.django_db
def test_it_loads_the_seed_twice_without_duplicating_anything():
    first = run()
    counts = (Provider.objects.count(), Model.objects.count(), Host.objects.count(), PriceVersion.objects.count())
    second = run()
    assert counts == (
        Provider.objects.count(),
        Model.objects.count(),
        Host.objects.count(),
        PriceVersion.objects.count(),
    )
    assert first.startswith("catalog: ") and " 0 unchanged" in first
    assert " 0 created, 0 updated" in second and "0 new price versions" in second
    assert counts[3] == counts[2]  # one price version per host


@pytest.mark.django_db
def test_a_changed_price_creates_a_new_version_and_keeps_the_old_one(tmp_path: Path):
    data = loader.read()
    run()
    host = Host.objects.select_related("price").get(
        provider__slug="anthropic", upstream_model="claude-sonnet-4-5-20250929"
    )
    old_version = host.price
    spec = next(m for m in data["models"] if m["id"] == "claude-sonnet-4.5")
    spec["hosts"][0]["prices"]["output"] = 16_000_000
    changed = tmp_path / "catalog.yaml"
    changed.write_text(yaml.safe_dump(data))

    summary = run(str(changed))

    host.refresh_from_db()
    assert "1 new price versions" in summary
    assert host.price_id != old_version.id and host.price.output == 16_000_000
    assert PriceVersion.objects.filter(pk=old_version.pk, output=15_000_000).exists()
    assert host.price_versions.count() == 2


@pytest.mark.django_db
def test_it_keeps_an_operators_provider_settings_on_reload():
    run()
    Provider.objects.filter(slug="groq").update(base_url="https://proxy.internal/groq", enabled=False)
    run()
    groq = Provider.objects.get(slug="groq")
    assert (groq.base_url, groq.enabled) == ("https://proxy.internal/groq", False)


@pytest.mark.django_db
def test_it_refuses_a_host_on_an_unknown_provider(tmp_path: Path):
    data = {"providers": [], "models": [{"id": "m", "name": "M", "context_length": 1, "hosts": [{"provider": "nope"}]}]}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(Exception, match="unknown provider 'nope'"):
        run(str(path))
    assert not Model.objects.exists()  # the whole load is one transaction


@pytest.mark.django_db
def test_the_seed_retires_hosts_whose_upstream_was_shut_down_and_names_replacements():
    run()
    retired = set(Host.objects.filter(retired_at__isnull=False).values_list("upstream_model", flat=True))
    assert {"deepseek-chat", "deepseek-reasoner", "gpt-5-codex", "codex-mini-latest", "o4-mini"} <= retired
    assert Model.objects.get(public_id="deepseek-v3.2").replacement.public_id == "deepseek-flash"


@pytest.mark.django_db
def test_a_reload_applies_the_file_s_retirement_again_and_changes_nothing_else():
    run()
    Host.objects.filter(upstream_model="o4-mini").update(retired_at=None)  # e.g. the sync saw it listed
    assert " 0 updated" in run() and "0 new price versions" in run()
    assert Host.objects.get(upstream_model="o4-mini").retired_at is not None


@pytest.mark.django_db
def test_it_refuses_an_unknown_replacement(tmp_path: Path):
    data = loader.read()
    data["models"][0]["replacement"] = "no-such-model"
    with pytest.raises(loader.CatalogFileError, match="unknown replacement"):
        loader.load(data)


@pytest.mark.django_db
def test_every_shipped_provider_names_a_live_enabled_probe_host_of_its_own():
    run()
    for provider in Provider.objects.select_related("probe_host__model"):
        host = provider.probe_host
        assert host is not None, provider.slug
        assert host.provider_id == provider.pk and host.enabled and host.retired_at is None, provider.slug


@pytest.mark.django_db
def test_it_refuses_a_probe_model_the_provider_does_not_host(tmp_path: Path):
    data = loader.read()
    data["providers"][0]["probe"] = "qlaud/demo"  # served by the demo provider only
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(loader.CatalogFileError, match="probe model"):
        loader.load(loader.read(path))
