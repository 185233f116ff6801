"""The real Claude Code CLI against qlaud, routed to a DeepSeek-shaped fake upstream.

Install once (.ci/run does it): `npm install --prefix .tools @anthropic-ai/claude-code`.
The binary is looked up in $CLAUDE_BIN, on PATH, then in .tools, .ci/node and /tmp/qlaud-claude-code.
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

from gateway.tests.conftest import E2E
from gateway.tests.e2e import billed

pytestmark = E2E

SEARCH = [
    Path(settings.BASE_DIR) / ".tools/node_modules/.bin/claude",
    Path(settings.BASE_DIR) / ".ci/node/node_modules/.bin/claude",
    Path("/tmp/qlaud-claude-code/node_modules/.bin/claude"),
]


def claude_bin() -> str | None:
    found = os.environ.get("CLAUDE_BIN") or shutil.which("claude")
    return found or next((str(p) for p in SEARCH if p.exists()), None)


def run_claude(live: Any, key: str, home: Path, prompt: str, *extra: str) -> dict[str, Any]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": live.url,
        "ANTHROPIC_API_KEY": key,
        "ANTHROPIC_MODEL": "claude-sonnet-5",
        "ANTHROPIC_SMALL_FAST_MODEL": "claude-sonnet-5",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-sonnet-5",
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }
    command = [claude_bin(), "-p", prompt, "--output-format", "json", "--allowedTools", "Read", *extra]
    done = subprocess.run(
        command, cwd=home, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"claude printed no JSON (rc={done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.skipif(
    claude_bin() is None, reason="Claude Code CLI not installed (npm install @anthropic-ai/claude-code)"
)
def test_claude_code_runs_a_tool_loop_through_qlaud_on_a_deepseek_upstream(live, catalog, tenant, fake, tmp_path):
    deepseek = catalog.provider("deepseek")
    model = catalog.model("deepseek-agent", (deepseek, "fake-agent"))
    catalog.alias(tenant.org, "claude-sonnet-5", model)
    note = tmp_path / "note.txt"
    note.write_text("hello-from-qlaud\n")
    fake.agent_tool = ("Read", {"file_path": str(note)})

    result = run_claude(live, tenant.raw, tmp_path, "Read note.txt and tell me what it says.")

    assert result["type"] == "result" and result["is_error"] is False, result
    assert "hello-from-qlaud" in result["result"]
    upstream = fake.bodies("/chat/completions")
    follow_ups = [b for b in upstream if any(m["role"] == "tool" for m in b["messages"])]
    assert follow_ups, "the tool result never reached the upstream"
    turn = next(m for m in follow_ups[0]["messages"] if m.get("tool_calls"))
    assert turn["reasoning_content"] == "I should use a tool."  # DeepSeek's rule for tool-call turns
    assert "hello-from-qlaud" in json.dumps([m for m in follow_ups[0]["messages"] if m["role"] == "tool"])
    rows = billed(len(upstream))
    charged = [r for r in rows if r.surface == "messages" and r.cost > 0]
    assert len(charged) >= 2 and all(r.requested_model == "claude-sonnet-5" for r in charged)

    # A second turn in the same session replays the history: the sealed thinking of the first
    # turn's tool call must go back to DeepSeek as reasoning_content.
    fake.reset()
    again = run_claude(live, tenant.raw, tmp_path, "Read it once more.", "--continue")
    assert again["is_error"] is False and "hello-from-qlaud" in again["result"], again
    first = fake.bodies("/chat/completions")[0]
    replayed = [m for m in first["messages"] if m.get("tool_calls")]
    assert replayed and replayed[0]["reasoning_content"] == "I should use a tool."
    assert len(billed(len(upstream) + len(fake.bodies("/chat/completions")))) >= 4
