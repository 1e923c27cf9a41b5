"""How fast the safeguarding team answers: from a case's message to the first officer's decision on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select

from bot.store.engine import StoreEngine, _utc
from bot.tables import CaseActionRow, CaseRow
from moderation.types import Urgency
from moderation.verdicts import OFFICER_VERBS

__all__ = ["ResponseTime", "ResponseTimeStore"]


@dataclass(frozen=True, slots=True)
class ResponseTime:
    """One safeguarding case: its level, and how long until an officer acknowledged or decided it."""

    case_id: int
    urgency: Urgency
    seconds: float | None
    """``None`` while nobody has acknowledged it."""


class ResponseTimeStore(StoreEngine):
    """Reads acknowledgement times per safeguarding case, for ``classmod status``."""

    def response_times(self, since: datetime) -> list[ResponseTime]:
        """Every safeguarding case since ``since`` (by its message's time), oldest first."""
        first = func.min(CaseActionRow.at)
        query = (
            select(CaseRow.id, CaseRow.urgency, CaseRow.created_at, first)
            .join(
                CaseActionRow,
                (col(CaseActionRow.case_id) == col(CaseRow.id))
                & col(CaseActionRow.action).in_([verb.value for verb in OFFICER_VERBS])
                & (col(CaseActionRow.actor) != "bot")
                & (col(CaseActionRow.outcome) == "ok"),
                isouter=True,
            )
            .where(col(CaseRow.urgency).is_not(None), col(CaseRow.created_at) >= _utc(since))
            .group_by(col(CaseRow.id), col(CaseRow.urgency), col(CaseRow.created_at))
            .order_by(col(CaseRow.created_at))
        )
        with self._guard("read response times"), self._session() as session:
            rows = session.exec(query).all()
        return [
            ResponseTime(
                case_id=int(case_id or 0),
                urgency=Urgency(urgency or Urgency.CONCERN),
                seconds=None if seen is None else max(0.0, (_utc(seen) - _utc(created)).total_seconds()),
            )
            for case_id, urgency, created, seen in rows
        ]
