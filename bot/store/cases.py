"""Cases: flagged messages with their decisions, where review of each stands, and its action log.

A case is stored before the pipeline acts on it, and every platform call is logged against it
(its intent first), so a stopped process can finish what it started.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from bot.records import ActionRecord, CaseRecord, action_record, case_record, case_row
from bot.store.engine import StoreEngine, _utc
from bot.tables import CaseActionRow, CaseRow, SeenMessageRow
from moderation.types import ChatMessage, Decision, Route

__all__ = ["CASE_STATUSES", "OUTCOMES", "CaseStore"]

CASE_STATUSES = (
    "open",
    "closed",
    "upheld",
    "restored",
    "warned",
    "muted",
    "removed",
    "referred",  # a moderators' referral, when it closed the case (older cases; it now stays open)
    "actioned",
    "referred_on",
    "no_concern",
)
"""Every status a case can have; all but ``open`` close it."""

_UNREVIEWED = frozenset({"open", "closed"})
"""Statuses no person chose: awaiting review, or settled by the bot's own actions."""

_IDS_PER_QUERY = 1000

OUTCOMES = ("started", "ok", "failed", "skipped", "shadow")
"""How an entry in the action log turned out; ``started`` is written before a platform call (its intent);
``shadow``: what the bot would have done in a group in shadow mode, and did not."""


