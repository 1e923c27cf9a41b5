"""The core stays platform-neutral: dependencies point inward (STYLE.md, house rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = {
    "discord",
    "telegram",
    "sqlmodel",
    "sqlalchemy",
    "psycopg",
    "bot",
    "adapters",
    "aiohttp",
    "httpx",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted((ROOT / "moderation").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_core_imports_no_platform_database_or_app(path: Path) -> None:
    assert _imports(path) & FORBIDDEN_IN_CORE == set()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "adapters").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_adapters_do_not_touch_the_database(path: Path) -> None:
    assert _imports(path) & {"sqlmodel", "sqlalchemy", "psycopg"} == set()


def test_only_the_settings_read_the_environment() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("moderation", "bot", "adapters")
        for path in (ROOT / folder).rglob("*.py")
        if "os.environ" in path.read_text(encoding="utf-8") or "getenv(" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
