"""People: the written permissions (consents) they gave and the name and role each was last seen with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from bot.store.engine import StoreEngine, _utc
from bot.tables import ConsentRow, PersonRow
from moderation.types import Role

__all__ = ["PeopleStore"]


class PeopleStore(StoreEngine):
    """Records and withdraws consents, and remembers each person's display name and role."""

    def add_consent(
        self, platform: str, user_id: str, *, recorded_by: str, at: datetime, kind: str = "photo"
    ) -> bool:
        """Record a written permission; False when one is already in force."""
        if self.has_consent(platform, user_id, kind=kind):
            return False
        row = ConsentRow(platform=platform, user_id=user_id, kind=kind, recorded_by=recorded_by, at=_utc(at))
        with self._guard("record a consent"), self._session() as session:
            session.add(row)
            session.commit()
        return True

    def revoke_consent(self, platform: str, user_id: str, *, at: datetime, kind: str = "photo") -> bool:
        """Withdraw a permission; False when none was in force."""
        statement = (
            update(ConsentRow)
            .where(*self._active_consent(platform, user_id, kind))
            .values(revoked_at=_utc(at))
        )
        with self._guard("revoke a consent"), self._session() as session:
            revoked = session.exec(statement).rowcount
            session.commit()
        return bool(revoked)

    def has_consent(self, platform: str, user_id: str, *, kind: str = "photo") -> bool:
        """Tell whether a permission of this kind is in force."""
        query = select(ConsentRow.id).where(*self._active_consent(platform, user_id, kind)).limit(1)
        with self._guard("read consents"), self._session() as session:
            return session.exec(query).first() is not None

    def upsert_person(self, platform: str, user_id: str, display_name: str, role: Role) -> None:
        """Record or update a person's display name and role."""

        def change(row: PersonRow) -> None:
            row.display_name = display_name
            row.role = str(role)

        self._save_unique(
            "record a person",
            select(PersonRow).where(col(PersonRow.platform) == platform, col(PersonRow.user_id) == user_id),
            lambda: PersonRow(platform=platform, user_id=user_id, display_name=display_name, role=str(role)),
            change,
        )

    def role_of(self, platform: str, user_id: str) -> Role | None:
        """Return the person's recorded role, or None when unknown."""
        query = select(PersonRow.role).where(
            col(PersonRow.platform) == platform, col(PersonRow.user_id) == user_id
        )
        with self._guard("read a role"), self._session() as session:
            role = session.exec(query).first()
        return None if role is None else Role(role)

    @staticmethod
    def _active_consent(platform: str, user_id: str, kind: str) -> tuple[Any, ...]:
        return (
            col(ConsentRow.platform) == platform,
            col(ConsentRow.user_id) == user_id,
            col(ConsentRow.kind) == kind,
            col(ConsentRow.revoked_at).is_(None),
        )
