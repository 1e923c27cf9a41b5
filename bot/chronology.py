"""A safeguarding case's chronology, for the learner's safeguarding file: what happened, when, by whom.

Everything the store knows about one case, in time order: the message posted and detected, the support
message sent, the card posted, every step of the rota, every view outside the chat, every decision, and
the officers' notes. Written by ``classmod safeguarding chronology`` as Markdown (every script a learner
writes in, exactly) and PDF (fpdf2 with a system TrueType font such as DejaVu Sans; without one, Latin
letters only, and the PDF says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.cards import shown_text
from bot.escalation import waited_text
from bot.pdf import FONT_PATHS, text_pdf
from bot.records import ActionRecord, CaseRecord
from bot.store import Store
from moderation.types import Route
from moderation.verdicts import HANDED_BACK, OFFICER_VERBS, Verb

__all__ = ["FONT_PATHS", "Chronology", "Entry", "chronology", "to_markdown", "write_pdf"]


_DONE_BY_BOT = {
    "remind": "Support message sent to the learner privately",
    "warn": "Warning sent to the author",
    "hide": "Message hidden from the group",
    "escalate": "Card posted in the {chat}",
}
_DONE_BY_STAFF = {
    "ack": "Acknowledged",
    "hide": "Asked for the message to be hidden",
    "hide-done": "Message hidden",
    "actioned": "Closed: action taken",
    "referon": "Closed: referred on",
    "noconcern": "Closed: no concern",
    "notify-done": "Learner told",
    "refer": "Referred to the safeguarding officer by the moderators",
    "refer-done": "Card posted in the safeguarding chat",
    "card-done": "Card posted in the {chat}",
    HANDED_BACK: "No safeguarding concern: handed back to the moderators",
}
_MOVES = {Verb.REFER.value: Route.SAFEGUARDING, HANDED_BACK: Route.MODERATORS}
"""Logged decisions that move a case to the other chat."""
_ANSWERS = frozenset({*(verb.value for verb in OFFICER_VERBS), HANDED_BACK})
"""What counts as an officer's answer to a case, for its response time."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the chronology."""

    at: datetime
    who: str
    what: str


@dataclass(frozen=True, slots=True)
class Chronology:
    """A case, its entries in time order, and how long until a person first answered it."""

    case: CaseRecord
    entries: tuple[Entry, ...]
    answered_after: timedelta | None
    answered_by: str | None
    made_at: datetime
    made_by: str


def chronology(
    store: Store, case: CaseRecord, *, names: Mapping[str, str], made_by: str, now: datetime
) -> Chronology:
    """Gather a case's chronology from the store; ``names`` turns staff ids into names (the rota's)."""

    def name(actor: str) -> str:
        return "classmod" if actor == "bot" else names.get(actor, actor)

    entries = [
        Entry(case.created_at, case.author_name, f"Message posted in group {case.chat_id}"),
        Entry(case.created_at, "classmod", _detected(case)),
    ]
    answered: tuple[datetime, str] | None = None
    actions = store.case_actions(case.id)
    route = _first_route(case, actions)
    for item in actions:
        if item.outcome == "started":
            continue
        by_bot = item.actor == "bot"
        if not by_bot and item.outcome == "ok" and item.action in _MOVES:
            route = _MOVES[item.action]
        label = (_DONE_BY_BOT if by_bot else _DONE_BY_STAFF).get(item.action, item.action)
        label = label.format(chat=route.pick(moderators="moderators' chat", safeguarding="safeguarding chat"))
        if item.outcome != "ok":
            label = f"{label}: {item.outcome}" + (f" ({item.detail})" if item.detail else "")
        entries.append(Entry(item.at, name(item.actor), label))
        if not by_bot and item.outcome == "ok" and item.action in _ANSWERS:
            answered = answered or (item.at, name(item.actor))
    for alert in store.alerts([case.id])[case.id]:
        where = (
            "posted again in the staff chat"
            if alert.position is None
            else f"sent privately to {alert.recipient}"
        )
        outcome = (
            ""
            if alert.outcome == "ok"
            else f": {alert.outcome}" + (f" ({alert.detail})" if alert.detail else "")
        )
        entries.append(Entry(alert.at, "classmod", f"Rota step {alert.step}: card {where}{outcome}"))
    for note in store.notes(case.id):
        entries.append(Entry(note.at, note.actor_name, f"Note: {note.text or '(purged with the case text)'}"))
    for at, actor, action, via in store.audit_log(case.id):
        entries.append(Entry(at, name(actor), f"Viewed the case ({action}, {via})"))
    for appeal in store.appeals(case.id):
        entries.append(Entry(appeal.at, case.author_name, f"Appeal by the learner ({appeal.status})"))
    entries.sort(key=lambda entry: entry.at)
    return Chronology(
        case=case,
        entries=tuple(entries),
        answered_after=None if answered is None else answered[0] - case.created_at,
        answered_by=None if answered is None else answered[1],
        made_at=now,
        made_by=made_by,
    )


