"""Leases: one named lease per platform, so one process handles it (see :mod:`bot.lease` for their use)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from bot.store.engine import StoreEngine, _utc
from bot.tables import LeaseRow

__all__ = ["LeaseStore"]


class LeaseStore(StoreEngine):
    """Takes, renews and gives up named leases, with one winner when processes race."""

    def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        """Take or renew the lease ``name`` for ``holder`` until ``until``; False while another holds it.

        One conditional statement either way, so of two processes racing exactly one wins, on SQLite
        and PostgreSQL alike. A lease whose holder stopped renewing it is free once it expires.
        """
        now, until = _utc(now), _utc(until)
        with self._guard("take a lease"), self._session() as session:
            session.add(LeaseRow(name=name, holder=holder, expires_at=until))
            try:
                session.commit()
                return True
            except IntegrityError:
                session.rollback()
            taken = session.exec(
                update(LeaseRow)
                .where(
                    col(LeaseRow.name) == name,
                    (col(LeaseRow.holder) == holder) | (col(LeaseRow.expires_at) < now),
                )
                .values(holder=holder, expires_at=until)
            )
            session.commit()
            return bool(taken.rowcount)

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up at once (a clean stop), if ``holder`` still holds it."""
        statement = delete(LeaseRow).where(col(LeaseRow.name) == name, col(LeaseRow.holder) == holder)
        with self._guard("release a lease"), self._session() as session:
            session.exec(statement)
            session.commit()
