"""``classmod run``: the bot on a platform (console, telegram or discord), moderated by the real pipeline."""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Annotated

import typer

from bot import views
from bot.app import make_pipeline, open_services
from bot.cli import common
from bot.cli.common import _fail, _settings, _unexpected, app, err
from bot.config import Settings
from bot.lease import Lease
from moderation.errors import ModerationError
from moderation.types import ChatMessage

__all__ = ["CHAT_PLATFORMS", "run"]

CHAT_PLATFORMS = ("telegram", "discord")
"""The chat platforms, each a package ``adapters/<name>/`` (``classmod run <name>``)."""


@app.command()
def run(
    ctx: typer.Context,
    platform: Annotated[
        str, typer.Argument(help="console, telegram or discord (see the README)")
    ] = "console",
) -> None:
    """Run the bot on a platform: console, telegram or discord.

    The console platform is a local class chat in this terminal, moderated by the real pipeline.
    """
    settings = _settings(ctx)
    if platform in CHAT_PLATFORMS:
        _run_platform(platform, settings)
        return
    if platform != "console":
        raise _fail(f"unknown platform {platform!r}: use console, telegram or discord")
    from adapters.console.adapter import ConsoleAdapter, ConsoleChat

    try:
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_scorer_banner(err, services.loaded)
    logging.getLogger("bot.pipeline").setLevel(logging.WARNING)  # the chat shows every action
    pipeline = make_pipeline(services, ConsoleAdapter(common.out))

    async def handle(message: ChatMessage) -> None:
        outcome = await pipeline.handle(message)
        if outcome.error:
            err.print(f"[red]not moderated:[/red] {outcome.error}")
        elif outcome.decision is not None and not outcome.decision.is_flagged:
            common.out.print("  [green]✓[/green]", highlight=False)

    asyncio.run(ConsoleChat(common.out, handle).run(lambda: input("> ")))
    services.store.close()


def _run_platform(name: str, settings: Settings) -> None:
    """Run a chat platform's bot: its package's ``app.prepare`` checks its settings, then one lease each.

    A platform is the package ``adapters/<name>/``; its ``app`` module offers ``prepare(settings)``,
    which fails early (a refused token, a bad API URL) and returns the bot's ``run(services)``.
    """
    platform = importlib.import_module(f"adapters.{name}.app")
    try:
        start = platform.prepare(settings)
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_scorer_banner(err, services.loaded)
    try:
        lease = Lease(services.store, name, seconds=settings.lease_seconds)
        lease.wait()
        with lease.held():
            start(services)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _unexpected(exc) from exc
    finally:
        services.store.close()
