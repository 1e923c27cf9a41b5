"""The database tables behind the case store (SQLModel, SQLite by default, PostgreSQL by URL).

Only what moderators need is kept: flagged messages (cases), their action log, strikes, consents,
authorised groups, people's roles and appeals. Unflagged messages leave nothing but their ids in
``classmod_seen_messages``, the pipeline's idempotency key. Every datetime is stored and read back
as timezone-aware UTC. Nothing outside ``bot/store/`` should use these rows directly.
"""

# No ``from __future__ import annotations``: SQLModel reads these annotations at class creation.

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "AlertRow",
    "AppealRow",
    "CaseActionRow",
    "CaseNoteRow",
    "CaseRow",
    "ConsentRow",
    "ConsoleLinkRow",
    "ConsoleSessionRow",
    "DigestRow",
    "GroupRow",
    "GroupThresholdRow",
    "InboundUpdateRow",
    "LeaseRow",
    "OutboxRow",
    "PersonRow",
    "ReadMarkRow",
    "SeenMessageRow",
    "StrikeRow",
    "UTCDateTime",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend, SQLite included.

    SQLite has no time zones: values are stored there as naive UTC text, which still sorts and
    compares correctly, and are made aware again when read back.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; naive datetimes are refused."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("datetimes given to the store must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime, whatever the backend handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class GroupRow(SQLModel, table=True):
    """A chat group the bot has been added to, and whether the service authorised it."""

    __tablename__ = "classmod_groups"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_classmod_groups_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat_id: str
    title: str = ""
    is_authorised: bool = False
    authorised_by: str | None = None
    authorised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    added_at: datetime = Field(sa_type=UTCDateTime)
    language: str | None = None
    """The language staff set for the group's learners (``/language`` in the group), if any."""
    mode: str | None = None
    """``enforce`` or ``shadow`` (``/mode``, the console); ``None`` for groups from before 0008: enforced."""


class PersonRow(SQLModel, table=True):
    """A person's display name and role on one platform."""

    __tablename__ = "classmod_people"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_classmod_people_user"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    user_id: str
    display_name: str
    role: str
    language: str | None = None
    """The language the person chose with ``/language``, if any."""
    locale: str | None = None
    """The language their app last reported (Telegram's ``language_code``, Discord's locale)."""


class CaseRow(SQLModel, table=True):
    """One flagged message (one revision of it) and everything the core concluded about it."""

    __tablename__ = "classmod_cases"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", "revision", name="uq_classmod_cases_message"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat_id: str
    message_id: str
    revision: int = 0
    author_id: str
    author_name: str
    author_role: str
    text: str | None = Field(default=None, sa_type=Text)
    is_edit: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    scores: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    flagged: list[str] = Field(default_factory=list, sa_type=JSON)
    clauses: list[str] = Field(default_factory=list, sa_type=JSON)
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    actions: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    top_action: str
    route: str | None = None
    reminder: str | None = Field(default=None, sa_type=Text)
    reminder_keys: list[str] | None = Field(default=None, sa_type=JSON)
    language: str | None = None
    assessed: str | None = None
    urgency: str | None = None
    explanation: str = Field(default="", sa_type=Text)
    scorer: str = ""
    status: str = Field(default="open", index=True)
    closed_by: str | None = None
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SeenMessageRow(SQLModel, table=True):
    """The ids of a message revision the pipeline has handled; never its text."""

    __tablename__ = "classmod_seen_messages"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "message_id", "revision", name="uq_classmod_seen_message"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat_id: str
    message_id: str
    revision: int = 0
    handled_at: datetime = Field(sa_type=UTCDateTime, index=True)


