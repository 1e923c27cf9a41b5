"""Handled messages: which message revisions the pipeline has dealt with, kept as ids only.

This is the pipeline's idempotency key: a message delivered twice, or met again while catching up,
is acted on once. Unflagged messages leave nothing else behind.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from bot.store.engine import StoreEngine, _utc
from bot.tables import SeenMessageRow

__all__ = ["SeenMessageStore"]


class SeenMessageStore(StoreEngine):
    """Marks message revisions handled, once each, for the pipeline to skip what it has done."""

    def mark_seen(self, platform: str, chat_id: str, message_id: str, revision: int, at: datetime) -> bool:
        """Record that a message revision was handled; True the first time, False ever after."""
        row = SeenMessageRow(
            platform=platform, chat_id=chat_id, message_id=message_id, revision=revision, handled_at=_utc(at)
        )
        with self._guard("record a handled message"), self._session() as session:
            return self._insert_once(session, row)

    def is_seen(self, platform: str, chat_id: str, message_id: str, revision: int) -> bool:
        """Whether this message revision has already been handled."""
        with self._guard("look up a handled message"), self._session() as session:
            found = session.exec(
                select(SeenMessageRow.id).where(
                    SeenMessageRow.platform == platform,
                    SeenMessageRow.chat_id == chat_id,
                    SeenMessageRow.message_id == message_id,
                    SeenMessageRow.revision == revision,
                )
            ).first()
            return found is not None
