"""The README, the Makefile and the requirements agree with what the site does."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme() -> str:
    return (ROOT / "README.md").read_text()


def test_the_readme_holds_exactly_two_set_up_commands():
    set_up = readme().split("## Set up", 1)[1].split("##", 1)[0]
    block = set_up.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()] == ["make run", "make test"]


def test_the_readme_and_the_docs_agree_on_claude_codes_key_variable():
    from qlaud.clients import CLIENTS_BY_SLUG

    assert "ANTHROPIC_AUTH_TOKEN" in CLIENTS_BY_SLUG["claude-code"].snippets[0].code
    assert "ANTHROPIC_AUTH_TOKEN=ak_" in readme() and "ANTHROPIC_API_KEY" not in readme()


def test_the_readmes_first_steps_say_where_mail_goes_how_to_get_credit_and_how_to_sign_in():
    first = readme().split("## First steps", 1)[1].split("## Running", 1)[0]
    assert "console" in first and "verification link" in first
    assert "adjust_wallet <org-slug>" in first and "--credit" in first
    assert "--password" in first and "changepassword" in first


def test_requirements_point_at_nothing_outside_the_repository():
    for name in ("requirements.txt", "requirements-dev.txt"):
        assert not re.search(r"\.\./", (ROOT / name).read_text()), name


def test_make_run_says_it_runs_with_debug_and_why():
    run = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "DEBUG=$${DEBUG:-1}" in run and "production runs DEBUG=0" in run
