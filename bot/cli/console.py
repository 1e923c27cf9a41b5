"""``classmod console``: the moderators' web console, and ``classmod console link`` for a sign-in link."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from bot.cli import common
from bot.cli.common import _fail, _settings, _store
from bot.clock import SystemClock
from moderation.errors import ModerationError
from moderation.policy import load_policy

__all__ = ["console_app"]

console_app = typer.Typer(
    help="The moderators' web console: cases, learners and groups in a browser.", invoke_without_command=True
)


@console_app.callback()
def console(ctx: typer.Context) -> None:
    """Serve the web console at CLASSMOD_CONSOLE_HOST:CLASSMOD_CONSOLE_PORT (see the README)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from bot.web.app import create_app

    settings = _settings(ctx)
    try:
        policy = load_policy(settings.policy_file)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    store = _store(settings)
    app = create_app(store=store, policy=policy, settings=settings, clock=SystemClock())
    common.out.print(f"classmod console at {settings.console_url} (listening on {settings.console_host})")
    try:
        # uvicorn's own access log names every path, a sign-in link's token included: ours names the route.
        uvicorn.run(
            app, host=settings.console_host, port=settings.console_port, access_log=False, log_config=None
        )
    finally:
        store.close()


@console_app.command("link")
def link(
    ctx: typer.Context,
    platform: Annotated[str, typer.Option(help="telegram or discord")],
    user: Annotated[str, typer.Option(help="the person's user id on that platform")],
) -> None:
    """Print a one-time sign-in link (10 minutes) for a listed moderator or safeguarding officer."""
    from bot.web.auth import issue_link

    if platform not in ("telegram", "discord"):
        raise _fail(f"--platform {platform!r}: use telegram or discord")
    settings = _settings(ctx)
    store = _store(settings)
    try:
        url = issue_link(store, settings, platform, user.strip(), datetime.now(UTC))
    except PermissionError as exc:
        raise _fail(str(exc), code=1) from exc
    finally:
        store.close()
    common.out.print(url, markup=False, highlight=False, soft_wrap=True)
