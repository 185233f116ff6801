"""The Vercel AI SDK (ai + @ai-sdk/openai, in Node) against qlaud under uvicorn and the fake upstream.

`openai(MODEL)` posts to /v1/responses (input messages without a `type` field), `openai.chat(MODEL)` to
/v1/chat/completions. gateway/tests/clients/ai_sdk.mjs makes the calls and prints one JSON line of results.

Needs node and the packages: `npm install --prefix .tools --no-audit --no-fund ai @ai-sdk/openai zod`
(QLAUD_TOOLS=/path/to/folder-with-node_modules overrides .tools).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from gateway.tests.e2e import billed, expected_charge, fake_usage, record_client_bodies

SCRIPT = Path(__file__).parent / "clients" / "ai_sdk.mjs"
TOOLS = Path(os.environ.get("QLAUD_TOOLS") or Path(settings.BASE_DIR) / ".tools")
NODE = shutil.which("node")
PACKAGES = ("ai", "@ai-sdk/openai", "zod")
MISSING = [p for p in PACKAGES if not (TOOLS / "node_modules" / p / "package.json").exists()]
UPSTREAMS = {"openai": ("deepseek", "openai", "/v1"), "anthropic": ("anthropic", "anthropic", "")}
TEXT = "Hello from the fake upstream."

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"AI SDK packages missing in {TOOLS}/node_modules ({', '.join(MISSING)}): "
        "npm install --prefix .tools --no-audit --no-fund ai @ai-sdk/openai zod",
    ),
]


def run_ai_sdk(live: Any, key: str, **models: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AI_"))}
    env.update({"QLAUD_URL": live.url, "QLAUD_KEY": key, "QLAUD_TOOLS": str(TOOLS), "NO_COLOR": "1", **models})
    done = subprocess.run(
        [NODE, str(SCRIPT)],  # type: ignore[list-item]
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"node exited {done.returncode}: {done.stderr[-2000:]}"
    lines = done.stdout.strip().splitlines()
    assert lines, f"the AI SDK script printed nothing: {done.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.parametrize("upstream", list(UPSTREAMS))
def test_the_ai_sdk_gets_text_tool_calls_and_a_tool_round_trip_and_is_billed(
    upstream, catalog, tenant, live, fake, monkeypatch
) -> None:
    sent = record_client_bodies(monkeypatch)
    slug, protocol, path = UPSTREAMS[upstream]
    provider = catalog.provider(slug, protocol, path)
    for scenario in ("text", "tool", "agent"):
        catalog.model(f"m-{scenario}", (provider, f"fake-{scenario}"))
    fake.agent_tool = ("get_weather", {"city": "Paris"})

    got = run_ai_sdk(live, tenant.raw, MODEL_TEXT="m-text", MODEL_TOOL="m-tool", MODEL_AGENT="m-agent")

    errors = {step: r for step, r in got.items() if "error" in r}
    assert not errors, errors
    usage = {"inputTokens": 120, "outputTokens": 30}
    for step in ("generate", "stream", "history", "chat"):
        assert got[step]["text"] == TEXT and got[step]["finishReason"] == "stop", (step, got[step])
        assert {k: got[step]["usage"][k] for k in usage} == usage, (step, got[step]["usage"])
    assert got["stream"]["deltas"] > 1
    paris = [{"id": "call_w1", "name": "get_weather", "input": {"city": "Paris"}}]
    assert got["tool"] == {"toolCalls": paris, "finishReason": "tool-calls"}
    assert got["streamTool"] == {"toolCalls": paris, "finishReason": "tool-calls"}
    agent = got["agent"]
    assert agent["steps"] == 2 and agent["text"] == "Done: the tool said hello-from-qlaud."
    assert [(c["name"], c["input"]) for c in agent["toolCalls"]] == [("get_weather", {"city": "Paris"})]
    assert agent["toolResults"] == ["Sunny in Paris."]

    # The AI SDK's Responses input: messages without a `type`, then the agent's function_call and its output.
    responses, (chat,) = sent["responses"], sent["chat"]
    messages = [item for body in responses for item in body["input"] if "role" in item]
    assert messages and not [m for m in messages if "type" in m]
    agent_turn = responses[5]["input"]
    kinds = [item.get("type", "message") for item in agent_turn]
    assert kinds[0] == "message" and kinds[-2:] == ["function_call", "function_call_output"], kinds
    history = responses[6]["input"]
    assert [m["role"] for m in history] == ["system", "user", "assistant", "user"]
    assert chat["messages"] == [{"role": "user", "content": "hi"}]

    # The tool result reached the upstream under the id the upstream gave the call; the history reached it whole.
    agent_body, history_body = fake.requests[-3].body, fake.requests[-2].body
    call_id = agent["toolCalls"][0]["id"]
    if protocol == "openai":
        tool = next(m for m in agent_body["messages"] if m["role"] == "tool")
        assert tool["tool_call_id"] == call_id and tool["content"] == "Sunny in Paris."
        assert [m["role"] for m in history_body["messages"]] == ["system", "user", "assistant", "user"]
        assert history_body["messages"][2]["content"] == "Hello."
    else:
        result = next(b for b in agent_body["messages"][-1]["content"] if b["type"] == "tool_result")
        assert result["tool_use_id"] == call_id and "Sunny in Paris." in json.dumps(result["content"])
        assert "Be brief." in json.dumps(history_body["system"])
        assert [m["role"] for m in history_body["messages"]] == ["user", "assistant", "user"]
        assert "Hello." in json.dumps(history_body["messages"][1]["content"])

    # generate, stream, tool, streamTool, agent (2 turns), history on /v1/responses; openai.chat on
    # /v1/chat/completions.
    rows = billed(8)
    assert [(r.surface, r.requested_model, r.stream) for r in rows] == [
        ("responses", "m-text", False),
        ("responses", "m-text", True),
        ("responses", "m-tool", False),
        ("responses", "m-tool", True),
        ("responses", "m-agent", False),
        ("responses", "m-agent", False),
        ("responses", "m-text", False),
        ("chat", "m-text", False),
    ]
    assert all(r.status == 200 and r.cost == expected_charge(fake_usage()) for r in rows)
