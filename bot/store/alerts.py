"""Alerts: the safeguarding rota's steps, the moderators' reminders, and the daily digest, as sent.

Each alert is written once it was sent, so a restart reads here what was done and goes on from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.records import CaseRecord, case_record
from bot.store.engine import StoreEngine, _utc
from bot.tables import AlertRow, CaseActionRow, CaseRow, DigestRow
from moderation.types import Route
from moderation.verdicts import OFFICER_VERBS, is_officers_only

__all__ = ["AlertRecord", "AlertStore"]

ALERT_OUTCOMES = ("ok", "refused", "failed")


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One alert sent (or tried): its case, step, the rota member's place, to whom, how it went, when."""

    case_id: int
    step: int
    position: int | None
    recipient: str
    outcome: str
    detail: str | None
    at: datetime


class AlertStore(StoreEngine):
    """Records alerts; finds the cases still waiting for a person."""

    def record_alert(
        self,
        case_id: int,
        *,
        step: int,
        position: int | None,
        recipient: str,
        outcome: str,
        at: datetime,
        detail: str | None = None,
    ) -> None:
        """Record one alert (``detail``: the platform's error, never message text)."""
        if outcome not in ALERT_OUTCOMES:
            raise ValueError(f"outcome must be one of {ALERT_OUTCOMES}, not {outcome!r}")
        row = AlertRow(
            case_id=case_id,
            step=step,
            position=position,
            recipient=recipient,
            outcome=outcome,
            detail=self._sealer.seal(detail),
            at=_utc(at),
        )
        with self._guard("record an alert"), self._session() as session:
            session.add(row)
            session.commit()

    def alerts(self, case_ids: Iterable[int]) -> dict[int, list[AlertRecord]]:
        """The alerts sent for these cases, oldest first, by case."""
        ids = list(case_ids)
        found: dict[int, list[AlertRecord]] = {case_id: [] for case_id in ids}
        if not ids:
            return found
        query = (
            select(AlertRow)
            .where(col(AlertRow.case_id).in_(ids))
            .order_by(col(AlertRow.at), col(AlertRow.id))
        )
        with self._guard("read alerts"), self._session() as session:
            for row in session.exec(query):
                found[row.case_id].append(
                    AlertRecord(
                        case_id=row.case_id,
                        step=row.step,
                        position=row.position,
                        recipient=row.recipient,
                        outcome=row.outcome,
                        detail=self._sealer.open(row.detail),
                        at=_utc(row.at),
                    )
                )
        return found

    def awaiting_acknowledgement(self, platform: str) -> list[CaseRecord]:
        """Open safeguarding-route cases no person has acknowledged or decided yet, oldest first."""
        answered = select(CaseActionRow.id).where(
            col(CaseActionRow.case_id) == col(CaseRow.id),
            col(CaseActionRow.action).in_([verb.value for verb in OFFICER_VERBS]),
            col(CaseActionRow.actor) != "bot",
            col(CaseActionRow.outcome) == "ok",
        )
        query = (
            select(CaseRow)
            .where(
                col(CaseRow.platform) == platform,
                col(CaseRow.status) == "open",
                col(CaseRow.route) == str(Route.SAFEGUARDING),
                ~answered.exists(),
            )
            .order_by(col(CaseRow.created_at), col(CaseRow.id))
        )
        with self._guard("list unacknowledged safeguarding cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def undecided_cases(self, platform: str, *, created_before: datetime) -> list[CaseRecord]:
        """Open moderators' cases posted by ``created_before``, oldest first (officers' cases left out)."""
        query = (
            select(CaseRow)
            .where(
                col(CaseRow.platform) == platform,
                col(CaseRow.status) == "open",
                col(CaseRow.route) == str(Route.MODERATORS),
                col(CaseRow.created_at) <= _utc(created_before),
            )
            .order_by(col(CaseRow.created_at), col(CaseRow.id))
        )
        with self._guard("list undecided cases"), self._session() as session:
            cases = [case_record(row, self._sealer) for row in session.exec(query)]
        return [case for case in cases if not is_officers_only(case.flagged, case.route, case.status)]

    def open_cases_of(self, platform: str) -> list[CaseRecord]:
        """Every open case on a platform, oldest first (for the daily digest)."""
        query = (
            select(CaseRow)
            .where(col(CaseRow.platform) == platform, col(CaseRow.status) == "open")
            .order_by(col(CaseRow.created_at), col(CaseRow.id))
        )
        with self._guard("list open cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def claim_digest(self, platform: str, day: date, at: datetime) -> bool:
        """Claim the day's digest for a platform: ``True`` for the one caller that is to send it."""
        with self._guard("claim the daily digest"), self._session() as session:
            session.add(DigestRow(platform=platform, day=day, sent_at=_utc(at)))
            try:
                session.commit()
            except IntegrityError:
                return False
        return True
