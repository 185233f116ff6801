"""The catalog sync against local fakes of each provider's list endpoint (httpx.MockTransport)."""

from __future__ import annotations

import json
from io import StringIO

import botocore.session
import httpx
import pytest
from botocore.stub import Stubber
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.keys import mint_key
from catalog import routing, upstream
from catalog.models import Host, PriceVersion, SyncReport
from catalog.snapshot import build_snapshot
from catalog.sync import apply_list, sync_all
from catalog.tests.conftest import make_host, make_model, make_provider

OPENROUTER_LIST = {
    "data": [
        {"id": "deepseek/deepseek-v3.2", "pricing": {"prompt": "0.00000028", "completion": "0.00000042"}},
        {"id": "openrouter/auto", "pricing": {"prompt": "-1", "completion": "-1"}},
    ]
}


def fake(routes: dict[str, object]) -> httpx.Client:
    """A client whose upstreams answer from `routes` (url -> JSON body, status code or exception)."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = routes.get(str(request.url.copy_with(query=None)), 404)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, int):
            return httpx.Response(answer, text="nope")
        if callable(answer):
            return answer(request)
        if isinstance(answer, str):
            return httpx.Response(200, text=answer)
        return httpx.Response(200, json=answer)

    return httpx.Client(transport=httpx.MockTransport(handle))


@pytest.fixture
def groq(db, monkeypatch):
    monkeypatch.setenv("GROQ_TEST_KEY", "gsk-test")
    provider = make_provider("groq", api_key_env="GROQ_TEST_KEY", base_url="https://groq.test/openai/v1")
    old = make_model("llama-3-70b")
    new = make_model("llama-4-scout")
    old.replacement = new
    old.save()
    return {
        "provider": provider,
        "old": make_host(old, provider, upstream="llama3-70b-8192"),
        "new": make_host(new, provider, upstream="meta-llama/llama-4-scout"),
    }


GROQ_MODELS = "https://groq.test/openai/v1/models"


def _groq_list(*ids: str) -> dict:
    return {"object": "list", "data": [{"id": i, "object": "model"} for i in ids]}


def test_a_host_whose_upstream_model_is_gone_is_retired_and_routing_skips_it(groq):
    reports = sync_all(fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")}), slugs=["groq"], mail=False)

    assert reports[0].status == "ok"
    assert reports[0].retired == ["llama-3-70b @ groq (llama3-70b-8192)"]
    groq["old"].refresh_from_db()
    assert groq["old"].retired_at is not None and groq["old"].enabled
    snap = build_snapshot()
    assert "llama-3-70b" not in snap.models
    with pytest.raises(routing.ModelRetired, match="Use 'llama-4-scout' instead"):
        routing.lookup(snap, "llama-3-70b", {})


def test_a_retired_model_without_a_replacement_points_to_the_model_list(groq):
    groq["old"].model.replacement = None
    groq["old"].model.save()
    sync_all(fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")}), slugs=["groq"], mail=False)

    with pytest.raises(routing.ModelRetired, match="GET /v1/models"):
        routing.lookup(build_snapshot(), "llama-3-70b", {})


def test_a_retired_host_comes_back_when_its_upstream_model_is_listed_again(groq):
    sync_all(fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")}), slugs=["groq"], mail=False)
    reports = sync_all(fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout", "llama3-70b-8192")}), slugs=["groq"])

    assert reports[0].restored == ["llama-3-70b @ groq (llama3-70b-8192)"]
    assert "llama-3-70b" in build_snapshot().models


def test_upstream_models_missing_from_the_catalog_are_listed_and_never_added(groq):
    listed = _groq_list("meta-llama/llama-4-scout", "llama3-70b-8192", "qwen/qwen3-32b", "openai/gpt-oss-120b")
    reports = sync_all(fake({GROQ_MODELS: listed}), slugs=["groq"], mail=False)

    assert reports[0].missing == ["openai/gpt-oss-120b", "qwen/qwen3-32b"]
    assert Host.objects.count() == 2 and not Host.objects.filter(retired_at__isnull=False).exists()


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        503,
        "<html>We'll be right back</html>",
        {"object": "list", "data": []},
        {"data": [{"name": "no ids here"}]},
        {"error": {"message": "quota"}},
        401,
    ],
    ids=["refused", "timeout", "503", "html", "empty", "no-ids", "error-object", "401"],
)
def test_a_provider_that_is_down_or_answers_garbage_is_reported_and_nothing_changes(groq, answer):
    reports = sync_all(fake({GROQ_MODELS: answer}), slugs=["groq"], mail=False)

    assert reports[0].status == "failed" and reports[0].reason
    assert not Host.objects.filter(retired_at__isnull=False).exists()


def test_a_list_naming_none_of_our_hosts_retires_nothing(groq):
    reports = sync_all(fake({GROQ_MODELS: _groq_list("something-else")}), slugs=["groq"], mail=False)

    assert reports[0].status == "failed" and "refusing to retire them all" in reports[0].reason
    assert not Host.objects.filter(retired_at__isnull=False).exists()


def test_a_provider_without_credentials_is_skipped_with_its_reason(groq, monkeypatch):
    monkeypatch.delenv("GROQ_TEST_KEY")
    reports = sync_all(fake({}), slugs=["groq"], mail=False)

    assert (reports[0].status, reports[0].reason) == ("skipped", "no credentials")


def test_the_sync_is_idempotent_and_mails_staff_only_what_is_new(groq, settings):
    settings.ADMINS = [("Ops", "ops@qlaud.test")]
    client = fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")})
    sync_all(client, slugs=["groq"])
    sync_all(fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")}), slugs=["groq"])

    assert SyncReport.objects.count() == 2
    assert Host.objects.filter(retired_at__isnull=False).count() == 1
    assert len(mail.outbox) == 1
    assert "retired: llama-3-70b @ groq (llama3-70b-8192)" in mail.outbox[0].body


def test_anthropic_s_list_is_read_page_by_page(db, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_TEST_KEY", "sk-ant-test")
    provider = make_provider("anthropic", protocol="anthropic", base_url="https://anthropic.test")
    provider.api_key_env = "ANTHROPIC_TEST_KEY"
    provider.save()
    make_host(make_model("claude-opus-4.8"), provider, upstream="claude-opus-4-8")
    make_host(make_model("claude-3-haiku"), provider, upstream="claude-3-haiku-20240307")
    seen = []

    def pages(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["x-api-key"], request.url.params.get("after_id")))
        if request.url.params.get("after_id") is None:
            return httpx.Response(200, json={"data": [{"id": "claude-sonnet-5-5"}], "has_more": True, "last_id": "x"})
        return httpx.Response(200, json={"data": [{"id": "claude-opus-4-8"}], "has_more": False, "last_id": "y"})

    report = sync_all(fake({"https://anthropic.test/v1/models": pages}), slugs=["anthropic"], mail=False)[0]

    assert seen == [("sk-ant-test", None), ("sk-ant-test", "x")]
    assert report.retired == ["claude-3-haiku @ anthropic (claude-3-haiku-20240307)"]
    assert report.missing == ["claude-sonnet-5-5"]


def test_workers_ai_is_read_through_its_model_search(db, monkeypatch):
    monkeypatch.setenv("CF_TEST_TOKEN", "cf-token")
    provider = make_provider(
        "workers-ai",
        base_url="https://api.cloudflare.test/client/v4/accounts/{account_id}/ai/v1",
        api_key_env="CF_TEST_TOKEN",
        config={"account_id": "acc1"},
    )
    make_host(make_model("llama-3.1-8b"), provider, upstream="@cf/meta/llama-3.1-8b-instruct")
    make_host(make_model("gpt-oss-120b"), provider, upstream="@cf/openai/gpt-oss-120b")
    body = {
        "success": True,
        "result": [{"name": "@cf/openai/gpt-oss-120b"}, {"name": "@cf/zai/glm-5"}],
        "result_info": {"total_count": 2},
    }
    url = "https://api.cloudflare.test/client/v4/accounts/acc1/ai/models/search"

    report = sync_all(fake({url: body}), slugs=["workers-ai"], mail=False)[0]

    assert report.retired == ["llama-3.1-8b @ workers-ai (@cf/meta/llama-3.1-8b-instruct)"]
    assert report.missing == ["@cf/zai/glm-5"]


def test_bedrock_lists_foundation_models_and_inference_profiles_through_botocore(db):
    provider = make_provider("bedrock", protocol="bedrock", config={"region": "us-east-1"})
    make_host(make_model("claude-haiku-4.5"), provider, upstream="us.anthropic.claude-haiku-4-5-20251001-v1:0")
    make_host(make_model("claude-2"), provider, upstream="anthropic.claude-v2")
    client = botocore.session.get_session().create_client(
        "bedrock", region_name="us-east-1", aws_access_key_id="AKIATEST", aws_secret_access_key="secret"
    )
    stub = Stubber(client)
    stub.add_response("list_foundation_models", {"modelSummaries": [_fm("amazon.nova-pro-v1:0")]})
    stub.add_response(
        "list_inference_profiles",
        {"inferenceProfileSummaries": [_profile("us.anthropic.claude-haiku-4-5-20251001-v1:0")], "nextToken": "t"},
    )
    stub.add_response("list_inference_profiles", {"inferenceProfileSummaries": [_profile("us.amazon.nova-pro-v1:0")]})

    with stub:
        listed = upstream.list_bedrock(fake({}), upstream.Target("bedrock", "bedrock", "", None), lambda t: client)
    report = apply_list(provider, listed)
    assert listed == {"amazon.nova-pro-v1:0", "us.anthropic.claude-haiku-4-5-20251001-v1:0", "us.amazon.nova-pro-v1:0"}
    assert report.retired == ["claude-2 @ bedrock (anthropic.claude-v2)"]


def _fm(model_id: str) -> dict:
    return {"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}", "modelId": model_id}


def _profile(profile_id: str) -> dict:
    return {
        "inferenceProfileName": profile_id,
        "inferenceProfileArn": f"arn:aws:bedrock:us-east-1:1:inference-profile/{profile_id}",
        "models": [{"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/x"}],
        "inferenceProfileId": profile_id,
        "status": "ACTIVE",
        "type": "SYSTEM_DEFINED",
    }


def test_vertex_is_skipped_with_a_reported_reason(db):
    make_provider("vertex", protocol="vertex-anthropic")
    report = sync_all(fake({}), slugs=["vertex"], mail=False)[0]

    assert report.status == "skipped" and "Vertex" in report.reason


def test_google_s_openai_endpoint_ids_lose_their_models_prefix(db, monkeypatch):
    monkeypatch.setenv("GEMINI_TEST_KEY", "g")
    provider = make_provider("google-ai-studio", api_key_env="GEMINI_TEST_KEY", base_url="https://g.test/v1beta/openai")
    make_host(make_model("gemini-3.5-flash"), provider, upstream="gemini-3.5-flash")
    body = {"data": [{"id": "models/gemini-3.5-flash"}, {"id": "models/gemini-3.8-flash"}]}

    report = sync_all(fake({"https://g.test/v1beta/openai/models": body}), slugs=["google-ai-studio"], mail=False)[0]

    assert report.retired == [] and report.missing == ["gemini-3.8-flash"]


# --- prices ---------------------------------------------------------------------------------


@pytest.fixture
def deepseek(db):
    direct = make_provider("deepseek")
    openrouter = make_provider("openrouter")
    model = make_model("deepseek-v3.2")
    return {
        "direct": make_host(model, direct, inp=280_000, out=420_000, upstream="deepseek-chat"),
        "openrouter": make_host(model, openrouter, inp=270_000, out=400_000, upstream="deepseek/deepseek-v3.2"),
    }


def _price_check(settings) -> SyncReport:
    settings.ADMINS = [("Ops", "ops@qlaud.test")]
    return sync_all(fake({upstream.OPENROUTER_MODELS_URL: OPENROUTER_LIST}), mail=True)[-1]


def test_a_price_that_differs_from_the_published_one_is_reported_and_never_changed(deepseek, settings):
    report = _price_check(settings)

    assert report.kind == "openrouter-prices" and report.status == "ok"
    assert [(d["host_id"], d["ours"]["input"], d["theirs"]["input"]) for d in report.price_diffs] == [
        (deepseek["openrouter"].id, 270_000, 280_000)
    ]
    deepseek["openrouter"].refresh_from_db()
    assert deepseek["openrouter"].price.input == 270_000
    assert "price differs: deepseek-v3.2 @ openrouter" in mail.outbox[0].body


def test_staff_accept_a_reported_price_as_a_new_price_version(deepseek, settings):
    _price_check(settings)
    before = PriceVersion.objects.count()
    out = StringIO()
    call_command("acceptprice", str(deepseek["openrouter"].id), stdout=out)

    host = Host.objects.select_related("price").get(id=deepseek["openrouter"].id)
    assert (host.price.input, host.price.output, host.price.verified) == (280_000, 420_000, True)
    assert PriceVersion.objects.count() == before + 1
    assert "new price version" in out.getvalue()
    with pytest.raises(CommandError, match="changed since"):
        call_command("acceptprice", str(host.id), stdout=StringIO())


def test_acceptprice_refuses_a_host_the_price_check_did_not_report(deepseek, settings):
    _price_check(settings)
    with pytest.raises(CommandError, match="no difference"):
        call_command("acceptprice", str(deepseek["direct"].id), stdout=StringIO())


def test_an_openrouter_list_of_garbage_is_reported_and_changes_no_price(deepseek, settings):
    report = sync_all(fake({upstream.OPENROUTER_MODELS_URL: "]]"}), mail=False)[-1]

    assert report.status == "failed"
    assert PriceVersion.objects.count() == 2


def test_openrouter_per_token_strings_become_micro_dollars_per_million_tokens():
    assert upstream.per_mtok("0.000003") == 3_000_000
    assert upstream.per_mtok("0.00000028") == 280_000
    assert upstream.per_mtok("0") == 0
    assert upstream.per_mtok("-1") is None
    assert upstream.per_mtok("abc") is None
    assert upstream.per_mtok(0.1) is None


def test_synccatalog_prints_one_line_per_provider(groq, monkeypatch):
    client = fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")})
    monkeypatch.setattr(upstream, "new_client", lambda: client)
    out = StringIO()
    call_command("synccatalog", "groq", "--no-mail", stdout=out)

    assert out.getvalue().strip() == "groq: ok: 1 upstream, 1 retired, 0 not in the catalog"
    assert json.loads(json.dumps(SyncReport.objects.get().retired))


@pytest.mark.django_db(transaction=True)
def test_a_client_asking_for_a_retired_model_is_told_its_replacement(client, groq, org_a, alice):
    _, raw = mint_key(org_a, alice, "test key")
    sync_all(fake({GROQ_MODELS: _groq_list("meta-llama/llama-4-scout")}), slugs=["groq"], mail=False)
    body = {"model": "llama-3-70b", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}

    response = client.post(
        "/v1/chat/completions", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )

    assert response.status_code == 404
    assert "Use 'llama-4-scout' instead" in response.json()["error"]["message"]
