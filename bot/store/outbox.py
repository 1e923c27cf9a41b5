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
    steps_done: int = 0
    """Steps carried out before an interruption: they are not done again."""
    card_message_id: str | None = None
    card_route: str | None = None
    """The card the decision was taken on, once the bot has noted it (``None``: not yet)."""
    error: str | None = None
    """What failed in the steps carried out so far."""


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
                    steps_done=row.steps_done,
                    card_message_id=row.card_message_id,
                    card_route=row.card_route,
                    error=row.error,
                )
                for row in session.exec(query)
            ]

    def note_outbox_card(self, item_id: int, message_id: str, route: str | None) -> None:
        """Note the card a decision was taken on, before its first step (kept if already noted)."""
        statement = (
            update(OutboxRow)
            .where(col(OutboxRow.id) == item_id, col(OutboxRow.card_message_id).is_(None))
            .values(card_message_id=message_id, card_route=route)
        )
        with self._guard("note a decision's card"), self._session() as session:
            session.exec(statement)
            session.commit()

    def outbox_steps_done(self, item_id: int, steps_done: int, *, error: str | None) -> None:
        """Note how many of a decision's steps are carried out, and what failed in them so far."""
        statement = (
            update(OutboxRow)
            .where(col(OutboxRow.id) == item_id, col(OutboxRow.done_at).is_(None))
            .values(steps_done=steps_done, error=error)
        )
        with self._guard("note a decision's progress"), self._session() as session:
            session.exec(statement)
            session.commit()

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
