"""What every ``classmod`` command shares: the root app, the consoles, the settings, the error lines.

The helpers keep their leading underscore: they are private to the ``bot.cli`` package, which the
command modules (``check``, ``replay``, ``run``...) share. Standard output's console is rebuilt for
each invocation, so the command modules read it as ``common.out``, never a copy imported once.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.app import open_store
from bot.config import Settings, load_settings
from bot.logs import configure_logging
from bot.redaction import Redaction
from bot.store import Store
from moderation.errors import ModerationError

__all__ = ["app", "err", "out"]

app = typer.Typer(
    help="classmod: moderation for class chat groups.", no_args_is_help=True, add_completion=False
)

# The package's name, not this module's: operators and tests look for "bot.cli" in the log.
logger = logging.getLogger("bot.cli")
PIPED_WIDTH = 120
_SETTINGS = "classmod.settings"


def _stdout_console() -> Console:
    console = Console(soft_wrap=False)
    if console.is_terminal:
        return console
    # Piped or captured, Rich assumes 80 columns, which folds the replay table into fragments.
    return Console(soft_wrap=False, width=max(PIPED_WIDTH, console.width))


out = _stdout_console()
err = Console(stderr=True)
# The settings' secrets, masked in every error line; set where the settings are read.
_redact = Redaction()


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"classmod {_version()}")
        raise typer.Exit()


def _version() -> str:
    try:
        return importlib.metadata.version("classmod")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown: not installed as a package)"


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="Show the version and exit."),
    ] = False,
) -> None:
    # Standard output may have changed since import (a pipe, a test runner): size the tables for it.
    global out, _redact
    out = _stdout_console()
    _redact = Redaction()  # until this invocation's settings are read


def _fail(message: str, code: int = 2) -> typer.Exit:
    # One line (never folded at 80 columns), with every configured secret masked: library errors quote URLs.
    err.print(f"[bold red]error:[/bold red] {escape(_redact(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _unexpected(exc: Exception) -> typer.Exit:
    # What no handler foresaw: the traceback goes to the log (redacted like every record), then one line.
    logger.critical("classmod stopped on an unexpected error", exc_info=exc)
    raise _fail(f"stopped on an unexpected {type(exc).__name__}: {' '.join(str(exc).split())}", code=1)


def _settings(ctx: typer.Context) -> Settings:
    # Built on first use, so a command that needs none (`policy validate`) never fails on them.
    settings = ctx.meta.get(_SETTINGS)
    if isinstance(settings, Settings):
        return settings
    try:
        settings = load_settings()
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    global _redact
    _redact = Redaction.of(settings)
    configure_logging(settings)
    ctx.meta[_SETTINGS] = settings
    return settings


def _store(settings: Settings) -> Store:
    try:
        return open_store(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
