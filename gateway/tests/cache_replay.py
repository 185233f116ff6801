"""A recorded 20-turn coding-agent conversation, generated deterministically, for the prompt-cache replay.

The agent has a large system prompt (~8k tokens) and a dozen tools; each turn it calls a tool and gets a result of
1-3k tokens back, so the prompt grows from ~10k to ~55k tokens: the shape of Cline, Roo or Kilo working a task.
`turns(client_marks=...)` yields the OpenAI-format body of each of the 20 requests. With `client_marks`, the body
carries breakpoints the way Cline and OpenRouter's docs do: `cache_control` on the system part and on the last part
of the last two user (or tool) messages.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

TURNS = 20
MODEL = "claude-sonnet-4.5"
MARK = {"type": "ephemeral"}
TOOL_NAMES = (
    "read_file write_file replace_in_file search_files list_files list_code_definitions execute_command "
    "browser_action use_mcp_tool ask_followup_question attempt_completion new_task"
).split()
_WORDS = (
    "the agent must always read a file before editing it and keep diffs minimal while running tests after "
    "each change so that regressions surface early in the loop of planning acting and checking results"
).split()


def _prose(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words))


def system_prompt() -> str:
    rng = random.Random(18)
    rules = [f"RULE {i}: {_prose(rng, 40)}." for i in range(150)]
    return "You are a coding agent.\n\n" + "\n".join(rules)


def tools() -> list[dict[str, Any]]:
    rng = random.Random(19)
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": _prose(rng, 60),
                "parameters": {
                    "type": "object",
                    "properties": {"path": {"type": "string", "description": _prose(rng, 12)}},
                    "required": ["path"],
                },
            },
        }
        for name in TOOL_NAMES
    ]


def _file_body(turn: int) -> str:
    rng = random.Random(1000 + turn)
    lines = rng.randint(60, 180)
    return "\n".join(
        f"{n:4d}  def f_{turn}_{n}(x): return x + {rng.randint(0, 999)}  # {_prose(rng, 4)}" for n in range(lines)
    )


def _exchange(turn: int) -> list[dict[str, Any]]:
    call_id = f"call_{turn:03d}"
    name = TOOL_NAMES[turn % 3]
    arguments = f'{{"path": "src/module_{turn}.py"}}'
    return [
        {
            "role": "assistant",
            "content": f"Step {turn}: I will use {name}.",
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
        },
        {"role": "tool", "tool_call_id": call_id, "content": _file_body(turn)},
    ]


def conversation() -> list[dict[str, Any]]:
    """The whole recorded conversation: system, the task, then 19 tool exchanges (the 20th request's prompt)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": system_prompt()},
        {"role": "user", "content": "Fix the failing tests in src/ and explain what was wrong."},
    ]
    for turn in range(1, TURNS):
        messages += _exchange(turn)
    return messages


def turns(*, client_marks: bool) -> Iterator[dict[str, Any]]:
    whole = conversation()
    for turn in range(TURNS):
        messages = copy.deepcopy(whole[: 2 + 2 * turn])
        if client_marks:
            _mark(messages)
        yield {"model": MODEL, "messages": messages, "tools": tools(), "max_tokens": 1024}


def _mark(messages: list[dict[str, Any]]) -> None:
    talk = [m for m in messages if m["role"] in ("user", "tool")]
    targets = [messages[0], *talk[-2:]]
    for message in targets:
        message["content"] = [{"type": "text", "text": message["content"], "cache_control": MARK}]
