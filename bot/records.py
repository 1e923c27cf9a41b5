"""What the store hands out: frozen records of cases, actions, groups and appeals, and their rows.

The store speaks the core's vocabulary; this module converts between it and the tables, sealing
the texts it writes and opening those it reads with the store's :class:`~bot.sealing.Sealer`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import SQLModel

from bot.sealing import Sealer
from bot.tables import AppealRow, CaseActionRow, CaseRow, GroupRow
from moderation.types import (
    Action,
    ActionKind,
    Author,
    Category,
    ChatMessage,
    Decision,
    Evidence,
    Role,
    Route,
    Urgency,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "ActionRecord",
    "AppealRecord",
    "CaseRecord",
    "GroupRecord",
    "JournalledUpdate",
    "action_record",
    "appeal_record",
    "case_decision",
    "case_message",
    "case_record",
    "case_row",
    "group_record",
]

_Record = TypeVar("_Record", bound="DataclassInstance")


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """A stored case: one flagged message revision, the decision about it and where review stands."""

    id: int
    platform: str
    chat_id: str
    message_id: str
    revision: int
    author_id: str
    author_name: str
    author_role: Role
    text: str | None
    is_edit: bool
    created_at: datetime
    scores: dict[str, float]
    flagged: tuple[Category, ...]
    clauses: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    actions: tuple[Action, ...]
    top_action: ActionKind
    route: Route | None
    reminder: str | None
    explanation: str
    scorer: str
    status: str
    closed_by: str | None
    closed_at: datetime | None
    purged_at: datetime | None
    reminder_keys: tuple[str, ...] = ()
    """What the reminder is made of (``Decision.reminder_keys``); empty for cases from before 0003."""
    language: str | None = None
    """The language the message was written in, where it could be told."""
    assessed: str = "full"
    """``full``, or ``partial: personal data only`` (the scorers did not cover its language)."""
    urgency: Urgency | None = None
    """How urgent a safeguarding case is (``None`` for any other case, and for cases before 0004)."""

    @property
    def is_open(self) -> bool:
        """Whether the case still awaits a moderator."""
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One entry in a case's action log."""

    id: int
    case_id: int
    actor: str
    action: str
    outcome: str
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """A chat group the bot knows, and whether the service authorised it."""

    platform: str
    chat_id: str
    title: str
    is_authorised: bool
    authorised_by: str | None
    authorised_at: datetime | None
    added_at: datetime
    mode: str | None = None
    """``enforce`` or ``shadow``; ``None`` for a group authorised before modes existed (enforced)."""


@dataclass(frozen=True, slots=True)
class AppealRecord:
    """An author's appeal against a case."""

    id: int
    case_id: int
    author_id: str
    reason: str | None
    at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class JournalledUpdate:
    """An update in the inbound journal: received, not yet handled. ``payload`` holds its text."""

    update_id: int
    payload: str
    received_at: datetime


def case_row(message: ChatMessage, decision: Decision, at: datetime, sealer: Sealer) -> CaseRow:
    """The row for a flagged message and its decision, its text and author's name sealed."""
    author = message.author
    return CaseRow(
        platform=message.platform,
        chat_id=message.chat_id,
        message_id=message.message_id,
        revision=message.revision,
        author_id=author.id,
        author_name=sealer.seal(author.display_name),
        author_role=str(author.role),
        text=sealer.seal(message.text),
        is_edit=message.is_edit,
        created_at=at,
        scores={str(category): float(score) for category, score in decision.scores.items()},
        flagged=[str(category) for category in decision.flagged],
        clauses=list(decision.clauses),
        evidence=[{**asdict(item), "category": str(item.category)} for item in decision.evidence],
        actions=[{"kind": str(step.kind), "route": _text_or_none(step.route)} for step in decision.actions],
        top_action=str(decision.action),
        route=_text_or_none(decision.route),
        reminder=decision.reminder,
        reminder_keys=list(decision.reminder_keys),
        language=decision.language,
        assessed=decision.assessed,
        urgency=_text_or_none(decision.urgency),
        explanation=decision.explanation,
        scorer=decision.scorer,
    )


def _text_or_none(value: Route | Urgency | None) -> str | None:
    return None if value is None else str(value)


def case_record(row: CaseRow, sealer: Sealer) -> CaseRecord:
    """A case row as the core's vocabulary, its texts opened."""
    return _record(
        CaseRecord,
        row,
        author_name=sealer.open(row.author_name),
        text=sealer.open(row.text),
        author_role=Role(row.author_role),
        scores=dict(row.scores),
        flagged=tuple(Category(category) for category in row.flagged),
        clauses=tuple(row.clauses),
        evidence=tuple(
            Evidence(
                **{**item, "category": Category(item["category"]), "similar": tuple(item.get("similar", ()))}
            )
            for item in row.evidence
        ),
        actions=tuple(
            Action(ActionKind(item["kind"]), None if item["route"] is None else Route(item["route"]))
            for item in row.actions
        ),
        top_action=ActionKind(row.top_action),
        route=None if row.route is None else Route(row.route),
        reminder_keys=tuple(row.reminder_keys or ()),
        assessed=row.assessed or "full",
        urgency=None if row.urgency is None else Urgency(row.urgency),
    )


def case_message(case: CaseRecord) -> ChatMessage:
    """The message a case was opened for, as far as the case keeps it (not its attachments)."""
    return ChatMessage(
        platform=case.platform,
        chat_id=case.chat_id,
        message_id=case.message_id,
        author=Author(id=case.author_id, display_name=case.author_name, role=case.author_role),
        text=case.text or "",
        sent_at=case.created_at,
        is_edit=case.is_edit,
        revision=case.revision,
    )


def case_decision(case: CaseRecord) -> Decision:
    """The decision a case records, to carry it out as it was made (not judged again)."""
    return Decision(
        scores={Category(category): score for category, score in case.scores.items()},
        flagged=case.flagged,
        evidence=case.evidence,
        clauses=case.clauses,
        actions=case.actions,
        reminder=case.reminder,
        reminder_keys=case.reminder_keys,
        explanation=case.explanation,
        scorer=case.scorer,
        language=case.language,
        assessed=case.assessed,
        urgency=case.urgency,
    )


def action_record(row: CaseActionRow, sealer: Sealer) -> ActionRecord:
    """An action-log row as a record, its detail opened."""
    return _record(ActionRecord, row, detail=sealer.open(row.detail))


def appeal_record(row: AppealRow, sealer: Sealer) -> AppealRecord:
    """An appeal row as a record, its reason opened."""
    return _record(AppealRecord, row, reason=sealer.open(row.reason))


def group_record(row: GroupRow) -> GroupRecord:
    """A group row as a record."""
    return _record(GroupRecord, row)


def _record(kind: type[_Record], row: SQLModel, **converted: Any) -> _Record:
    """Build a record from the row's columns of the same names, with ``converted`` values overriding."""
    values = {field.name: getattr(row, field.name) for field in fields(kind) if field.name not in converted}
    return kind(**values, **converted)
