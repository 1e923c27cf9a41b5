"""The audit log: who viewed a safeguarding case, or listed them, outside the chat cards, and when."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import col, select

from bot.store.engine import StoreEngine, _utc
from bot.tables import AuditRow

__all__ = ["AuditStore"]


class AuditStore(StoreEngine):
    """Records views of officer-only cases; reads them back per case."""

    def record_views(
        self, case_ids: Iterable[int], *, actor: str, action: str, at: datetime, via: str = "cli"
    ) -> None:
        """Record that ``actor`` saw these cases (``action``: ``view`` one, ``list`` several)."""
        rows = [
            AuditRow(at=_utc(at), actor=actor, action=action, case_id=case_id, via=via)
            for case_id in case_ids
        ]
        if not rows:
            return
        with self._guard("record a view in the audit log"), self._session() as session:
            session.add_all(rows)
            session.commit()

    def audit_log(self, case_id: int) -> list[tuple[datetime, str, str, str]]:
        """Who saw a case and how: (when, who, action, via), oldest first."""
        query = (
            select(AuditRow.at, AuditRow.actor, AuditRow.action, AuditRow.via)
            .where(col(AuditRow.case_id) == case_id)
            .order_by(col(AuditRow.at), col(AuditRow.id))
        )
        with self._guard("read the audit log"), self._session() as session:
            return [(at, actor, action, via) for at, actor, action, via in session.exec(query)]
