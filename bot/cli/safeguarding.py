"""``classmod safeguarding chronology``: a case's chronology for the learner's safeguarding file."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from bot.chronology import chronology, to_markdown, write_pdf
from bot.cli import common
from bot.cli.cases import MAX_CASE_ID, OfficerOption, officer_named
from bot.cli.common import _fail, _settings, _store
from bot.rota import rota_from

__all__ = ["safeguarding_app"]

safeguarding_app = typer.Typer(help="The safeguarding officer's record.", no_args_is_help=True)


@safeguarding_app.command("chronology")
def chronology_command(
    ctx: typer.Context,
    case_id: int,
    officer: OfficerOption = None,
    out: Annotated[Path, typer.Option(help="the folder for case-N-chronology.md and .pdf")] = Path(),
) -> None:
    """Write a case's chronology (who saw and did what, when) as Markdown and PDF; officers only."""
    settings = _settings(ctx)
    actor = officer_named(settings, officer)
    if actor is None:
        raise _fail("a chronology is for a safeguarding officer: name one with --as PLATFORM:ID", code=1)
    store = _store(settings)
    try:
        case = store.get_case(case_id) if 1 <= case_id <= MAX_CASE_ID else None
        if case is None:
            raise _fail(f"there is no case #{case_id}; `classmod cases list --as …` shows the queue", code=1)
        now = datetime.now(UTC)
        store.record_views([case_id], actor=actor, action="chronology", at=now)
        names = {
            key: member.label
            for member in rota_from(settings, None).members
            for platform, user in member.ids
            for key in (user, f"{platform}:{user}")
        }
        record = chronology(store, case, names=names, made_by=actor, now=now)
    finally:
        store.close()
    try:
        out.mkdir(parents=True, exist_ok=True)
        markdown, pdf = out / f"case-{case_id}-chronology.md", out / f"case-{case_id}-chronology.pdf"
        _write_private(markdown, to_markdown(record).encode("utf-8"))
        _write_private(pdf, b"")
        is_unicode = write_pdf(record, pdf, settings.pdf_font)
    except OSError as exc:
        raise _fail(f"cannot write the chronology into {out}: {exc.strerror or exc}") from exc
    common.out.print(f"wrote {markdown} and {pdf}", markup=False, highlight=False)
    if not is_unicode:
        common.err.print(
            "warning: no font with every script was found (set CLASSMOD_PDF_FONT); the PDF shows Latin "
            "letters only, the Markdown file everything",
            markup=False,
        )


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read: a chronology is a learner's safeguarding record."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
