"""The Codex CLI as an agent against qlaud: a shell tool turn and the turn after it, over /v1/responses.

Codex talks only the Responses API. qlaud routes its model name (an org alias) to the fake upstream in DeepSeek's
shape, which answers the first turn with reasoning + a tool call and the second (after the tool output) with text.

Needs the CLI: `npm install --prefix .tools @openai/codex` (what .ci/run does), or `codex` on PATH, or
CODEX_BIN=/path/to/codex.
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

from gateway.tests.e2e import billed

pytestmark = pytest.mark.e2e

MARKER = "hello-from-qlaud"


def codex_bin() -> str | None:
    candidates = [
        os.environ.get("CODEX_BIN", ""),
        shutil.which("codex") or "",
        str(Path(settings.BASE_DIR) / ".tools" / "node_modules" / ".bin" / "codex"),
    ]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


CODEX = codex_bin()


@pytest.fixture
def codex_home(tmp_path: Path, live: Any) -> Path:
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f"""model = "gpt-5-codex"
model_provider = "qlaud"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.qlaud]
name = "qlaud"
base_url = "{live.url}/v1"
env_key = "QLAUD_TEST_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""
    )
    return home


def run_codex(home: Path, workdir: Path, key: str, prompt: str) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEX_"))}
    env.update({"CODEX_HOME": str(home), "QLAUD_TEST_KEY": key, "NO_COLOR": "1", "RUST_LOG": "error"})
    done = subprocess.run(
        [CODEX, "exec", "--skip-git-repo-check", "--json", prompt],  # type: ignore[list-item]
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    events = []
    for line in done.stdout.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    assert events, f"codex printed no JSON events (exit {done.returncode}): {done.stderr[-2000:]}"
    return events


@pytest.mark.skipif(CODEX is None, reason="Codex CLI not installed: npm install --prefix .tools @openai/codex")
def test_codex_runs_a_shell_tool_through_qlaud_and_finishes_the_turn(
    catalog: Any, tenant: Any, live: Any, fake: Any, codex_home: Path, tmp_path: Path
) -> None:
    provider = catalog.provider("deepseek", "openai", "/v1")
    model = catalog.model("deepseek-agent", (provider, "deepseek/fake-agent"))
    catalog.alias(tenant.org, "gpt-5-codex", model)
    fake.agent_tool = ("exec_command", {"cmd": f"echo {MARKER}"})
    workdir = tmp_path / "work"
    workdir.mkdir()

    events = run_codex(codex_home, workdir, tenant.raw, "Say hello using the shell.")

    kinds = [e.get("type") for e in events]
    assert "turn.completed" in kinds, events
    assert "turn.failed" not in kinds, events
    ran = [e["item"] for e in events if e.get("type") == "item.completed" and e["item"]["type"] == "command_execution"]
    assert ran and ran[0]["exit_code"] == 0 and MARKER in ran[0]["aggregated_output"]
    sent = [b for b in fake.bodies("/chat/completions") if isinstance(b, dict)]
    assert len(sent) >= 2, f"expected two upstream turns, got {len(sent)}"
    first, second = sent[0], sent[1]
    assert "exec_command" in [t["function"]["name"] for t in first.get("tools") or []]
    assistant = next(m for m in second["messages"] if m.get("tool_calls"))
    call_id = assistant["tool_calls"][0]["id"]
    assert call_id.startswith("call_")  # the upstream's id, carried through Codex and back
    assert assistant["reasoning_content"] == "I should use a tool."  # DeepSeek's reasoning came back
    tool = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool["tool_call_id"] == call_id and MARKER in tool["content"]
    rows = billed(count=len(sent))
    assert {r.surface for r in rows} == {"responses"} and all(r.cost > 0 for r in rows)
