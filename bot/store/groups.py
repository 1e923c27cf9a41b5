"""Groups: the chats the bot is in, and which of them the service authorised it to moderate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, update
from sqlmodel import col, select

from bot.records import GroupRecord, group_record
from bot.store.engine import StoreEngine, _utc
from bot.tables import GroupRow, GroupThresholdRow

__all__ = ["GROUP_MODES", "GroupStore"]

GROUP_MODES = ("enforce", "shadow")
"""How the bot treats a group: acting on its messages, or only recording what it would do."""


class GroupStore(StoreEngine):
    """Notes each group the bot meets and records the service's authorisation of it, and its withdrawal."""

    def record_group(self, platform: str, chat_id: str, *, title: str, at: datetime) -> GroupRecord:
        """Note a group the bot is in (unauthorised unless the service already authorised it)."""

        def change(row: GroupRow) -> None:
            row.title = title

        return group_record(self._save_group(platform, chat_id, at, change, "record a group"))

    def authorise_group(
        self,
        platform: str,
        chat_id: str,
        *,
        title: str,
        authorised_by: str,
        at: datetime,
        mode: str | None = None,
    ) -> GroupRecord:
        """Mark a group as authorised by the service, so the bot moderates it.

        ``mode``: how a group with no mode yet starts (the policy's ``new_group_mode``); a group that has one
        keeps it.
        """
        at = _utc(at)

        def change(row: GroupRow) -> None:
            row.title, row.is_authorised = title, True
            row.authorised_by, row.authorised_at = authorised_by, at
            row.mode = row.mode or mode

        return group_record(self._save_group(platform, chat_id, at, change, "authorise a group"))

    def revoke_group(self, platform: str, chat_id: str) -> bool:
        """Withdraw a group's authorisation; False when it was not authorised."""
        statement = (
            update(GroupRow)
            .where(*self._group_key(platform, chat_id), col(GroupRow.is_authorised).is_(True))
            .values(is_authorised=False)
        )
        with self._guard("revoke a group"), self._session() as session:
            revoked = session.exec(statement).rowcount
            session.commit()
        return bool(revoked)

    def set_group_mode(self, platform: str, chat_id: str, mode: str) -> bool:
        """Put a known group in ``enforce`` or ``shadow`` mode; ``False`` for a group nobody knows."""
        if mode not in GROUP_MODES:
            raise ValueError(f"a group's mode is one of {GROUP_MODES}, not {mode!r}")
        statement = update(GroupRow).where(*self._group_key(platform, chat_id)).values(mode=mode)
        with self._guard("set a group's mode"), self._session() as session:
            changed = session.exec(statement).rowcount
            session.commit()
        return bool(changed)

    def group_mode(self, platform: str, chat_id: str) -> str:
        """A group's mode: ``shadow`` only when set so (a group from before modes is enforced)."""
        query = select(GroupRow.mode).where(*self._group_key(platform, chat_id))
        with self._guard("read a group's mode"), self._session() as session:
            return session.exec(query).first() or "enforce"

    def group_thresholds(self, platform: str, chat_id: str) -> dict[str, float]:
        """A group's own thresholds, by category (empty: the policy's throughout)."""
        query = select(GroupThresholdRow.category, GroupThresholdRow.threshold).where(
            col(GroupThresholdRow.platform) == platform, col(GroupThresholdRow.chat_id) == chat_id
        )
        with self._guard("read a group's thresholds"), self._session() as session:
            return {category: float(threshold) for category, threshold in session.exec(query)}

    def set_group_threshold(
        self, platform: str, chat_id: str, category: str, threshold: float | None, *, by: str, at: datetime
    ) -> None:
        """Set a group's own threshold for a category, or (``None``) go back to the policy's."""
        key = (
            col(GroupThresholdRow.platform) == platform,
            col(GroupThresholdRow.chat_id) == chat_id,
            col(GroupThresholdRow.category) == category,
        )
        with self._guard("set a group's threshold"), self._session() as session:
            session.exec(delete(GroupThresholdRow).where(*key))
            if threshold is not None:
                session.add(
                    GroupThresholdRow(
                        platform=platform,
                        chat_id=chat_id,
                        category=category,
                        threshold=threshold,
                        set_by=by,
                        set_at=_utc(at),
                    )
                )
            session.commit()

    def is_authorised(self, platform: str, chat_id: str) -> bool:
        """Tell whether the service authorised this group."""
        query = select(GroupRow.is_authorised).where(*self._group_key(platform, chat_id))
        with self._guard("read a group"), self._session() as session:
            return bool(session.exec(query).first())

    def groups(self) -> list[GroupRecord]:
        """List every group the bot knows, by platform and chat id."""
        query = select(GroupRow).order_by(col(GroupRow.platform), col(GroupRow.chat_id))
        with self._guard("list groups"), self._session() as session:
            return [group_record(row) for row in session.exec(query)]

    @staticmethod
    def _group_key(platform: str, chat_id: str) -> tuple[Any, ...]:
        return (col(GroupRow.platform) == platform, col(GroupRow.chat_id) == chat_id)

    def _save_group(
        self, platform: str, chat_id: str, at: datetime, change: Callable[[GroupRow], None], doing: str
    ) -> GroupRow:
        return self._save_unique(
            doing,
            select(GroupRow).where(*self._group_key(platform, chat_id)),
            lambda: GroupRow(platform=platform, chat_id=chat_id, added_at=_utc(at)),
            change,
        )
