"""The translation core is pure: nothing under gateway/translate/ imports Django, directly or through another module."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
TRANSLATE = ROOT / "gateway" / "translate"
PURE = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for path in TRANSLATE.rglob("*.py")
)


def test_the_walk_finds_the_translation_core() -> None:
    assert "gateway.translate.request" in PURE
    assert "gateway.translate.responses.stream" in PURE


@pytest.mark.parametrize("module", PURE)
def test_the_module_source_imports_nothing_from_django(module: str) -> None:
    source = ROOT.joinpath(*module.split(".")).with_suffix(".py")
    if not source.exists():
        source = ROOT.joinpath(*module.split("."), "__init__.py")
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    names += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert not [name for name in names if name.split(".")[0] in ("django", "rest_framework", "channels")]


def test_the_modules_import_with_django_blocked() -> None:
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'django':\n"
        "            raise ImportError('django is blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        + "".join(f"import {module}\n" for module in PURE)
        + "print(sorted(m for m in sys.modules if m.startswith('django')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocker], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
