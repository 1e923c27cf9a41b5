"""The contract between the pipeline and a platform adapter.

An adapter translates native events into :class:`~moderation.types.ChatMessage` (that half is its
own business) and carries out the core's actions natively (this half is the contract below). It
declares what it can do; the pipeline checks before asking, so a policy that asks for something a
platform cannot do gets an error that says how to fix the policy, recorded on the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from bot.errors import AdapterError
from moderation.types import Action, ActionKind, ChatMessage, Decision, Route

__all__ = [
    "ActionRequest",
    "Adapter",
    "Button",
    "Card",
    "Platform",
    "ReviewAction",
    "ReviewRequest",
    "UnsupportedActionError",
    "apply_action",
    "card_destination",
    "check_supported",
]


@dataclass(frozen=True, slots=True)
class Button:
    """A button on a card: what it says and the opaque data it sends back when pressed."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Card:
    """A case as moderators see it: plain-text lines (personal details masked) and buttons.

    The adapter renders it natively (a message with an inline keyboard, an embed with a view);
    ``route`` says whose channel it belongs in. ``media`` are the platform's references to the photos
    posted with the message (see :class:`~moderation.types.Attachment`), shown with the card.
    """

    title: str
    lines: tuple[str, ...]
    buttons: tuple[Button, ...]
    route: Route
    media: tuple[str, ...] = ()
    key: str | None = None
    """Stable for one card (``case-12``): a platform that can (Discord's nonce) posts it once per key."""

    @property
    def text(self) -> str:
        """The card as plain text: the title, then one line each."""
        return "\n".join((self.title, *self.lines))


class ReviewAction(StrEnum):
    """What a moderator's verdict asks the platform to do."""

    HIDE = "hide"
    NOTIFY = "notify"
    RESTORE = "restore"
    WARN = "warn"
    MUTE = "mute"
    REMOVE = "remove"
    POST_CARD = "card"
    """Post ``card`` in its route's chat: a case referred to the officer, or handed back to moderators."""


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """One platform step of a moderator's verdict on a case.

    ``text`` is what to post: the restored message (as moderators saw it, personal details masked),
    the warning, or the private note to the author (``NOTIFY``, e.g. an appeal's outcome); ``card``
    the card to post (``POST_CARD``).
    """

    action: ReviewAction
    case_id: int
    chat_id: str
    author_id: str
    author_name: str
    message_id: str | None = None
    text: str | None = None
    duration: timedelta | None = None
    card: Card | None = None
    language: str = "en"
    """The language the author reads (``text`` is already in it; a public nudge is said in it too)."""


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """One action to carry out, with everything the adapter needs to do it.

    ``case_id`` is the stored case (always set for a flagged message, since the case is written
    before any action). ``masked_text`` is the message text with personal details masked.
    ``card`` is set on escalations: what to post in the moderators' (or safeguarding) channel.
    ``note`` is set on reminders and warnings: the private note, in the learner's language.
    ``language`` is the language the learner reads (for a public nudge).
    """

    action: Action
    message: ChatMessage
    decision: Decision
    case_id: int | None
    masked_text: str
    card: Card | None = None
    note: str | None = None
    language: str = "en"


class UnsupportedActionError(AdapterError):
    """The adapter cannot carry out this kind of action."""

    def __init__(self, adapter: str, kind: ActionKind) -> None:
        super().__init__(
            f"the {adapter} adapter cannot {kind.value}; change the ladder in the policy file "
            f"to use one of the actions it supports instead of {kind.value!r}"
        )
        self.adapter = adapter
        self.kind = kind


class Adapter(Protocol):
    """What the pipeline needs from a platform."""

    @property
    def name(self) -> str:
        """The platform's name, as used in ``ChatMessage.platform``."""
        ...

    @property
    def capabilities(self) -> frozenset[ActionKind]:
        """The actions this adapter can carry out."""
        ...

    async def apply(self, request: ActionRequest) -> str | None:
        """Carry out one action; return the platform's id of what it posted (a card), if any.

        Raises:
            AdapterError: the platform refused or failed; the message is recorded on the case.
        """
        ...


