"""The case store: intent-named, synchronous storage that speaks the core's vocabulary.

Only what moderators need is kept (flagged messages as cases, their action log, strikes, consents,
groups, roles, appeals); unflagged messages leave nothing but their ids. Every database failure is
raised as :class:`~moderation.errors.StorageError` naming the URL with its password masked, and
nothing here logs message text or puts it into an error (the engine hides SQL parameters too).

On SQLite the store turns on WAL, foreign keys and ``secure_delete`` (freed space is zeroed, so
purged text does not linger in the file) and checkpoints the WAL after a purge. On PostgreSQL the
old row versions stay in the table file until (auto)vacuum reclaims them.

Given keys (``CLASSMOD_DATA_KEYS``), the store seals what people wrote before it is written (case
texts, authors' names, action-log details, appeal reasons, the inbound journal's payloads: see
:mod:`bot.sealing`) and opens it as it is read; :meth:`Store.open` refuses a store holding sealed
values that no configured key opens.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import SQLModel, col, select

from bot.records import (
    ActionRecord,
    AppealRecord,
    CaseRecord,
    GroupRecord,
    JournalledUpdate,
)
from bot.schema import SchemaUpgrade
from bot.sealing import KEYS_VARIABLE
from bot.store.appeals import AppealStore
from bot.store.cases import CASE_STATUSES, OUTCOMES, CaseStore
from bot.store.engine import _SEALED_COLUMNS, StoreEngine, _utc
from bot.store.groups import GroupStore
from bot.store.leases import LeaseStore
from bot.store.people import PeopleStore
from bot.store.read_marks import ReadMarkStore
from bot.store.seen import SeenMessageStore
from bot.store.strikes import StrikeStore
from bot.tables import (
    AppealRow,
    CaseRow,
    ConsentRow,
    GroupRow,
    InboundUpdateRow,
    SeenMessageRow,
    StrikeRow,
)
from moderation.errors import StorageError

__all__ = [
    "CASE_STATUSES",
    "OUTCOMES",
    "ActionRecord",
    "AppealRecord",
    "CaseRecord",
    "GroupRecord",
    "JournalledUpdate",
    "SchemaUpgrade",
    "Store",
]


# On SQLite a forgotten update's text is wiped from the WAL file when the journal is empty, and at
# least this often while it never is (a steady stream of messages).
_JOURNAL_WIPE_INTERVAL_S = 5.0
_RESEAL_BATCH = 500


class Store(
    SeenMessageStore,
    ReadMarkStore,
    AppealStore,
    CaseStore,
    StrikeStore,
    PeopleStore,
    GroupStore,
    LeaseStore,
    StoreEngine,
):
    """Cases, strikes, consents, groups and people, in SQLite or PostgreSQL.

    Args:
        url: an SQLAlchemy URL, e.g. ``sqlite:///classmod.db`` or
            ``postgresql+psycopg://user:password@host/db``.
        connect_args: extra arguments for the database driver's ``connect()``.
        sealer: seals texts on write and opens them on read; none: texts are stored in clear.

    Raises:
        StorageError: the URL cannot be used.

    """

    # -- inbound journal ------------------------------------------------------------------------

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

    # -- retention and reporting ----------------------------------------------------------------

    def purge(self, *, older_than: timedelta, now: datetime) -> int:
        """Erase the text of cases created before ``now - older_than``; return how many were purged.

        Text, reminder, evidence spans and appeal reasons go; the case, its decision metadata,
        explanation and action log stay for audit. Handled-message ids older than that go too.
        """
        now = _utc(now)
        cutoff = now - older_than
        due = (col(CaseRow.created_at) < cutoff, col(CaseRow.purged_at).is_(None))
        with self._guard("purge old cases"), self._session() as session:
            session.exec(
                update(AppealRow)
                .where(col(AppealRow.case_id).in_(select(CaseRow.id).where(*due)))
                .values(reason=None)
            )
            rows = session.exec(select(CaseRow).where(*due)).all()
            for row in rows:
                row.text, row.reminder, row.purged_at = None, None, now
                row.evidence = [{**item, "start": None, "end": None} for item in row.evidence]
                session.add(row)
            session.exec(delete(SeenMessageRow).where(col(SeenMessageRow.handled_at) < cutoff))
            session.commit()
            if self._is_sqlite:
                with self._engine.connect() as connection:
                    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return len(rows)

    def reseal(self, *, batch_size: int = _RESEAL_BATCH) -> int:
        """Seal every stored text again with the newest key, plain ones too; return how many changed.

        One transaction per batch of rows; a value already sealed with the newest key is left, so an
        interrupted run can simply be run again. Each value is replaced only if it is still the one
        read (a purge or a new write meanwhile wins). Afterwards older keys can be removed.

        Raises:
            StorageError: there is no key, or a stored value opens with none of the keys.

        """
        if not self._sealer.is_enabled:
            raise StorageError(f"there is no key to seal with: set {KEYS_VARIABLE} (newest key first)")
        changed = 0
        for model, names in _SEALED_COLUMNS:
            identity = model.__table__.c["id"]  # type: ignore[attr-defined]
            columns = [col(getattr(model, name)) for name in names]
            last = 0
            while True:
                with self._guard("re-seal case texts"), self._session() as session:
                    query = select(identity, *columns).where(identity > last).order_by(identity)
                    rows = session.exec(query.limit(batch_size)).all()
                    for row_id, *values in rows:
                        for name, column, value in zip(names, columns, values, strict=True):
                            if value is None or self._sealer.is_current(value):
                                continue
                            statement = (
                                update(model)
                                .where(identity == row_id, column == value)
                                .values({name: self._sealer.rotate(value)})
                            )
                            changed += session.exec(statement).rowcount
                    session.commit()
                if len(rows) < batch_size:
                    break
                last = rows[-1][0]
        if self._is_sqlite:
            self._wipe_wal()
        return changed

    def counts(self) -> dict[str, int]:
        """Count records for a status report: ``cases``, ``cases_<status>`` per status, and more."""
        with self._guard("count records"), self._session() as session:
            by_status = dict(
                session.exec(select(CaseRow.status, func.count()).group_by(CaseRow.status)).all()
            )
            counts = {"cases": sum(by_status.values())}
            counts |= {f"cases_{status}": by_status.get(status, 0) for status in CASE_STATUSES}

            def count(model: type[SQLModel], *conditions: Any) -> int:
                return session.exec(select(func.count()).select_from(model).where(*conditions)).one()

            counts["purged_cases"] = count(CaseRow, col(CaseRow.purged_at).is_not(None))
            counts["strikes"] = count(StrikeRow)
            counts["groups"] = count(GroupRow)
            counts["authorised_groups"] = count(GroupRow, col(GroupRow.is_authorised).is_(True))
            counts["consents"] = count(ConsentRow, col(ConsentRow.revoked_at).is_(None))
        return counts

    # -- helpers --------------------------------------------------------------------------------
