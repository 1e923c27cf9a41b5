"""The core stays platform-neutral: dependencies point inward (STYLE.md, house rule 1)."""

from __future__ import annotations

import ast
import subprocess
import sys
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


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, ``from moderation import scorers`` counted as ``moderation.scorers``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path) -> set[str]:
    """The top-level packages a file imports (``discord``, ``bot``, ...)."""
    return {name.split(".")[0] for name in _imported_modules(path)}


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


@pytest.mark.parametrize("path", sorted((ROOT / "bot").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_platform_neutral_bot_imports_no_platform_library(path: Path) -> None:
    assert _imports(path) & {"discord", "telegram", "aiohttp"} == set()


@pytest.mark.parametrize(
    "path", sorted((ROOT / "adapters").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_adapters_import_nothing_of_the_store(path: Path) -> None:
    assert {
        name for name in _imported_modules(path) if name == "bot.store" or name.startswith("bot.store.")
    } == set()


@pytest.mark.parametrize("path", sorted((ROOT / "bot").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_bot_finds_chat_platforms_by_name_and_imports_none(path: Path) -> None:
    imported = {
        name for name in _imported_modules(path) if name.startswith(("adapters.telegram", "adapters.discord"))
    }
    assert imported == set()


def test_each_platform_lives_in_one_package() -> None:
    platform_modules = {
        str(path.relative_to(ROOT))
        for folder in ("bot", "adapters")
        for path in (ROOT / folder).rglob("*.py")
        if _imports(path) & {"discord", "telegram"}
    }
    assert platform_modules
    for module in platform_modules:
        assert module.startswith(("adapters/discord/", "adapters/telegram/")), module
    for platform in ("discord", "telegram"):
        touching = {m for m in platform_modules if _imports(ROOT / m) & {platform}}
        assert all(m.startswith(f"adapters/{platform}/") for m in touching), touching


_POLICY_MODULES = sorted(
    {*(ROOT / "moderation").glob("policy*.py"), *(ROOT / "moderation").glob("policy*/**/*.py")}
)


@pytest.mark.parametrize("path", _POLICY_MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_policy_imports_no_scorer(path: Path) -> None:
    # The scorers read the policy (phrases, semantic); the policy must not read them back.
    assert {
        name
        for name in _imported_modules(path)
        if name == "moderation.scorers" or name.startswith("moderation.scorers.")
    } == set()


def test_loading_the_policy_loads_no_scorer() -> None:
    # Catches what the file check cannot: a scorer reached through some module in between.
    program = (
        "import sys, moderation.policy; "
        "print(sorted(name for name in sys.modules if name.startswith('moderation.scorers')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"
