"""Languages: a learner's choice and app language, a group's default, and messages not fully assessed.

The last are counted per group and day: messages in a language the scorers in use do not cover (no
text, no author). Which language wins is :func:`bot.languages.choose_language`'s rule; the store only
keeps what it chooses from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.store.engine import StoreEngine
from bot.tables import GroupRow, LanguageCountRow, PersonRow
from moderation.types import Role

__all__ = ["LanguageChoice", "LanguageStore", "UnassessedCount"]

_MAX_LOCALE = 35  # BCP 47 tags in practice (Discord's and Telegram's are 2-7 characters)
_TAG = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,8}){0,3}")


@dataclass(frozen=True, slots=True)
class LanguageChoice:
    """What is known of the language to write to someone in, before the rule picks one."""

    chosen: str | None = None
    locale: str | None = None
    group_default: str | None = None


@dataclass(frozen=True, slots=True)
class UnassessedCount:
    """Messages in one group, in one language the scorers do not cover, since a day."""

    platform: str
    chat_id: str
    language: str
    messages: int


class LanguageStore(StoreEngine):
    """Keeps each person's chosen language and last-seen locale, and each group's default language."""

    def set_language(self, platform: str, user_id: str, language: str | None) -> None:
        """Record (or, with ``None``, forget) the language someone chose with ``/language``."""

        def change(row: PersonRow) -> None:
            row.language = language

        self._save_person(platform, user_id, change, "record a language")

    def note_locale(self, platform: str, user_id: str, locale: str | None) -> None:
        """Remember the language tag someone's app reported, when it differs from the one kept."""
        locale = locale.strip().lower()[:_MAX_LOCALE] if locale else None
        if (
            not locale
            or not _TAG.fullmatch(locale)
            or self.language_choice(platform, user_id).locale == locale
        ):
            return

        def change(row: PersonRow) -> None:
            row.locale = locale

        self._save_person(platform, user_id, change, "record a locale")

    def set_group_language(self, platform: str, chat_id: str, language: str | None) -> bool:
        """Set (or clear) a known group's default language; False when the bot does not know the group."""
        query = select(GroupRow).where(col(GroupRow.platform) == platform, col(GroupRow.chat_id) == chat_id)
        with self._guard("set a group's language"), self._session() as session:
            row = session.exec(query).one_or_none()
            if row is None:
                return False
            row.language = language
            session.add(row)
            session.commit()
        return True

    def language_choice(self, platform: str, user_id: str, chat_id: str | None = None) -> LanguageChoice:
        """The person's choice and last locale, and the group's default when ``chat_id`` is given."""
        person = select(PersonRow.language, PersonRow.locale).where(
            col(PersonRow.platform) == platform, col(PersonRow.user_id) == user_id
        )
        group = select(GroupRow.language).where(
            col(GroupRow.platform) == platform, col(GroupRow.chat_id) == (chat_id or "")
        )
        with self._guard("read a language"), self._session() as session:
            chosen, locale = session.exec(person).first() or (None, None)
            group_default = session.exec(group).first() if chat_id else None
        return LanguageChoice(chosen=chosen, locale=locale, group_default=group_default)

    def count_unassessed(self, platform: str, chat_id: str, language: str, day: date) -> None:
        """Count one more message in ``language`` (which the scorers do not cover) in a group on ``day``."""
        key = (
            col(LanguageCountRow.platform) == platform,
            col(LanguageCountRow.chat_id) == chat_id,
            col(LanguageCountRow.day) == day,
            col(LanguageCountRow.language) == language,
        )
        increment = update(LanguageCountRow).where(*key).values(messages=LanguageCountRow.messages + 1)
        with self._guard("count a message not fully assessed"):
            for attempt in range(2):
                with self._session() as session:
                    if session.exec(increment).rowcount:
                        session.commit()
                        return
                    row = LanguageCountRow(
                        platform=platform, chat_id=chat_id, day=day, language=language, messages=1
                    )
                    session.add(row)
                    try:
                        session.commit()
                        return
                    except IntegrityError:  # another writer made the row first: increment it
                        if attempt:
                            raise

    def unassessed_counts(self, since: date) -> list[UnassessedCount]:
        """Per group and language, the messages not fully assessed since ``since``, most first."""
        total = func.sum(LanguageCountRow.messages)
        query = (
            select(LanguageCountRow.platform, LanguageCountRow.chat_id, LanguageCountRow.language, total)
            .where(col(LanguageCountRow.day) >= since)
            .group_by(
                col(LanguageCountRow.platform), col(LanguageCountRow.chat_id), col(LanguageCountRow.language)
            )
            .order_by(total.desc(), col(LanguageCountRow.chat_id), col(LanguageCountRow.language))
        )
        with self._guard("read the counts of messages not fully assessed"), self._session() as session:
            return [UnassessedCount(*row[:3], int(row[3])) for row in session.exec(query)]

    def _save_person(self, platform: str, user_id: str, change: object, doing: str) -> None:
        self._save_unique(
            doing,
            select(PersonRow).where(col(PersonRow.platform) == platform, col(PersonRow.user_id) == user_id),
            # Someone met first through /language: no name yet, and a learner unless the lists say otherwise.
            lambda: PersonRow(platform=platform, user_id=user_id, display_name="", role=str(Role.LEARNER)),
            change,  # type: ignore[arg-type]
        )
