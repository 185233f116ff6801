import pytest
from gateway.tests.e2e import openai_client, billed

@pytest.mark.parametrize("surface", ["chat", "responses"])
def test_probe(catalog, tenant, live, fake, monkeypatch, surface):
    from asgiref.sync import AsyncToSync
    from gateway import pipeline
    orig = pipeline.report_outcome
    async def wrapped(*a, **k):
        ex = getattr(AsyncToSync.executors, "current", None)
        print("\nreport_outcome executor", surface, ex, ex and ex._broken)
        return await orig(*a, **k)
    monkeypatch.setattr(pipeline, "report_outcome", wrapped)
    orig_bg = pipeline.background
    def bg(coro):
        ex = getattr(AsyncToSync.executors, "current", None)
        print("\nbackground created with executor", surface, ex)
        return orig_bg(coro)
    monkeypatch.setattr(pipeline, "background", bg)
    provider = catalog.provider("deepseek", "openai", "/v1")
    catalog.model("m-text", (provider, "fake-text"))
    client = openai_client(live, tenant.raw)
    if surface == "chat":
        client.chat.completions.create(model="m-text", messages=[{"role": "user", "content": "hi"}])
    else:
        client.responses.create(model="m-text", input="hi")
    billed()
    import time; time.sleep(0.5)
