"""Read marks: per chat, the id of the last message handled (see :mod:`bot.read_marks` for their use)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.store.engine import StoreEngine, _utc
from bot.tables import ReadMarkRow

__all__ = ["ReadMarkStore"]


class ReadMarkStore(StoreEngine):
    """Each chat's read mark, which only moves forward, even with several processes at once."""

    def read_mark(self, platform: str, chat_id: str) -> str | None:
        """The id of the last message handled in a chat, or None before the first."""
        query = select(ReadMarkRow.message_id).where(*self._mark_key(platform, chat_id))
        with self._guard("read a read mark"), self._session() as session:
            return session.exec(query).first()

    def start_read_mark(self, platform: str, chat_id: str, message_id: str, at: datetime) -> str:
        """Put a chat's mark at ``message_id`` unless it has one; return the mark.

        Raises:
            ValueError: ``message_id`` is not a message id (a decimal number).

        """
        row = ReadMarkRow(
            platform=platform, chat_id=chat_id, message_id=_message_id(message_id), updated_at=_utc(at)
        )
        with self._guard("start a read mark"), self._session() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
        mark = self.read_mark(platform, chat_id)
        assert mark is not None
        return mark

    def advance_read_mark(self, platform: str, chat_id: str, message_id: str, at: datetime) -> bool:
        """Move a chat's mark forward to ``message_id`` (never back); True when it moved.

        Message ids are compared as numbers: Discord's snowflakes and Telegram's message ids grow.
        A chat with no mark gets one at ``message_id``. Safe when several processes advance at once.

        Raises:
            ValueError: ``message_id`` is not a message id (a decimal number).

        """
        message_id = _message_id(message_id)
        stored = col(ReadMarkRow.message_id)
        # Decimal strings without leading zeros: the longer is larger, and equal lengths sort as text.
        is_older = (func.length(stored) < len(message_id)) | (
            (func.length(stored) == len(message_id)) & (stored < message_id)
        )
        statement = (
            update(ReadMarkRow)
            .where(*self._mark_key(platform, chat_id), is_older)
            .values(message_id=message_id, updated_at=_utc(at))
        )
        with self._guard("advance a read mark"):
            for _ in range(2):
                with self._session() as session:
                    if session.exec(statement).rowcount:
                        session.commit()
                        return True
                    session.commit()
                if self.read_mark(platform, chat_id) is not None:
                    return False
                if self.start_read_mark(platform, chat_id, message_id, at) == message_id:
                    return True
        return False

    @staticmethod
    def _mark_key(platform: str, chat_id: str) -> tuple[Any, ...]:
        return (col(ReadMarkRow.platform) == platform, col(ReadMarkRow.chat_id) == chat_id)


def _message_id(value: str) -> str:
    if not (value.isascii() and value.isdigit()) or (value.startswith("0") and value != "0"):
        raise ValueError("a read mark holds a message id (a decimal number), nothing else")
    return value
