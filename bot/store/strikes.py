"""Strikes and an author's history: what the engine weighs when it judges an author's next message.

What counts against an author (not safeguarding, not a case staff overturned, whichever path
overturned it) is read in one place, :meth:`StrikeStore.author_history`, for the pipeline and the
moderators' desk alike. The history also says whether the author gave photo consent, so strikes
build on people.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.store.engine import _utc
from bot.store.people import PeopleStore
from bot.tables import CaseRow, StrikeRow
from moderation.types import AuthorHistory, Breach, Category, Strike
from moderation.verdicts import OVERTURNED

__all__ = ["StrikeStore"]


class StrikeStore(PeopleStore):
    """Records one strike per case and reads an author's recent history back for the engine."""

    def add_strike(self, platform: str, author_id: str, strike: Strike, case_id: int | None) -> None:
        """Record a strike against an author, linked to the case that earned it where there is one.

        A case earns one strike: recording it again for the same case (a message delivered twice, a
        restart finishing the case, two processes at once) changes nothing; a unique index on the
        strike's case id holds this in the database.

        Raises:
            ValueError: there is no case ``case_id``.

        """
        row = StrikeRow(
            platform=platform,
            author_id=author_id,
            category=str(strike.category),
            clause_id=strike.clause_id,
            case_id=case_id,
            at=_utc(strike.at),
        )
        with self._guard("record a strike"), self._session() as session:
            if case_id is not None and self._has_strike(session, case_id):
                return
            session.add(row)
            try:
                session.commit()
            except IntegrityError as exc:
                # Either the case is missing (its foreign key) or a concurrent writer recorded the
                # case's strike since the check above (the unique index on case_id): tell them apart.
                session.rollback()
                if case_id is not None and self._has_strike(session, case_id):
                    return
                raise ValueError(f"there is no case {case_id}") from exc

    @staticmethod
    def _has_strike(session: Session, case_id: int) -> bool:
        return session.exec(select(StrikeRow.id).where(col(StrikeRow.case_id) == case_id)).first() is not None

    def author_history(
        self,
        platform: str,
        author_id: str,
        *,
        now: datetime,
        strike_lifetime: timedelta,
        exclude_message: tuple[str, str] | None = None,
    ) -> AuthorHistory:
        """The author's warnings and breaches newer than ``now - strike_lifetime``, and photo consent.

        Breaches are the categories of the author's earlier cases, except safeguarding (never held
        against anyone) and cases staff overturned (restored, no concern); the strikes of overturned
        cases are lifted too, whichever path overturned them. ``exclude_message`` (chat id, message id)
        leaves out the message being judged, so editing a message does not count against it twice.
        """
        since = _utc(now) - strike_lifetime
        overturned = select(CaseRow.id).where(col(CaseRow.status).in_(OVERTURNED))
        strikes_query = (
            select(StrikeRow)
            .where(
                col(StrikeRow.platform) == platform,
                col(StrikeRow.author_id) == author_id,
                col(StrikeRow.at) > since,
                col(StrikeRow.case_id).is_(None) | col(StrikeRow.case_id).not_in(overturned),
            )
            .order_by(col(StrikeRow.at), col(StrikeRow.id))
        )
        cases_query = (
            select(CaseRow.chat_id, CaseRow.message_id, CaseRow.flagged, CaseRow.created_at)
            .where(
                col(CaseRow.platform) == platform,
                col(CaseRow.author_id) == author_id,
                col(CaseRow.created_at) > since,
                col(CaseRow.status).not_in(OVERTURNED),
            )
            .order_by(col(CaseRow.created_at), col(CaseRow.id))
        )
        with self._guard("read an author's history"), self._session() as session:
            strikes = tuple(
                Strike(category=Category(row.category), clause_id=row.clause_id, at=_utc(row.at))
                for row in session.exec(strikes_query)
            )
            breaches = tuple(
                Breach(category=Category(name), at=_utc(created_at))
                for chat_id, message_id, flagged, created_at in session.exec(cases_query)
                if (chat_id, message_id) != exclude_message
                for name in flagged or ()
                if name != Category.SAFEGUARDING.value
            )
        return AuthorHistory(
            strikes=strikes, has_photo_consent=self.has_consent(platform, author_id), breaches=breaches
        )