class CaseStore(StoreEngine):
    """Records cases, lists them for review and learning, closes them once, and keeps their action log."""

    def record_case(self, message: ChatMessage, decision: Decision, at: datetime) -> CaseRecord:
        """Store a flagged message and its decision, committed before this returns.

        Calling it again for the same message revision returns the case already stored.

        Raises:
            ValueError: the decision is not flagged (unflagged messages are never stored).

        """
        if not decision.is_flagged:
            raise ValueError("only flagged decisions become cases; use mark_seen for the rest")
        row = case_row(message, decision, _utc(at), self._sealer)
        with self._guard("record a case"), self._session() as session:
            session.add(row)
            try:
                session.commit()
                return case_record(row, self._sealer)
            except IntegrityError:
                session.rollback()
                existing = session.exec(
                    select(CaseRow).where(
                        col(CaseRow.platform) == message.platform,
                        col(CaseRow.chat_id) == message.chat_id,
                        col(CaseRow.message_id) == message.message_id,
                        col(CaseRow.revision) == message.revision,
                    )
                ).one_or_none()
                if existing is None:
                    raise
                return case_record(existing, self._sealer)

    def unfinished_cases(
        self, platform: str, *, since: datetime, after_id: int = 0, limit: int = 200
    ) -> list[CaseRecord]:
        """Cases stored since ``since`` whose message was never marked handled, in id order.

        The pipeline stores a case before it acts and marks the message handled after its last
        action, so these are the messages a stopped process left half done. Page with
        ``after_id``: the last id of the page before.
        """
        handled = select(SeenMessageRow.id).where(
            SeenMessageRow.platform == CaseRow.platform,
            SeenMessageRow.chat_id == CaseRow.chat_id,
            SeenMessageRow.message_id == CaseRow.message_id,
            SeenMessageRow.revision == CaseRow.revision,
        )
        query = (
            select(CaseRow)
            .where(
                col(CaseRow.platform) == platform,
                col(CaseRow.created_at) >= _utc(since),
                col(CaseRow.text).is_not(None),
                col(CaseRow.id) > after_id,
                ~handled.exists(),
            )
            .order_by(col(CaseRow.id))
            .limit(limit)
        )
        with self._guard("list unfinished cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def get_case(self, case_id: int) -> CaseRecord | None:
        """Return the case with this id, or None."""
        with self._guard("read a case"), self._session() as session:
            row = session.get(CaseRow, case_id)
            return None if row is None else case_record(row, self._sealer)

    def cases(self, *, status: str | None = None, limit: int = 50) -> list[CaseRecord]:
        """List cases newest first, optionally only those with ``status``."""
        query = select(CaseRow)
        if status is not None:
            query = query.where(col(CaseRow.status) == status)
        query = query.order_by(col(CaseRow.created_at).desc(), col(CaseRow.id).desc()).limit(limit)
        with self._guard("list cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def reviewed_cases(self) -> list[CaseRecord]:
        """Cases a person decided whose text is still kept, oldest first: what `classmod learn` learns from.

        A case closed by the bot alone (``closed``) or still open is left out, and so is a purged
        one: once its text is erased, the case leaves the training data too.
        """
        decided = [status for status in CASE_STATUSES if status not in _UNREVIEWED]
        query = (
            select(CaseRow)
            .where(
                col(CaseRow.status).in_(decided),
                col(CaseRow.text).is_not(None),
                col(CaseRow.purged_at).is_(None),
            )
            .order_by(col(CaseRow.created_at), col(CaseRow.id))
        )
        with self._guard("list reviewed cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def open_cases(self, *, limit: int = 50) -> list[CaseRecord]:
        """List the open cases, newest first."""
        return self.cases(status="open", limit=limit)

    def cases_for_author(self, platform: str, author_id: str, *, limit: int = 50) -> list[CaseRecord]:
        """List an author's cases, newest first."""
        query = (
            select(CaseRow)
            .where(col(CaseRow.platform) == platform, col(CaseRow.author_id) == author_id)
            .order_by(col(CaseRow.created_at).desc(), col(CaseRow.id).desc())
            .limit(limit)
        )
        with self._guard("list an author's cases"), self._session() as session:
            return [case_record(row, self._sealer) for row in session.exec(query)]

    def close_case(self, case_id: int, status: str, *, actor: str, at: datetime) -> CaseRecord:
        """Close an open case with ``status``; a case already closed is returned unchanged.

        Raises:
            ValueError: ``status`` is not a closing status, or there is no such case.

        """
        self.claim_case(case_id, status, actor=actor, at=at)
        case = self.get_case(case_id)
        if case is None:
            raise ValueError(f"there is no case {case_id}")
        return case

    def claim_case(self, case_id: int, status: str, *, actor: str, at: datetime) -> bool:
        """Close an open case with ``status`` and say whether this call closed it.

        Of two moderators pressing at once (or one pressing twice), exactly one gets ``True``.
        """
        if status not in CASE_STATUSES or status == "open":
            raise ValueError(f"cannot close a case as {status!r}; use one of {CASE_STATUSES[1:]}")
        statement = (
            update(CaseRow)
            .where(col(CaseRow.id) == case_id, col(CaseRow.status) == "open")
            .values(status=status, closed_by=actor, closed_at=_utc(at))
        )
        with self._guard("close a case"), self._session() as session:
            result = session.exec(statement)
            session.commit()
            return bool(result.rowcount)

    def reroute_case(self, case_id: int, *, from_route: Route | None, to_route: Route) -> bool:
        """Move an open case from one route (``None``: the moderators') to another; whether this moved it.

        A moderators' referral and an officer's hand-back: of two presses at once, exactly one moves it.
        """
        on_route = (
            col(CaseRow.route).is_(None) if from_route is None else col(CaseRow.route) == str(from_route)
        )
        statement = (
            update(CaseRow)
            .where(col(CaseRow.id) == case_id, col(CaseRow.status) == "open", on_route)
            .values(route=str(to_route))
        )
        with self._guard("re-route a case"), self._session() as session:
            result = session.exec(statement)
            session.commit()
            return bool(result.rowcount)

    def overturn_case(self, case_id: int, *, actor: str, at: datetime) -> None:
        """Mark a case restored whatever its status (a granted appeal): it no longer counts against anyone."""
        statement = (
            update(CaseRow)
            .where(col(CaseRow.id) == case_id)
            .values(status="restored", closed_by=actor, closed_at=_utc(at))
        )
        with self._guard("restore a case"), self._session() as session:
            session.exec(statement)
            session.commit()

    def record_action(
        self,
        case_id: int,
        action: str,
        outcome: str,
        *,
        actor: str = "bot",
        detail: str | None = None,
        at: datetime,
    ) -> ActionRecord:
        """Append to a case's action log (``detail``: the platform's error, never message text).

        Raises:
            ValueError: ``outcome`` is not one of ``OUTCOMES``, or there is no such case.

        """
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {outcome!r}")
        row = CaseActionRow(
            case_id=case_id,
            actor=actor,
            action=action,
            outcome=outcome,
            detail=self._sealer.seal(detail),
            at=_utc(at),
        )
        with self._guard("record an action"), self._session() as session:
            self._insert_for_case(session, row, case_id)
            return action_record(row, self._sealer)

    def cases_with_action(self, case_ids: Iterable[int], action: str) -> frozenset[int]:
        """Which of these cases a person took ``action`` on (successfully): moderators' referrals, say."""
        ids = list(case_ids)
        found: set[int] = set()
        with self._guard("read the action log"), self._session() as session:
            for start in range(0, len(ids), _IDS_PER_QUERY):  # within every database's parameter limit
                query = select(CaseActionRow.case_id).where(
                    col(CaseActionRow.case_id).in_(ids[start : start + _IDS_PER_QUERY]),
                    col(CaseActionRow.action) == action,
                    col(CaseActionRow.actor) != "bot",
                    col(CaseActionRow.outcome) == "ok",
                )
                found.update(session.exec(query))
        return frozenset(found)

    def case_actions(self, case_id: int) -> list[ActionRecord]:
        """Return a case's action log, oldest first."""
        query = (
            select(CaseActionRow)
            .where(col(CaseActionRow.case_id) == case_id)
            .order_by(col(CaseActionRow.at), col(CaseActionRow.id))
        )
        with self._guard("read the action log"), self._session() as session:
            return [action_record(row, self._sealer) for row in session.exec(query)]

    @staticmethod
    def _insert_for_case(session: Session, row: SQLModel, case_id: int | None) -> None:
        session.add(row)
        try:
            session.commit()
        except IntegrityError as exc:
            raise ValueError(f"there is no case {case_id}") from exc
