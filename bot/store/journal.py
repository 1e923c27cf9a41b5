"""The inbound journal: updates as received, kept until handled (see :mod:`bot.telegram_journal`).

A journalled update holds what people wrote, sealed when there are keys, and only for the seconds
until it is handled; on SQLite its text is then wiped from the write-ahead log too.
"""

from __future__ import annotations

import time
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select

from bot.records import JournalledUpdate
from bot.store.engine import StoreEngine, _utc
from bot.tables import InboundUpdateRow

__all__ = ["JournalStore"]

# On SQLite a forgotten update's text is wiped from the WAL file when the journal is empty, and at
# least this often while it never is (a steady stream of messages).
_JOURNAL_WIPE_INTERVAL_S = 5.0


class JournalStore(StoreEngine):
    """Writes each received update once, lists those not yet handled, and forgets each when handled."""

    def journal_update(self, platform: str, update_id: int, payload: str, at: datetime) -> bool:
        """Write a received update to the journal, committed before this returns; False if already there.

        ``payload`` is the update as the platform sent it (JSON, text included): it stays only until
        ``forget_update``. The first copy of an update id is kept.
        """
        row = InboundUpdateRow(
            platform=platform, update_id=update_id, payload=self._sealer.seal(payload), received_at=_utc(at)
        )
        with self._guard("journal an update"), self._session() as session:
            return self._insert_once(session, row)

    def journalled_updates(self, platform: str) -> list[JournalledUpdate]:
        """The platform's updates received and not yet forgotten, lowest update id first."""
        query = (
            select(InboundUpdateRow)
            .where(col(InboundUpdateRow.platform) == platform)
            .order_by(col(InboundUpdateRow.update_id))
        )
        with self._guard("read the inbound journal"), self._session() as session:
            return [
                JournalledUpdate(row.update_id, self._sealer.open(row.payload), _utc(row.received_at))
                for row in session.exec(query)
            ]

    def forget_update(self, platform: str, update_id: int) -> None:
        """Remove a handled update from the journal, its text with it; an unknown id is ignored.

        On SQLite ``secure_delete`` zeroes the freed space, and the WAL file, which still holds the
        text as it was written, is checkpointed and truncated once the journal is empty (and at
        least every few seconds while it never is). On PostgreSQL the deleted row version stays in
        the table file until (auto)vacuum reclaims it.
        """
        statement = delete(InboundUpdateRow).where(
            col(InboundUpdateRow.platform) == platform, col(InboundUpdateRow.update_id) == update_id
        )
        with self._guard("remove an update from the inbound journal"), self._session() as session:
            session.exec(statement)
            session.commit()
            if not self._is_sqlite:
                return
            is_empty = session.exec(select(InboundUpdateRow.id).limit(1)).first() is None
        if is_empty or time.monotonic() - self._last_wipe >= _JOURNAL_WIPE_INTERVAL_S:
            self._wipe_wal()
