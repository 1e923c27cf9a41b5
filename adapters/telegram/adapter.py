"""Telegram: native updates into :class:`ChatMessage`, and the core's actions into Bot API calls.

Translation only: nothing here scores, decides or stores. Every python-telegram-bot error is
wrapped in :class:`AdapterError` (``retryable`` for time-outs and network failures), so the pipeline
can record it on the case and carry on. Rate limits (HTTP 429) are retried by PTB's
``AIORateLimiter`` before they ever reach this module.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from telegram import Bot, ChatPermissions, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter

from adapters.base import (
    ActionRequest,
    Button,
    Card,
    ReviewAction,
    ReviewRequest,
    apply_action,
    card_destination,
)
from bot import texts
from bot.errors import AdapterError
from moderation.types import ActionKind, Attachment, AttachmentKind, Author, ChatMessage, Role

__all__ = [
    "PLATFORM",
    "ModerationRateLimiter",
    "TelegramAdapter",
    "keyboard",
    "message_from_telegram",
    "render_card",
]

PLATFORM = "telegram"
logger = logging.getLogger(__name__)
T = TypeVar("T")

_RETRIES = 2


class ModerationRateLimiter(AIORateLimiter):
    """PTB's rate limiter, with moderation calls kept out of the per-group message limit.

    Telegram's 20-a-minute limit is for messages sent to a group. Deleting, muting and removing are
    not messages, and queueing them behind it would leave a breach on screen for minutes in a busy
    group; they still count towards the overall limit of about 30 requests a second.
    """

    _NOT_MESSAGES = frozenset(
        {
            "deleteMessage",
            "deleteMessages",
            "restrictChatMember",
            "banChatMember",
            "unbanChatMember",
            "getChatMember",
            "getChat",
            "leaveChat",
        }
    )

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Apply the limits, leaving the group limit out for moderation calls."""
        if endpoint in self._NOT_MESSAGES and data.get("chat_id") is not None:
            data = {**data, "chat_id": 0}  # a chat, so the overall limit applies; not a group
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def message_from_telegram(message: Message, role: Role, *, is_edit: bool = False) -> ChatMessage:
    """Translate a Telegram message (or edit) into the core's message; text or caption, photos included."""
    user = message.from_user
    author = Author(
        id=str(user.id) if user else "unknown",
        display_name=(user.full_name if user else None) or "someone",
        role=role,
        locale=user.language_code if user else None,
    )
    attachments: list[Attachment] = []
    if message.photo:
        largest = message.photo[-1]
        attachments.append(
            Attachment(kind=AttachmentKind.PHOTO, filename=largest.file_unique_id, ref=largest.file_id)
        )
    if message.document:
        kind = (
            AttachmentKind.PHOTO
            if (message.document.mime_type or "").startswith("image/")
            else AttachmentKind.DOCUMENT
        )
        attachments.append(
            Attachment(kind=kind, filename=message.document.file_name, ref=message.document.file_id)
        )
    if message.video:
        attachments.append(Attachment(kind=AttachmentKind.VIDEO))
    edited = message.edit_date if is_edit and message.edit_date else None
    return ChatMessage(
        platform=PLATFORM,
        chat_id=str(message.chat_id),
        message_id=str(message.message_id),
        author=author,
        text=message.text or message.caption or "",
        sent_at=(edited or message.date or datetime.now(UTC)).astimezone(UTC),
        attachments=tuple(attachments),
        is_edit=is_edit,
        revision=int(edited.timestamp()) if edited else 0,
        reply_to=str(message.reply_to_message.message_id) if message.reply_to_message else None,
        chat_title=message.chat.title,
    )


def render_card(card: Card, *, outcome: str | None = None) -> tuple[str, InlineKeyboardMarkup | None]:
    """A card as Telegram text and an inline keyboard (two buttons a row); no keyboard once decided."""
    text = card.text if outcome is None else f"{card.text}\n{outcome}"
    if len(text) > MessageLimit.MAX_TEXT_LENGTH:
        text = text[: MessageLimit.MAX_TEXT_LENGTH - 1] + "…"
    return text, None if outcome is not None else keyboard(card.buttons)


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """A card's buttons as an inline keyboard, two a row; ``None`` when there are none."""
    if not buttons:
        return None
    rows = [
        [
            InlineKeyboardButton(button.label, callback_data=button.data)
            for button in buttons[index : index + 2]
        ]
        for index in range(0, len(buttons), 2)
    ]
    return InlineKeyboardMarkup(rows)


