"""Retention and reporting: erasing old texts, sealing stored texts with the newest key, counting records.

A purge erases what people wrote but keeps each case, its decision and its action log, for audit.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlmodel import SQLModel, col, select

from bot.errors import StorageError
from bot.sealing import KEYS_VARIABLE
from bot.store.cases import CASE_STATUSES
from bot.store.engine import _SEALED_COLUMNS, StoreEngine, _utc
from bot.tables import AppealRow, CaseNoteRow, CaseRow, ConsentRow, GroupRow, SeenMessageRow, StrikeRow

__all__ = ["RetentionStore"]

_RESEAL_BATCH = 500


class RetentionStore(StoreEngine):
    """Purges texts past their time, re-seals every stored text, and counts records for a status report."""

    def purge(self, *, older_than: timedelta, now: datetime) -> int:
        """Erase the text of cases created before ``now - older_than``; return how many were purged.

        Text, reminder, evidence spans, appeal reasons and officers' notes
        go; the case, its decision metadata, explanation and action log stay for audit. Handled-message ids
        older than that go too.
        """
        now = _utc(now)
        cutoff = now - older_than
        purged = self._erase((col(CaseRow.created_at) < cutoff,), now)
        with self._guard("purge old cases"), self._session() as session:
            session.exec(delete(SeenMessageRow).where(col(SeenMessageRow.handled_at) < cutoff))
            session.commit()
        if self._is_sqlite:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return purged

    def erase_author_texts(self, platform: str, author_id: str, *, now: datetime) -> int:
        """Erase what one person wrote, in every case of theirs (a request for erasure); how many cases.

        As a purge: the cases, their decisions and action logs stay, without the words.
        """
        erased = self._erase(
            (col(CaseRow.platform) == platform, col(CaseRow.author_id) == author_id), _utc(now)
        )
        if self._is_sqlite:
            with self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return erased

    def _erase(self, conditions: tuple[Any, ...], now: datetime) -> int:
        due = (*conditions, col(CaseRow.purged_at).is_(None))
        with self._guard("erase case texts"), self._session() as session:
            session.exec(
                update(AppealRow)
                .where(col(AppealRow.case_id).in_(select(CaseRow.id).where(*due)))
                .values(reason=None)
            )
            session.exec(
                update(CaseNoteRow)
                .where(col(CaseNoteRow.case_id).in_(select(CaseRow.id).where(*due)))
                .values(text=None)
            )
            rows = session.exec(select(CaseRow).where(*due)).all()
            for row in rows:
                row.text, row.reminder, row.purged_at = None, None, now
                row.evidence = [{**item, "start": None, "end": None} for item in row.evidence]
                session.add(row)
            session.commit()
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
