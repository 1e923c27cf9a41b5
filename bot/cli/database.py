"""``classmod db`` and ``keys``: the database's schema migrations, and the keys that seal its texts."""

from __future__ import annotations

import typer

from bot import views
from bot.cli import common
from bot.cli.common import _fail, _settings, _store
from bot.sealing import new_key
from moderation.errors import ModerationError

__all__ = ["db_app", "keys_app"]

db_app = typer.Typer(help="The database: its schema's migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="The keys that encrypt case texts and notes at rest.", no_args_is_help=True)


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key for CLASSMOD_DATA_KEYS (to standard output only; it is never logged)."""
    # No settings are read: a key can be made before classmod is configured.
    typer.echo(new_key())
    typer.echo(
        "# Put it first in CLASSMOD_DATA_KEYS (comma-separated, newest first), keep a copy somewhere safe "
        "(without it the encrypted texts are lost), then run `classmod keys rotate`."
    )


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context) -> None:
    """Encrypt every case text and note again with the first key in CLASSMOD_DATA_KEYS; say how many."""
    settings = _settings(ctx)
    if settings.data_keys is None:
        raise _fail(
            "there is no key to encrypt with: set CLASSMOD_DATA_KEYS (make one with `classmod keys generate`)"
        )
    store = _store(settings)
    try:
        changed = store.reseal()
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    common.out.print(
        f"re-encrypted {changed} stored text{'s' if changed != 1 else ''} with the newest key; "
        "every text is now sealed with it, so older keys can be removed from CLASSMOD_DATA_KEYS",
        highlight=False,
    )


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the schema's pending migrations (every start does too) and say from which revision to which."""
    store = _store(_settings(ctx))
    try:
        if store.schema_upgrade is not None:
            views.print_schema_upgrade(common.out, store.schema_upgrade, store.url_for_display)
    finally:
        store.close()