@dataclass
class TelegramAdapter:
    """Carries out actions and verdicts with the Bot API."""

    bot: Bot
    moderators_chat: int | None
    safeguarding_chat: int | None
    notice_lifetime: float = 60.0
    name: str = PLATFORM
    capabilities: frozenset[ActionKind] = frozenset(
        {ActionKind.REMIND, ActionKind.WARN, ActionKind.HIDE, ActionKind.ESCALATE}
    )
    _cleanup: set[asyncio.Task[None]] = field(default_factory=set)

    async def apply(self, request: ActionRequest) -> str | None:
        """Carry out one of the core's actions on Telegram; a card's message id once posted."""
        return await apply_action(self, request)

    async def delete_message(self, chat_id: str, message_id: str) -> None:
        """Delete one message."""
        await self._call("delete the message", lambda: self.bot.delete_message(int(chat_id), int(message_id)))

    async def apply_review(self, request: ReviewRequest) -> str | None:
        """Carry out one step of a moderator's verdict."""
        chat, user = int(request.chat_id), int(request.author_id)
        if request.action is ReviewAction.RESTORE:
            text = f"Restored message from {request.author_name}:\n{request.text or ''}"
            await self._call(
                "re-post the message",
                lambda: self.bot.send_message(chat, text[: MessageLimit.MAX_TEXT_LENGTH]),
            )
        elif request.action is ReviewAction.WARN:
            await self.send_private_or_nudge(
                request.author_id, request.author_name, request.chat_id, request.text or "", request.language
            )
        elif request.action is ReviewAction.MUTE:
            until = datetime.now(UTC) + (request.duration or datetime.resolution)
            await self._call(
                "mute the member",
                lambda: self.bot.restrict_chat_member(
                    chat, user, ChatPermissions.no_permissions(), until_date=until
                ),
            )
        elif request.action is ReviewAction.REMOVE:
            await self._call("remove the member", lambda: self.bot.ban_chat_member(chat, user))
            await self._call(
                "allow them to rejoin later",
                lambda: self.bot.unban_chat_member(chat, user, only_if_banned=True),
            )
        elif request.action is ReviewAction.POST_CARD and request.card is not None:
            return await self.post_card(request.card)
        elif request.action is ReviewAction.HIDE and request.message_id is not None:
            message_id = int(request.message_id)
            await self._call("hide the message", lambda: self.bot.delete_message(chat, message_id))
        elif request.action is ReviewAction.NOTIFY and not await self.send_private(
            request.author_id, request.text or ""
        ):
            raise AdapterError(
                "could not tell the learner: they have not started a private chat with the bot"
            )
        return None

    async def post_card(self, card: Card) -> str:
        """Post a card in the moderators' or the safeguarding officer's chat; the message's id."""
        chat = card_destination(
            card, self.moderators_chat, self.safeguarding_chat, setting="CLASSMOD_TELEGRAM_{}_CHAT"
        )
        text, keyboard = render_card(card)
        posted = await self._call(
            "post the case card", lambda: self.bot.send_message(chat, text, reply_markup=keyboard)
        )
        for photo in card.media:  # what was posted, under its card (a file_id: nothing is downloaded)
            await self._call(
                "show the photo with the card", partial(self._send_photo, chat, photo, card, posted)
            )
        return str(posted.message_id)

    async def _send_photo(self, chat: int, photo: str, card: Card, under: Message) -> Message:
        return await self.bot.send_photo(
            chat, photo, caption=card.title[:200], reply_to_message_id=under.message_id
        )

    async def update_card(
        self, chat_id: int, message_id: int, card_text: str, outcome: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """Add the outcome line to a card; its buttons become ``buttons`` (none once decided).

        A card that already reads so (Telegram's "message is not modified", when a decision interrupted
        after its card was updated is carried on) is left as it is.
        """
        text = f"{card_text}\n{outcome}"[: MessageLimit.MAX_TEXT_LENGTH]
        try:
            await self._call(
                "update the card",
                lambda: self.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard(buttons)
                ),
            )
        except AdapterError as exc:
            if not (isinstance(exc.__cause__, BadRequest) and "not modified" in str(exc.__cause__)):
                raise

    async def update_case_card(
        self, card: Card, message_id: str, outcome: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """Add the outcome of a decision taken in the console to the card in its chat."""
        chat = card_destination(
            card, self.moderators_chat, self.safeguarding_chat, setting="CLASSMOD_TELEGRAM_{}_CHAT"
        )
        await self.update_card(chat, int(message_id), card.text, outcome, buttons)

    async def send_private(self, user_id: str, text: str) -> bool:
        """Send a private message; ``False`` when Telegram refuses (the user never started the bot)."""
        try:
            await self._call("send a private message", lambda: self.bot.send_message(int(user_id), text))
        except AdapterError as exc:
            if isinstance(exc.__cause__, Forbidden | BadRequest):
                return False
            raise
        return True

    async def send_private_card(self, user_id: str, card: Card) -> bool:
        """Send a card with its buttons privately; ``False`` when Telegram refuses (never started the bot)."""
        text, markup = render_card(card)
        try:
            await self._call(
                "send a card privately",
                lambda: self.bot.send_message(int(user_id), text, reply_markup=markup),
            )
        except AdapterError as exc:
            if isinstance(exc.__cause__, Forbidden | BadRequest):
                return False
            raise
        return True

    async def send_private_or_nudge(
        self, user_id: str, name: str, chat_id: str, text: str, language: str = "en"
    ) -> None:
        """Send privately; where refused, a short public nudge that names no breach and deletes itself."""
        if await self.send_private(user_id, text):
            return
        await self.post_notice(int(chat_id), texts.public_nudge(PLATFORM, name, language))
        raise AdapterError(
            "the learner has not started a private chat with the bot; a short public nudge was posted instead"
        )

    async def post_notice(self, chat_id: int, text: str) -> None:
        """Post a short notice in a group that deletes itself after ``notice_lifetime`` seconds."""
        notice = await self._call("post a short notice", lambda: self.bot.send_message(chat_id, text))
        self._delete_later(notice)

    async def post(self, chat_id: str, text: str) -> None:
        """Post a plain message in a chat."""
        await self._call(
            "post a message",
            lambda: self.bot.send_message(int(chat_id), text[: MessageLimit.MAX_TEXT_LENGTH]),
        )

    async def leave(self, chat_id: str) -> None:
        """Leave a chat."""
        await self._call("leave the chat", lambda: self.bot.leave_chat(int(chat_id)))

    async def missing_rights(self, chat_id: int) -> list[str]:
        """The admin rights the bot lacks in a group (empty when it can delete and restrict)."""
        member = await self._call(
            "read the bot's rights", lambda: self.bot.get_chat_member(chat_id, self.bot.id)
        )
        if member.status == "creator":
            return []
        if member.status != "administrator":
            return ["administrator (make the bot an admin of the group)"]
        missing = []
        if not getattr(member, "can_delete_messages", False):
            missing.append("can_delete_messages (Delete messages)")
        if not getattr(member, "can_restrict_members", False):
            missing.append("can_restrict_members (Ban users)")
        return missing

    async def close(self) -> None:
        """Finish pending clean-ups (self-deleting notices) before shutdown."""
        for task in list(self._cleanup):
            task.cancel()
        await asyncio.gather(*self._cleanup, return_exceptions=True)

    def _delete_later(self, message: Message) -> None:
        async def delete() -> None:
            await asyncio.sleep(self.notice_lifetime)
            try:
                await self.bot.delete_message(message.chat_id, message.message_id)
            except TelegramError as exc:
                logger.info("could not delete the notice %s: %s", message.message_id, exc)

        task = asyncio.get_running_loop().create_task(delete())
        self._cleanup.add(task)
        task.add_done_callback(self._cleanup.discard)

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(_RETRIES + 1):
            try:
                return await call()
            except (BadRequest, Forbidden) as exc:  # the request itself is refused: retrying cannot help
                is_gone = "not found" in exc.message.lower()  # "message to delete not found"
                raise AdapterError(f"could not {what}: {exc.message}", is_gone=is_gone) from exc
            except RetryAfter as exc:  # only when the rate limiter has given up
                raise AdapterError(
                    f"could not {what}: still rate limited by Telegram", retryable=True
                ) from exc
            except (TimedOut, NetworkError) as exc:
                if attempt == _RETRIES:
                    raise AdapterError(f"could not {what}: {exc.message}", retryable=True) from exc
                await asyncio.sleep(0.5 * (attempt + 1))
            except TelegramError as exc:
                raise AdapterError(f"could not {what}: {exc.message}") from exc
        raise AssertionError("unreachable")
