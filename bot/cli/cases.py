"""``classmod status``, ``cases`` and ``purge``: what the bot runs with, the moderators' queue, retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from bot import status_view, views
from bot.app import open_services
from bot.cli import common
from bot.cli.common import _fail, _settings, _store, app
from bot.config import Settings
from bot.rota import staff_from
from bot.store import CASE_STATUSES, CaseRecord
from moderation.errors import ModerationError
from moderation.verdicts import is_officers_only

__all__ = ["MAX_CASE_ID", "OfficerOption", "cases_app", "officer_named", "purge", "status"]

cases_app = typer.Typer(help="The moderators' queue.", no_args_is_help=True)
MAX_LIMIT = 1000
MAX_PERIOD = timedelta(days=3650)
MAX_CASE_ID = 2**63 - 1  # no database here holds a larger id, and SQLite overflows on one


@app.command()
def status(ctx: typer.Context) -> None:
    """Show the scorer in use (and why), the store, the policy and the case counts."""
    settings = _settings(ctx)
    try:
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    status_view.print_status(common.out, services)
    services.store.close()


OfficerOption = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="PLATFORM:ID",
        help="a safeguarding officer (e.g. telegram:33333333), to see safeguarding and staff-conduct cases; "
        "each such view is recorded in the audit log",
    ),
]


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=", ".join(CASE_STATUSES))] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="how many cases to show")] = 50,
    officer: OfficerOption = None,
) -> None:
    """List cases, newest first (safeguarding and staff-conduct cases only to an officer named with --as)."""
    if status is not None and status not in CASE_STATUSES:
        raise _fail(f"--status {status!r} is not a case status; use one of {', '.join(CASE_STATUSES)}")
    settings = _settings(ctx)
    actor = officer_named(settings, officer)
    store = _store(settings)
    try:
        cases = store.cases(status=status, limit=limit)
        hidden = [case for case in cases if _officers_only(case)]
        if actor is None:
            cases = [case for case in cases if not _officers_only(case)]
        else:
            store.record_views([case.id for case in hidden], actor=actor, action="list", at=datetime.now(UTC))
        views.print_queue(common.out, cases)
        if actor is None and hidden:
            common.out.print(
                f"{len(hidden)} safeguarding or staff-conduct case(s) not shown: only a safeguarding officer "
                "may see them (--as PLATFORM:ID)",
                markup=False,
            )
    finally:
        store.close()


@cases_app.command("show")
def cases_show(ctx: typer.Context, case_id: int, officer: OfficerOption = None) -> None:
    """Show one case: the message, the evidence, the decision and every action taken."""
    settings = _settings(ctx)
    actor = officer_named(settings, officer)
    store = _store(settings)
    try:
        case = store.get_case(case_id) if 1 <= case_id <= MAX_CASE_ID else None
        if case is None:
            raise _fail(f"there is no case #{case_id}; `classmod cases list` shows the queue", code=1)
        if _officers_only(case):
            if actor is None:
                raise _fail(
                    f"case #{case_id} is a safeguarding or staff-conduct case: only a safeguarding officer "
                    "may see it; name one with --as PLATFORM:ID (the view is recorded in the audit log)",
                    code=1,
                )
            store.record_views([case_id], actor=actor, action="view", at=datetime.now(UTC))
        audit = store.audit_log(case_id) if _officers_only(case) else []
        views.print_case(common.out, case, store.case_actions(case_id), store.appeals(case_id), audit)
    finally:
        store.close()


def _officers_only(case: CaseRecord) -> bool:
    return is_officers_only(case.flagged, case.route, case.status)


def officer_named(settings: Settings, named: str | None) -> str | None:
    """The officer named with --as, as ``platform:id``; refused unless the settings list them as one."""
    if named is None:
        return None
    officers = {
        f"{platform}:{user}"
        for platform in ("telegram", "discord")
        for user in staff_from(settings, platform).safeguarding_officers
    }
    if named.strip().lower() not in officers:
        raise _fail(
            f"--as {named!r} is not a safeguarding officer: officers are listed in "
            "CLASSMOD_TELEGRAM_SAFEGUARDING_OFFICERS, CLASSMOD_DISCORD_SAFEGUARDING_OFFICERS and "
            "the safeguarding rota (CLASSMOD_SAFEGUARDING_ROTA)",
            code=1,
        )
    return named.strip().lower()


@app.command()
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str | None, typer.Option(help="e.g. 90d or 12h; default: the retention setting")
    ] = None,
) -> None:
    """Remove the text of cases older than the retention period (the case record stays for audit)."""
    settings = _settings(ctx)
    try:
        period = _period(older_than) if older_than else timedelta(days=settings.retention_days)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    store = _store(settings)
    purged = store.purge(older_than=period, now=datetime.now(UTC))
    common.out.print(f"purged the text of {purged} case(s) older than {older_than or f'{period.days}d'}")
    store.close()


def _period(value: str) -> timedelta:
    units = {"d": "days", "h": "hours", "w": "weeks"}
    number, unit = value[:-1], value[-1:].lower()
    digits = number.lstrip("0")
    if unit not in units or not (number.isascii() and number.isdigit()) or not digits:
        raise ValueError(f"--older-than {value!r}: use a number and d, h or w, e.g. 90d")
    # Checked before timedelta() sees it: a huge period overflows the date arithmetic.
    period = timedelta(**{units[unit]: int(digits)}) if len(digits) <= 6 else None
    if period is None or period > MAX_PERIOD:
        raise ValueError(f"--older-than {value!r} is too long: at most {MAX_PERIOD.days}d (ten years)")
    return period
