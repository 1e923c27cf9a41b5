"""The core's vocabulary: messages in, decisions out.

Every type here is a frozen, slotted dataclass or a string enum, so a decision can be compared,
hashed where it matters, logged by its ids and never mutated after the engine built it. Platform
ids travel as opaque strings.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

__all__ = [
    "Action",
    "ActionKind",
    "Attachment",
    "AttachmentKind",
    "Author",
    "AuthorHistory",
    "Breach",
    "Category",
    "ChatMessage",
    "Decision",
    "Evidence",
    "ModelScores",
    "Role",
    "Route",
    "SemanticHit",
    "Strike",
    "Urgency",
]

T = TypeVar("T")


class Role(StrEnum):
    """Who wrote a message, as the service knows them."""

    LEARNER = "learner"
    TUTOR = "tutor"
    STAFF = "staff"
    MODERATOR = "moderator"

    @property
    def is_staff(self) -> bool:
        """Tutors, staff and moderators are all bound by the staff rules of the policy."""
        return self is not Role.LEARNER


class Category(StrEnum):
    """What the core scores; each category is breached by one or more policy clauses."""

    CIVILITY = "civility"
    HARASSMENT = "harassment"
    INCITEMENT = "incitement"
    EXTREMISM = "extremism"
    DEFAMATION = "defamation"
    PERSONAL_DATA = "personal_data"
    PHOTO_CONSENT = "photo_consent"
    SEXUAL = "sexual"
    STAFF_CONDUCT = "staff_conduct"
    SAFEGUARDING = "safeguarding"


class ActionKind(StrEnum):
    """What the bot does about a message, from least to most severe."""

    ALLOW = "allow"
    REMIND = "remind"
    WARN = "warn"
    HIDE = "hide"
    ESCALATE = "escalate"

    @property
    def severity(self) -> int:
        """Position in the ladder of severity: allow is 0, escalate is 4."""
        return _SEVERITY[self]


_SEVERITY = {kind: rank for rank, kind in enumerate(ActionKind)}


class Route(StrEnum):
    """Where an escalation goes."""

    MODERATORS = "moderators"
    SAFEGUARDING = "safeguarding"

    def pick(self, *, moderators: T, safeguarding: T) -> T:
        """The one rule of where a case goes: the safeguarding officer's place here, else the moderators'.

        Used for chats, channels and the names of settings alike.
        """
        return safeguarding if self is Route.SAFEGUARDING else moderators


class Urgency(StrEnum):
    """How soon a safeguarding case needs a person (the policy file's ``urgency`` rules decide)."""

    IMMEDIATE = "immediate"
    """Someone may be hurt now: suicidal intent or an overdose taken, harm now or today, a child in danger."""
    HIGH = "high"
    """Abuse, exploitation, forced marriage, grooming, homelessness tonight."""
    CONCERN = "concern"
    """Worries, low mood, food poverty."""


class AttachmentKind(StrEnum):
    """The kinds of attachment the core distinguishes."""

    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"
    AUDIO = "audio"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message: its bytes, or a coroutine function that fetches them.

    ``ref`` is the platform's own reference to the file (a Telegram ``file_id``, a Discord URL), so
    the moderators' card can show it.
    """

    kind: AttachmentKind
    filename: str | None = None
    data: bytes | None = None
    loader: Callable[[], Awaitable[bytes]] | None = field(default=None, compare=False)
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Author:
    """The person who wrote a message."""

    id: str
    display_name: str
    role: Role = Role.LEARNER
    locale: str | None = None
    """The language the author's app reports (Telegram's ``language_code``), where the platform says."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message (or one edit of it) as the core sees it, whatever platform it came from.

    ``revision`` distinguishes edits of the same message: the original is revision 0 and each
    edit carries a larger number (adapters use the platform's edit timestamp).
    """

    platform: str
    chat_id: str
    message_id: str
    author: Author
    text: str
    sent_at: datetime
    attachments: tuple[Attachment, ...] = ()
    is_edit: bool = False
    revision: int = 0
    reply_to: str | None = None
    chat_title: str | None = None
    group_id: str | None = None
    """The group the chat belongs to where that is not the chat itself (a Discord channel's server)."""

    @property
    def has_photo(self) -> bool:
        """Whether a photograph is attached."""
        return any(item.kind is AttachmentKind.PHOTO for item in self.attachments)


@dataclass(frozen=True, slots=True)
class Strike:
    """A formal warning on an author's record: which category, under which clause, when."""

    category: Category
    clause_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Breach:
    """An earlier flagged message of the author's, in one category (moderators did not overturn it)."""

    category: Category
    at: datetime


@dataclass(frozen=True, slots=True)
class AuthorHistory:
    """What the store knows about an author that the engine needs to decide.

    ``breaches`` climb the policy's ladder: a second breach in a category gets the ladder's second
    step. ``strikes`` are the formal warnings given. Both lapse after the policy's period.
    """

    strikes: tuple[Strike, ...] = ()
    has_photo_consent: bool = False
    breaches: tuple[Breach, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """Why a category was scored: which detector saw what kind of thing, and where.

    ``start`` and ``end`` are character offsets into the original message text (``None`` for
    whole-message evidence such as a model score or a photo). ``kind`` names the rule or label,
    e.g. ``phone``, ``threat`` or ``toxicity``; ``source`` names the detector.
    """

    category: Category
    kind: str
    source: str
    score: float = 1.0
    start: int | None = None
    end: int | None = None
    threshold: float | None = None
    """The score at which this detector flags (``None``: the category's threshold in the policy)."""
    similar: tuple[str, ...] = ()
    """For a trained head: the training examples most like the message, shown to moderators."""


@dataclass(frozen=True, slots=True)
class SemanticHit:
    """What a trained policy head found in a message: a category, how likely, and where.

    ``score`` is a calibrated probability; ``threshold`` the one the policy's precision target chose
    for this head. ``start`` and ``end`` give the sentence that scored highest (``None``: the whole
    message); ``similar`` the training examples nearest to it.
    """

    category: Category
    kind: str
    score: float
    threshold: float
    start: int | None = None
    end: int | None = None
    similar: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModelScores:
    """The output of the text model for one message, or why there is none.

    ``scorer`` says which model produced the labels, e.g. ``detoxify:unbiased-small`` or
    ``fallback:alt-profanity-check``. When the model failed, ``labels`` is empty and ``error``
    says why; the engine then holds the message for review instead of allowing it.
    """

    scorer: str
    labels: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    hits: tuple[SemanticHit, ...] = ()
    """The trained policy heads' findings, when heads are loaded."""
    languages: frozenset[str] = frozenset({"en"})
    """The languages the scorers in use assess in full (``*``: every language)."""


@dataclass(frozen=True, slots=True)
class Action:
    """One step for the adapter to carry out. ``route`` is set on escalations only."""

    kind: ActionKind
    route: Route | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the core concluded about one message, and everything needed to explain it."""

    scores: Mapping[Category, float]
    flagged: tuple[Category, ...]
    evidence: tuple[Evidence, ...]
    clauses: tuple[str, ...]
    actions: tuple[Action, ...]
    reminder: str | None
    explanation: str
    scorer: str
    strikes: int = 0
    """The author's active formal warnings (strikes) when the message was judged."""
    reminder_keys: tuple[str, ...] = ()
    """What ``reminder`` is made of, so it can be said in the learner's language
    (:meth:`moderation.policy.Policy.reminder_text`)."""
    language: str | None = None
    """The language the message is written in, where it could be told (``pl``, ``ar``)."""
    assessed: str = "full"
    """``full``, or ``partial: personal data only`` where the scorers do not cover ``language``."""
    urgency: Urgency | None = None
    """How urgent a safeguarding case is; ``None`` when safeguarding is not flagged."""

    @property
    def action(self) -> ActionKind:
        """The most severe action, ``allow`` when there is none."""
        if not self.actions:
            return ActionKind.ALLOW
        return max((action.kind for action in self.actions), key=lambda kind: kind.severity)

    @property
    def is_flagged(self) -> bool:
        """Whether any category crossed its threshold (or a scorer failed)."""
        return bool(self.actions)

    @property
    def route(self) -> Route | None:
        """Where the escalation goes, if the decision escalates."""
        for action in self.actions:
            if action.route is not None:
                return action.route
        return None
