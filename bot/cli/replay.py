"""``classmod replay`` and ``demo``: a whole chat through the full pipeline (strikes, store), as a table."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from adapters.recording_adapter import RecordingAdapter
from bot import views
from bot.app import make_pipeline, open_services
from bot.cli import common
from bot.cli.common import _fail, _settings, app, err
from bot.config import Settings, check_database_url
from bot.transcript import TranscriptError, demo_transcript_path, read_transcript
from moderation.errors import ModerationError

__all__ = ["demo", "replay"]


@app.command()
def replay(
    ctx: typer.Context,
    transcript: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines transcript")],
    database_url: Annotated[
        str | None, typer.Option(help="keep the cases in this store (default: a throwaway SQLite file)")
    ] = None,
) -> None:
    """Run a whole chat through the full pipeline (strikes, store) and show every decision."""
    if database_url is not None:
        try:
            check_database_url(database_url)
        except ValueError as exc:
            raise _fail(f"--database-url: {exc}") from exc
    _replay(_settings(ctx), transcript, database_url)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Replay a bundled week of an ESOL class chat into a throwaway store, then show the moderators' queue."""
    _replay(_settings(ctx), demo_transcript_path(), None, show_queue=True)


def _replay(
    settings: Settings, transcript: Path, database_url: str | None, *, show_queue: bool = False
) -> None:
    with tempfile.TemporaryDirectory(prefix="classmod-") as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'replay.db'}"
        try:
            # The transcript first: a typo in it should not cost a model load, nor leave a store open.
            lines = list(read_transcript(transcript))
            services = open_services(settings, database_url=url)
        except (ModerationError, TranscriptError) as exc:
            raise _fail(str(exc)) from exc
        try:
            views.print_scorer_banner(err, services.loaded)
            logging.getLogger("bot.pipeline").setLevel(logging.WARNING)  # the table says it all
            pipeline = make_pipeline(services, RecordingAdapter())

            async def run_all() -> list[Any]:
                return [await pipeline.handle(line.message, now=line.message.sent_at) for line in lines]

            outcomes = asyncio.run(run_all())
            views.print_replay(common.out, lines, outcomes)
            if show_queue:
                views.print_queue(common.out, services.store.open_cases(limit=500), is_queue=True)
        finally:
            services.store.close()
