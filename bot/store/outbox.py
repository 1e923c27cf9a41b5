"""The outbox: decisions taken in the web console, waiting for the platform's bot to carry them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from bot.store.engine import StoreEngine, _utc
from bot.tables import OutboxRow

__all__ = ["OutboxItem", "OutboxStore"]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One decision to carry out: its case, its steps (JSON), the card's outcome line, who took it."""

    id: int
    platform: str
    case_id: int
    steps: str
    outcome: str
    keeps_open: bool
    actor: str
    created_at: datetime


class OutboxStore(StoreEngine):
    """Adds decisions to the outbox; hands them to the bot; marks them done."""

    def add_to_outbox(
        self,
        *,
        platform: str,
        case_id: int,
        steps: str,
        outcome: str,
        keeps_open: bool,
        actor: str,
        at: datetime,
    ) -> None:
        """Queue a decision's platform steps for the platform's bot."""
        row = OutboxRow(
            platform=platform,
            case_id=case_id,
            steps=self._sealer.seal(steps),
            outcome=outcome,
            keeps_open=keeps_open,
            actor=actor,
            created_at=_utc(at),
        )
        with self._guard("queue a decision for the bot"), self._session() as session:
            session.add(row)
            session.commit()

    def outbox(self, platform: str, *, limit: int = 50) -> list[OutboxItem]:
        """The decisions not yet carried out on a platform, oldest first."""
        query = (
            select(OutboxRow)
            .where(col(OutboxRow.platform) == platform, col(OutboxRow.done_at).is_(None))
            .order_by(col(OutboxRow.id))
            .limit(limit)
        )
        with self._guard("read the outbox"), self._session() as session:
            return [
                OutboxItem(
                    id=row.id or 0,
                    platform=row.platform,
                    case_id=row.case_id,
                    steps=self._sealer.open(row.steps) or "[]",
                    outcome=row.outcome,
                    keeps_open=row.keeps_open,
                    actor=row.actor,
                    created_at=_utc(row.created_at),
                )
                for row in session.exec(query)
            ]

    def finish_outbox_item(self, item_id: int, *, at: datetime, error: str | None = None) -> bool:
        """Mark a decision carried out; ``False`` if another process already did (it is done once)."""
        statement = (
            update(OutboxRow)
            .where(col(OutboxRow.id) == item_id, col(OutboxRow.done_at).is_(None))
            .values(done_at=_utc(at), error=error)
        )
        with self._guard("finish an outbox item"), self._session() as session:
            done = session.exec(statement).rowcount
            session.commit()
            return bool(done)
