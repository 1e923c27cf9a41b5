"""``classmod groups`` and ``consent``: the groups the bot may moderate, and written photo consents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from bot import views
from bot.cli import common
from bot.cli.common import _settings, _store
from moderation.policy import load_policy

__all__ = ["consent_app", "groups_app"]

groups_app = typer.Typer(help="Groups the service has authorised.", no_args_is_help=True)
consent_app = typer.Typer(help="Written photo consents.", no_args_is_help=True)


# Telegram group ids are negative (-100...): let them through as arguments, not options.
@groups_app.command("authorise", context_settings={"ignore_unknown_options": True})
def groups_authorise(
    ctx: typer.Context,
    platform: str,
    chat_id: str,
    title: Annotated[str, typer.Option(help="the group's name")] = "",
    by: Annotated[str, typer.Option(help="who authorised it")] = "cli",
) -> None:
    """Authorise a group so the bot moderates it."""
    settings = _settings(ctx)
    mode = load_policy(settings.policy_file).new_group_mode
    store = _store(settings)
    group = store.authorise_group(
        platform, chat_id, title=title or chat_id, authorised_by=by, at=datetime.now(UTC), mode=mode
    )
    common.out.print(f"{platform} group {chat_id} is authorised ({group.mode or 'enforce'} mode)")
    store.close()


@groups_app.command("list")
def groups_list(ctx: typer.Context) -> None:
    """List known groups and whether each is authorised."""
    store = _store(_settings(ctx))
    views.print_groups(common.out, store.groups())
    store.close()


@consent_app.command("add")
def consent_add(
    ctx: typer.Context,
    platform: str,
    user_id: str,
    by: Annotated[str, typer.Option(help="the staff member who holds the written consent")] = "cli",
) -> None:
    """Record that a person's written photo consent is on file."""
    store = _store(_settings(ctx))
    store.add_consent(platform, user_id, recorded_by=by, at=datetime.now(UTC))
    common.out.print(f"photo consent recorded for {platform} user {user_id}")
    store.close()