class Platform(Adapter, Protocol):
    """A chat platform: the core's actions (:class:`Adapter`) and everything else the bot sends out.

    One signature per operation on every platform; ids are the platform's own, as strings.
    """

    async def apply_review(self, request: ReviewRequest) -> str | None:
        """Carry out one step of a verdict (restore, warn, mute, remove, post a card, hide, notify).

        Returns the posted message's id for a card it posted (``POST_CARD``), else ``None``.

        Raises:
            AdapterError: the platform refused or failed; the step is recorded as failed.
        """
        ...

    async def post_card(self, card: Card) -> str:
        """Post a card where its route says (moderators or safeguarding); the posted message's id."""
        ...

    async def update_case_card(
        self, card: Card, message_id: str, outcome: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """Add an outcome line to a case's posted card (decided in the console); its buttons become these."""
        ...

    async def post(self, chat_id: str, text: str) -> None:
        """Post a plain message in a chat or channel."""
        ...

    async def send_private(self, user_id: str, text: str) -> bool:
        """Send a private message; ``False`` when the platform refuses (never started, DMs closed)."""
        ...

    async def send_private_card(self, user_id: str, card: Card) -> bool:
        """Send a card (with its buttons) privately; ``False`` when the platform refuses, as above."""
        ...

    async def leave(self, chat_id: str) -> None:
        """Leave a group (on Discord, the server)."""
        ...

    async def delete_message(self, chat_id: str, message_id: str) -> None:
        """Delete (hide) one message."""
        ...

    async def send_private_or_nudge(
        self, author_id: str, author_name: str, chat_id: str, text: str, language: str = "en"
    ) -> None:
        """Send privately; where refused, a short public nudge naming no breach, then ``AdapterError``.

        The nudge is said in ``language`` (the ESOL form).
        """
        ...


async def apply_action(platform: Platform, request: ActionRequest) -> str | None:
    """Carry out one of the core's actions on a platform; a card's message id once posted.

    The same on every platform: hide deletes, a reminder or the bot's warning goes privately to the
    author (the note the pipeline wrote in their language), an escalation posts its card.
    """
    message, kind = request.message, request.action.kind
    if kind is ActionKind.HIDE:
        await platform.delete_message(message.chat_id, message.message_id)
    elif kind in (ActionKind.REMIND, ActionKind.WARN):
        if request.note is None:
            raise AdapterError(f"a {kind.value} without its note")
        await platform.send_private_or_nudge(
            message.author.id, message.author.display_name, message.chat_id, request.note, request.language
        )
    elif kind is ActionKind.ESCALATE:
        if request.card is None:
            raise AdapterError("escalation without a card")
        return await platform.post_card(request.card)
    return None


Place = TypeVar("Place")


def card_destination(
    card: Card, moderators: Place | None, safeguarding: Place | None, *, setting: str
) -> Place:
    """Where a card goes by its route: the safeguarding officer's chat or the moderators'.

    ``setting`` names both settings with ``{}`` for the route (``CLASSMOD_TELEGRAM_{}_CHAT``).

    Raises:
        AdapterError: that place is not configured; the error names the setting to set.
    """
    place = card.route.pick(moderators=moderators, safeguarding=safeguarding)
    if place is None:
        missing = setting.format(card.route.pick(moderators="MODERATORS", safeguarding="SAFEGUARDING"))
        raise AdapterError(f"nowhere to post the case: set {missing}")
    return place


def check_supported(adapter: Adapter, kind: ActionKind) -> None:
    """Raise :class:`UnsupportedActionError` unless the adapter declares this action."""
    if kind not in adapter.capabilities:
        raise UnsupportedActionError(adapter.name, kind)
