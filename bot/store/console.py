"""The web console's sign-in: one-time links and sessions, kept as hashes of their tokens.

A link is redeemed once (the first request wins, as a case is claimed once); a session ends when it has
been idle too long, when it is too old, or when its person signs out everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, cast, update
from sqlmodel import col, select

from bot.records import CaseRecord, case_record
from bot.store.engine import StoreEngine, _utc
from bot.tables import CaseActionRow, CaseRow, ConsoleLinkRow, ConsoleSessionRow
from moderation.types import Category, Route

__all__ = ["ConsoleSession", "ConsoleStore"]


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A console session: whose, in which role, its form token, and its times."""

    platform: str
    user_id: str
    role: str
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    revoked_at: datetime | None


class ConsoleStore(StoreEngine):
    """Links and sessions for the web console."""

    def add_console_link(
        self, token_hash: str, *, platform: str, user_id: str, role: str, at: datetime, expires_at: datetime
    ) -> None:
        """Keep a new link's hash until it is used or expires."""
        row = ConsoleLinkRow(
            token_hash=token_hash,
            platform=platform,
            user_id=user_id,
            role=role,
            created_at=_utc(at),
            expires_at=_utc(expires_at),
        )
        with self._guard("add a console link"), self._session() as session:
            session.add(row)
            session.commit()

    def redeem_console_link(self, token_hash: str, now: datetime) -> tuple[str, str, str] | None:
        """Use a link once: (platform, user id, role), or ``None`` if unknown, used or expired."""
        claim = (
            update(ConsoleLinkRow)
            .where(
                col(ConsoleLinkRow.token_hash) == token_hash,
                col(ConsoleLinkRow.used_at).is_(None),
                col(ConsoleLinkRow.expires_at) > _utc(now),
            )
            .values(used_at=_utc(now))
        )
        with self._guard("redeem a console link"), self._session() as session:
            claimed = session.exec(claim).rowcount
            session.commit()
            if not claimed:
                return None
            row = session.get(ConsoleLinkRow, token_hash)
            return None if row is None else (row.platform, row.user_id, row.role)

    def add_console_session(
        self, token_hash: str, *, platform: str, user_id: str, role: str, csrf: str, at: datetime
    ) -> None:
        """Start a session."""
        row = ConsoleSessionRow(
            token_hash=token_hash,
            platform=platform,
            user_id=user_id,
            role=role,
            csrf=csrf,
            created_at=_utc(at),
            last_seen_at=_utc(at),
        )
        with self._guard("start a console session"), self._session() as session:
            session.add(row)
            session.commit()

    def console_session(self, token_hash: str) -> ConsoleSession | None:
        """A session by its cookie's hash."""
        with self._guard("read a console session"), self._session() as session:
            row = session.get(ConsoleSessionRow, token_hash)
            if row is None:
                return None
            return ConsoleSession(
                platform=row.platform,
                user_id=row.user_id,
                role=row.role,
                csrf=row.csrf,
                created_at=_utc(row.created_at),
                last_seen_at=_utc(row.last_seen_at),
                revoked_at=None if row.revoked_at is None else _utc(row.revoked_at),
            )

    def touch_console_session(self, token_hash: str, now: datetime) -> None:
        """Note that a session was used now (its idle time starts again)."""
        statement = (
            update(ConsoleSessionRow)
            .where(col(ConsoleSessionRow.token_hash) == token_hash)
            .values(last_seen_at=_utc(now))
        )
        with self._guard("touch a console session"), self._session() as session:
            session.exec(statement)
            session.commit()

    def revoke_console_sessions(self, platform: str, user_id: str, now: datetime) -> int:
        """End every session of one person (sign out everywhere); how many were open."""
        statement = (
            update(ConsoleSessionRow)
            .where(
                col(ConsoleSessionRow.platform) == platform,
                col(ConsoleSessionRow.user_id) == user_id,
                col(ConsoleSessionRow.revoked_at).is_(None),
            )
            .values(revoked_at=_utc(now))
        )
        with self._guard("sign out everywhere"), self._session() as session:
            count = session.exec(statement).rowcount
            session.commit()
            return int(count)

    def console_queue(
        self,
        *,
        officer: bool,
        group: str | None = None,
        category: Category | None = None,
        level: str | None = None,
        before: datetime | None = None,
        limit: int = 200,
    ) -> list[CaseRecord]:
        """Open cases, oldest first; a moderator's queue leaves out the officers' (their route says so).

        ``group``: one chat; ``category``: flagged with it; ``level``: one urgency; ``before``: posted
        before then (older than an age).
        """
        query = select(CaseRow).where(col(CaseRow.status) == "open")
        if not officer:
            query = query.where(col(CaseRow.route) != str(Route.SAFEGUARDING))
        if group:
            query = query.where(col(CaseRow.chat_id) == group)
        if category is not None:  # the flagged list as JSON text holds the category's quoted name
            query = query.where(cast(CaseRow.flagged, String).like(f'%"{category.value}"%'))
        if level:
            query = query.where(col(CaseRow.urgency) == level)
        if before is not None:
            query = query.where(col(CaseRow.created_at) < _utc(before))
        query = query.order_by(col(CaseRow.created_at), col(CaseRow.id)).limit(limit)
        with self._guard("read the console queue"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def group_cases(
        self, platform: str, chat_id: str, *, since: datetime, limit: int = 5000
    ) -> list[CaseRecord]:
        """A group's cases since ``since``, oldest first (for its page's charts and calibration report)."""
        query = (
            select(CaseRow)
            .where(
                col(CaseRow.platform) == platform,
                col(CaseRow.chat_id) == chat_id,
                col(CaseRow.created_at) >= _utc(since),
            )
            .order_by(col(CaseRow.created_at), col(CaseRow.id))
            .limit(limit)
        )
        with self._guard("read a group's cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def shadow_actions(self, case_ids: list[int]) -> dict[int, list[str]]:
        """What the bot would have done on these cases in shadow mode: case id -> its shadow actions."""
        found: dict[int, list[str]] = {}
        if not case_ids:
            return found
        query = select(CaseActionRow.case_id, CaseActionRow.action).where(
            col(CaseActionRow.case_id).in_(case_ids), col(CaseActionRow.outcome) == "shadow"
        )
        with self._guard("read shadow actions"), self._session() as session:
            for case_id, action in session.exec(query):
                found.setdefault(case_id, []).append(action)
        return found