class ReadMarkRow(SQLModel, table=True):
    """Where the bot has read up to in a chat: the id of the last message it handled there, nothing else.

    A platform that never re-sends what a stopped bot missed (Discord) reads the chat's history after
    this mark when it starts or reconnects.
    """

    __tablename__ = "classmod_read_marks"
    __table_args__ = (UniqueConstraint("platform", "chat_id", name="uq_classmod_read_marks_chat"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat_id: str
    message_id: str
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CaseActionRow(SQLModel, table=True):
    """One entry in a case's action log: who did what, and whether it worked."""

    __tablename__ = "classmod_case_actions"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="classmod_cases.id", index=True)
    actor: str = "bot"
    action: str
    outcome: str
    detail: str | None = Field(default=None, sa_type=Text)
    at: datetime = Field(sa_type=UTCDateTime)


class StrikeRow(SQLModel, table=True):
    """A warning recorded against an author; a case earns one at most (strikes without a case: any number)."""

    __tablename__ = "classmod_strikes"
    __table_args__ = (Index("uq_classmod_strikes_case_id", "case_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    author_id: str = Field(index=True)
    category: str
    clause_id: str
    case_id: int | None = Field(default=None, foreign_key="classmod_cases.id")
    at: datetime = Field(sa_type=UTCDateTime)


class ConsentRow(SQLModel, table=True):
    """A written permission on record (``photo``: photographs of this person may be posted)."""

    __tablename__ = "classmod_consents"

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    user_id: str = Field(index=True)
    kind: str = "photo"
    recorded_by: str
    at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AppealRow(SQLModel, table=True):
    """An author's appeal against a case."""

    __tablename__ = "classmod_appeals"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="classmod_cases.id", index=True)
    author_id: str
    reason: str | None = Field(default=None, sa_type=Text)
    at: datetime = Field(sa_type=UTCDateTime)
    status: str = "open"


class LeaseRow(SQLModel, table=True):
    """Which process runs a platform's bot now, until when (renewed while it runs)."""

    __tablename__ = "classmod_leases"

    name: str = Field(primary_key=True)
    holder: str
    expires_at: datetime = Field(sa_type=UTCDateTime)


class InboundUpdateRow(SQLModel, table=True):
    """An update received from a platform and not yet handled: the inbound journal.

    It is written before the platform is told the update arrived and deleted once every handler
    for it has finished, so its text (the update's JSON) stays here only for seconds; a restart
    replays what is left.
    """

    __tablename__ = "classmod_inbound_updates"
    __table_args__ = (UniqueConstraint("platform", "update_id", name="uq_classmod_inbound_update"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    update_id: int = Field(sa_type=BigInteger)
    payload: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_type=UTCDateTime)


class LanguageCountRow(SQLModel, table=True):
    """How many messages a group had in a language the scorers do not cover, per day (no text, no author)."""

    __tablename__ = "classmod_language_counts"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "day", "language", name="uq_classmod_language_counts_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str
    chat_id: str
    day: date
    language: str
    messages: int = 0


class AuditRow(SQLModel, table=True):
    """Who saw or did what to a case outside the chat cards: a safeguarding case's every view is here."""

    __tablename__ = "classmod_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    actor: str
    """``platform:id`` of the person (an officer named on the command line)."""
    action: str
    """``view``, ``list``."""
    case_id: int | None = Field(default=None, index=True)
    via: str = "cli"


class AlertRow(SQLModel, table=True):
    """One step of a climb up the safeguarding rota, or a reminder of an undecided moderators' card.

    Written after it was sent, so a restart resumes from here without sending it again.
    """

    __tablename__ = "classmod_alerts"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="classmod_cases.id", index=True)
    step: int
    position: int | None = None
    """The rota member's place (0: first); ``None`` for the card posted again in a staff chat."""
    recipient: str
    """Whom: a member's name, or ``safeguarding chat`` / ``moderators chat``."""
    outcome: str
    """``ok``, ``refused`` (private messages closed) or ``failed``."""
    detail: str | None = Field(default=None, sa_type=Text)
    at: datetime = Field(sa_type=UTCDateTime)


class CaseNoteRow(SQLModel, table=True):
    """An officer's note on a case, added from its card: part of the case's chronology (text sealed)."""

    __tablename__ = "classmod_case_notes"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="classmod_cases.id", index=True)
    actor: str
    actor_name: str = Field(sa_type=Text)
    text: str | None = Field(default=None, sa_type=Text)
    """``None`` once purged with the case's text."""
    at: datetime = Field(sa_type=UTCDateTime)


class DigestRow(SQLModel, table=True):
    """A daily digest sent: one per platform and day, whichever process sends it first."""

    __tablename__ = "classmod_digests"

    platform: str = Field(primary_key=True)
    day: date = Field(primary_key=True)
    sent_at: datetime = Field(sa_type=UTCDateTime)


class ConsoleLinkRow(SQLModel, table=True):
    """A one-time sign-in link to the web console: its token's hash, whom and which role it is for."""

    __tablename__ = "classmod_console_links"

    token_hash: str = Field(primary_key=True)
    platform: str
    user_id: str
    role: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConsoleSessionRow(SQLModel, table=True):
    """A signed-in web console session: its cookie's hash, the person, their role and the form token."""

    __tablename__ = "classmod_console_sessions"

    token_hash: str = Field(primary_key=True)
    platform: str
    user_id: str = Field(index=True)
    role: str
    csrf: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxRow(SQLModel, table=True):
    """A decision taken in the web console, waiting for the platform's bot to carry it out on the platform.

    ``steps`` are the review's steps as JSON (sealed: a restored message or a warning is in them);
    ``outcome`` is the line the card gets. ``done_at`` is set once the bot has done them (``error``:
    what failed). ``steps_done`` counts the steps carried out so far and ``card_*`` names the card the
    decision was taken on, so a decision interrupted part way (the bot stopped, the database gone) is
    carried on where it stopped, its outcome on that card, and no step is done twice.
    """

    __tablename__ = "classmod_outbox"

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(index=True)
    case_id: int = Field(foreign_key="classmod_cases.id")
    steps: str = Field(sa_type=Text)
    outcome: str = Field(sa_type=Text)
    keeps_open: bool = False
    actor: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    error: str | None = Field(default=None, sa_type=Text)
    steps_done: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    card_message_id: str | None = None
    card_route: str | None = None


class GroupThresholdRow(SQLModel, table=True):
    """A group's own threshold for one category, set by staff in the console (never safeguarding's)."""

    __tablename__ = "classmod_group_thresholds"

    platform: str = Field(primary_key=True)
    chat_id: str = Field(primary_key=True)
    category: str = Field(primary_key=True)
    threshold: float
    set_by: str
    set_at: datetime = Field(sa_type=UTCDateTime)