def _detected(case: CaseRecord) -> str:
    kinds = sorted({item.kind for item in case.evidence})
    level = f"; urgency {case.urgency.value}" if case.urgency is not None else ""
    return (
        f"Detected: {', '.join(category.value for category in case.flagged) or 'held for review'}"
        f" ({', '.join(kinds) or 'no detail'}){level}; scorer {case.scorer}"
    )


def _summary(record: Chronology) -> list[tuple[str, str]]:
    case = record.case
    answered = (
        f"{waited_text(record.answered_after)} after the message, by {record.answered_by}"
        if record.answered_after is not None
        else "not yet"
    )
    return [
        ("Case", f"#{case.id} ({case.platform})"),
        ("Learner", f"{case.author_name} ({case.author_role.value}, id {case.author_id})"),
        ("Group", case.chat_id),
        ("Posted", f"{case.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("Urgency", case.urgency.value if case.urgency is not None else "-"),
        ("Status", case.status),
        ("First answered", answered),
        ("Written", f"{record.made_at:%Y-%m-%d %H:%M} UTC for {record.made_by}"),
    ]


def _message(case: CaseRecord) -> str:
    return (
        "(text purged after the retention period)"
        if case.text is None
        else shown_text(case.text, case.flagged)
    )


def _first_route(case: CaseRecord, actions: list[ActionRecord]) -> Route:
    """The chat a case was first carded in: where its first move took it from, else where it is."""
    moves = [
        item.action
        for item in actions
        if item.actor != "bot" and item.outcome == "ok" and item.action in _MOVES
    ]
    if moves:
        return Route.MODERATORS if moves[0] == Verb.REFER.value else Route.SAFEGUARDING
    return case.route or Route.MODERATORS


def to_markdown(record: Chronology) -> str:
    """The chronology as Markdown: a summary, the message quoted, then a table of entries."""
    lines = [f"# Safeguarding chronology: case #{record.case.id}", ""]
    lines += [f"- **{label}:** {_inline(value)}" for label, value in _summary(record)]
    lines += ["", "## The message", ""]
    lines += [f"> {_inline(line)}" for line in _message(record.case).splitlines() or [""]]
    lines += ["", "## What happened", "", "| When (UTC) | Who | What |", "|---|---|---|"]
    lines += [
        f"| {entry.at:%Y-%m-%d %H:%M:%S} | {_cell(entry.who)} | {_cell(entry.what)} |"
        for entry in record.entries
    ]
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Text as Markdown shows it: no HTML, no line breaks, nothing read as markup."""
    flat = " ".join(text.split())
    for special in "\\`*_[]<>#|":
        flat = flat.replace(special, "\\" + special)
    return flat


def _cell(text: str) -> str:
    return _inline(text) or " "


def write_pdf(record: Chronology, path: Path, font: Path | None = None) -> bool:
    """Write the chronology as a PDF; ``False`` where no font with every script was found (Latin only)."""
    summary = [f"{label}: {value}" for label, value in _summary(record)]
    entries = [f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.who}: {entry.what}" for entry in record.entries]
    data, is_unicode = text_pdf(
        f"Safeguarding chronology: case #{record.case.id}",
        [("", summary), ("The message", [_message(record.case)]), ("What happened (times in UTC)", entries)],
        font,
    )
    path.write_bytes(data)
    return is_unicode
