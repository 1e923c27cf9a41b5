"""Appeals: an author asks for a case to be looked at again; a moderator grants or denies it.

Appeals build on cases: each belongs to one, and deciding one is written to that case's action log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.records import AppealRecord, appeal_record
from bot.store.cases import CaseStore
from bot.store.engine import _utc
from bot.tables import AppealRow

__all__ = ["AppealStore"]


class AppealStore(CaseStore):
    """Records appeals against cases, at most one open per case, and decides each exactly once."""

    def add_appeal(
        self, case_id: int, author_id: str, reason: str | None, at: datetime
    ) -> AppealRecord | None:
        """Record an author's appeal against a case; ``None`` while an earlier one is still open.

        Raises:
            ValueError: there is no such case.

        """
        row = AppealRow(case_id=case_id, author_id=author_id, reason=self._sealer.seal(reason), at=_utc(at))
        with self._guard("record an appeal"), self._session() as session:
            if self._open_appeal(session, case_id) is not None:
                return None
            self._insert_for_case(session, row, case_id)
            return appeal_record(row, self._sealer)

    def open_appeal(self, case_id: int) -> AppealRecord | None:
        """The appeal against this case that awaits a decision, if there is one."""
        with self._guard("read appeals"), self._session() as session:
            row = self._open_appeal(session, case_id)
            return None if row is None else appeal_record(row, self._sealer)

    def decide_appeal(self, appeal_id: int, status: str, *, actor: str, at: datetime) -> bool:
        """Close an open appeal as ``granted`` or ``denied``; whether this call closed it.

        Of two presses at once, exactly one gets ``True``.
        """
        if status not in ("granted", "denied"):
            raise ValueError(f"an appeal is granted or denied, not {status!r}")
        statement = (
            update(AppealRow)
            .where(col(AppealRow.id) == appeal_id, col(AppealRow.status) == "open")
            .values(status=status)
        )
        with self._guard("decide an appeal"), self._session() as session:
            result = session.exec(statement)
            session.commit()
            decided = bool(result.rowcount)
        if decided:
            appeal = self._appeal(appeal_id)
            self.record_action(appeal.case_id, f"appeal-{status}", "ok", actor=actor, at=at)
        return decided

    def latest_appeals(self, case_ids: Sequence[int]) -> dict[int, AppealRecord]:
        """The newest appeal against each of these cases that has one."""
        if not case_ids:
            return {}
        query = (
            select(AppealRow).where(col(AppealRow.case_id).in_(list(case_ids))).order_by(col(AppealRow.id))
        )
        with self._guard("read appeals"), self._session() as session:
            return {row.case_id: appeal_record(row, self._sealer) for row in session.exec(query)}

    def appeals(self, case_id: int) -> list[AppealRecord]:
        """List the appeals against a case, oldest first."""
        query = select(AppealRow).where(col(AppealRow.case_id) == case_id).order_by(col(AppealRow.id))
        with self._guard("read appeals"), self._session() as session:
            return [appeal_record(row, self._sealer) for row in session.exec(query)]

    def _appeal(self, appeal_id: int) -> AppealRecord:
        with self._guard("read an appeal"), self._session() as session:
            row = session.get(AppealRow, appeal_id)
            if row is None:
                raise ValueError(f"there is no appeal {appeal_id}")
            return appeal_record(row, self._sealer)

    @staticmethod
    def _open_appeal(session: Session, case_id: int) -> AppealRow | None:
        query = select(AppealRow).where(col(AppealRow.case_id) == case_id, col(AppealRow.status) == "open")
        return session.exec(query.limit(1)).first()
