"""Discord: messages and edits into :class:`ChatMessage`, and the core's actions into discord.py calls.

Translation only: nothing here scores, decides or stores. Every discord.py error is wrapped in
:class:`AdapterError`; discord.py itself waits out rate limits (HTTP 429) before they reach us.
Case buttons are :class:`discord.ui.DynamicItem` s with stable ``custom_id`` s (``cm:<case>:<verb>``,
written and matched by ``bot/buttons.py``), so the buttons on old cards keep working after a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import discord

from adapters.base import (
    ActionRequest,
    Button,
    Card,
    ReviewAction,
    ReviewRequest,
    apply_action,
    card_destination,
)
from adapters.discord.notes import NoteButton
from bot import texts
from bot.buttons import (
    CASE_BUTTON_PATTERN,
    GROUP_BUTTON_PATTERN,
    case_button_data,
    group_button_data,
    parse_case_button,
    parse_group_button,
)
from bot.errors import AdapterError
from moderation.types import ActionKind, Attachment, AttachmentKind, Author, ChatMessage, Role, Route

__all__ = [
    "MAX_TIMEOUT",
    "MESSAGE_LIMIT",
    "PLATFORM",
    "CaseButton",
    "DiscordAdapter",
    "GroupButton",
    "case_view",
    "message_from_discord",
    "message_from_edit",
    "render_card",
]

PLATFORM = "discord"
MAX_TIMEOUT = timedelta(days=28)  # Discord's cap on a member timeout
logger = logging.getLogger(__name__)
T = TypeVar("T")
ButtonHandler = Callable[[discord.Interaction[Any], int, str], Awaitable[None]]

_NO_MENTIONS = discord.AllowedMentions.none()


def _attachment(filename: str, content_type: str | None, url: str | None = None) -> Attachment:
    kind = AttachmentKind.PHOTO if (content_type or "").startswith("image/") else AttachmentKind.DOCUMENT
    return Attachment(kind=kind, filename=filename, ref=url)


def message_from_discord(message: discord.Message, role: Role) -> ChatMessage:
    """Translate a Discord message into the core's message (content and attachments).

    discord.py updates a cached message in place when an edit arrives, so a message read after an
    edit carries the edit's revision: the pipeline then handles it once, whichever event reads it.
    """
    guild = message.guild
    edited = message.edited_at
    return ChatMessage(
        platform=PLATFORM,
        chat_id=str(message.channel.id),
        message_id=str(message.id),
        author=Author(id=str(message.author.id), display_name=message.author.display_name, role=role),
        group_id=str(guild.id) if guild is not None else None,
        text=message.content or "",
        sent_at=(edited or message.created_at).astimezone(UTC),
        attachments=tuple(
            _attachment(item.filename, item.content_type, item.url) for item in message.attachments
        ),
        is_edit=edited is not None,
        revision=_revision(edited) if edited else 0,
        reply_to=str(message.reference.message_id)
        if message.reference and message.reference.message_id
        else None,
        chat_title=f"{guild.name} #{getattr(message.channel, 'name', message.channel.id)}" if guild else None,
    )


def message_from_edit(
    data: Mapping[str, Any], role: Role, chat_title: str | None = None
) -> ChatMessage | None:
    """Translate a raw ``MESSAGE_UPDATE`` (it fires even for uncached messages); ``None`` without content."""
    author = data.get("author")
    if not isinstance(author, Mapping) or "content" not in data:
        return None
    edited = _timestamp(data.get("edited_timestamp")) or datetime.now(UTC)
    member = data.get("member") if isinstance(data.get("member"), Mapping) else {}
    name = (member or {}).get("nick") or author.get("global_name") or author.get("username") or "someone"
    return ChatMessage(
        platform=PLATFORM,
        chat_id=str(data["channel_id"]),
        message_id=str(data["id"]),
        author=Author(id=str(author["id"]), display_name=str(name), role=role),
        text=str(data.get("content") or ""),
        sent_at=edited,
        attachments=tuple(
            _attachment(str(item.get("filename", "file")), item.get("content_type"), _text(item.get("url")))
            for item in data.get("attachments") or ()
            if isinstance(item, Mapping)
        ),
        is_edit=True,
        revision=_revision(edited),
        chat_title=chat_title,
    )


def roles_of(user: object) -> frozenset[str]:
    """A member's roles by id and by name (a user outside a server has none)."""
    roles = getattr(user, "roles", None) or ()
    return frozenset(str(role.id) for role in roles) | frozenset(role.name for role in roles)


def render_card(card: Card, *, outcome: str | None = None) -> tuple[discord.Embed, discord.ui.View | None]:
    """A card as an embed and a view of persistent case buttons (none once decided)."""
    colour = discord.Colour.dark_purple() if card.route is Route.SAFEGUARDING else discord.Colour.orange()
    description = "\n".join(card.lines) + (f"\n\n**{outcome}**" if outcome else "")
    embed = discord.Embed(title=card.title[:256], description=description[:4000], colour=colour)
    if card.media:
        embed.set_image(url=card.media[0])
    return embed, None if outcome is not None else case_view(
        card.buttons, notes=card.route is Route.SAFEGUARDING
    )


def case_view(buttons: tuple[Button, ...], *, notes: bool = False) -> discord.ui.View | None:
    """A card's buttons as a view of persistent case buttons; ``None`` when there are none.

    ``notes``: an officer's card, which also offers "Add a note" while it offers decisions.
    """
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in buttons:
        kind = GroupButton if parse_group_button(button.data) else CaseButton
        view.add_item(kind.from_data(button.label, button.data))
    parsed = parse_case_button(buttons[0].data)
    if notes and parsed is not None:
        view.add_item(NoteButton(parsed[0]))
    return view


class CaseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=CASE_BUTTON_PATTERN,
):
    """A case button that survives restarts: its state lives in its ``custom_id``."""

    handler: ButtonHandler | None = None

    def __init__(self, case_id: int, verb: str, label: str = "") -> None:
        style = discord.ButtonStyle.danger if verb in {"remove", "mute24h"} else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(label=label or verb, style=style, custom_id=case_button_data(case_id, verb))
        )
        self.case_id = case_id
        self.verb = verb

    @classmethod
    def from_data(cls, label: str, data: str) -> CaseButton:
        """A button for one of a card's buttons."""
        match = cls.__discord_ui_compiled_template__.fullmatch(data)
        if match is None:
            raise ValueError(f"not a case button: {data!r}")
        return cls(int(match["case"]), match["verb"], label)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CaseButton:
        """Rebuild the button from a press, whatever process posted the card."""
        return cls(int(match["case"]), match["verb"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the bot."""
        if CaseButton.handler is not None:
            await CaseButton.handler(interaction, self.case_id, self.verb)


GroupHandler = Callable[[discord.Interaction[Any], int, str], Awaitable[None]]


class GroupButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=GROUP_BUTTON_PATTERN,
):
    """A button on the card of a server awaiting authorisation; survives restarts like a case button."""

    handler: GroupHandler | None = None

    def __init__(self, guild_id: int, verb: str, label: str = "") -> None:
        style = discord.ButtonStyle.success if verb == "authorise" else discord.ButtonStyle.danger
        super().__init__(
            discord.ui.Button(label=label or verb, style=style, custom_id=group_button_data(guild_id, verb))
        )
        self.guild_id = guild_id
        self.verb = verb

    @classmethod
    def from_data(cls, label: str, data: str) -> GroupButton:
        """A button for one of a card's buttons."""
        match = cls.__discord_ui_compiled_template__.fullmatch(data)
        if match is None:
            raise ValueError(f"not a group button: {data!r}")
        return cls(int(match["chat"]), match["verb"], label)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> GroupButton:
        """Rebuild the button from a press, whatever process posted the card."""
        return cls(int(match["chat"]), match["verb"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the bot."""
        if GroupButton.handler is not None:
            await GroupButton.handler(interaction, self.guild_id, self.verb)


@dataclass
class DiscordAdapter:
    """Carries out actions and verdicts with discord.py."""

    client: discord.Client
    moderators_channel: int | None
    safeguarding_channel: int | None
    notice_lifetime: float = 60.0
    name: str = PLATFORM
    capabilities: frozenset[ActionKind] = frozenset(
        {ActionKind.REMIND, ActionKind.WARN, ActionKind.HIDE, ActionKind.ESCALATE}
    )

    async def apply(self, request: ActionRequest) -> str | None:
        """Carry out one of the core's actions on Discord; a card's message id once posted."""
        return await apply_action(self, request)

    async def delete_message(self, chat_id: str, message_id: str) -> None:
        """Delete one message."""
        channel = self._channel(chat_id)
        await self._call("delete the message", lambda: channel.get_partial_message(int(message_id)).delete())

    async def apply_review(self, request: ReviewRequest) -> str | None:
        """Carry out one step of a moderator's verdict (in the server of the case's channel)."""
        guild = self._guild_of(request.chat_id)
        if request.action is ReviewAction.RESTORE:
            channel = self._channel(request.chat_id)
            text = f"Restored message from {request.author_name}:\n{request.text or ''}"[:2000]
            await self._call("re-post the message", lambda: channel.send(text, allowed_mentions=_NO_MENTIONS))
        elif request.action is ReviewAction.WARN:
            await self.send_private_or_nudge(
                request.author_id, request.author_name, request.chat_id, request.text or "", request.language
            )
        elif request.action is ReviewAction.MUTE:
            member = await self._member(guild, request.author_id)
            duration = min(request.duration or timedelta(hours=1), MAX_TIMEOUT)
            await self._call(
                "mute the member", lambda: member.timeout(duration, reason=f"case {request.case_id}")
            )
        elif request.action is ReviewAction.REMOVE:
            member = await self._member(guild, request.author_id)
            await self._call("remove the member", lambda: member.kick(reason=f"case {request.case_id}"))
        elif request.action is ReviewAction.POST_CARD and request.card is not None:
            return await self.post_card(request.card)
        elif request.action is ReviewAction.HIDE and request.message_id is not None:
            channel, message_id = self._channel(request.chat_id), int(request.message_id)
            await self._call("hide the message", lambda: channel.get_partial_message(message_id).delete())
        elif request.action is ReviewAction.NOTIFY and not await self.send_private(
            request.author_id, request.text or ""
        ):
            raise AdapterError("could not tell the member: their direct messages are closed")
        return None

    async def post_card(self, card: Card) -> str:
        """Post a card in the moderators' or the safeguarding officer's channel; the message's id."""
        target = card_destination(
            card, self.moderators_channel, self.safeguarding_channel, setting="CLASSMOD_DISCORD_{}_CHANNEL"
        )
        embed, view = render_card(card)
        channel = self._channel(str(target))
        # The card's key as the nonce (discord.py sends enforce_nonce with it): a card posted again
        # after a restart, within Discord's few minutes, returns the one already posted.
        keyed: dict[str, Any] = {"nonce": card.key[:25]} if card.key else {}
        if view is None:
            posted = await self._call("post the case card", lambda: channel.send(embed=embed, **keyed))
        else:
            posted = await self._call(
                "post the case card", lambda: channel.send(embed=embed, view=view, **keyed)
            )
        return str(posted.id)

    async def update_case_card(
        self, card: Card, message_id: str, outcome: str, buttons: tuple[Button, ...] = ()
    ) -> None:
        """Add the outcome of a decision taken in the console to the card's embed in its channel."""
        target = card_destination(
            card, self.moderators_channel, self.safeguarding_channel, setting="CLASSMOD_DISCORD_{}_CHANNEL"
        )
        channel = self._channel(str(target))
        posted = await self._call("read the card", lambda: channel.fetch_message(int(message_id)))
        embed = posted.embeds[0] if posted.embeds else render_card(card)[0]
        embed.description = f"{embed.description or ''}\n\n**{outcome}**"[:4000]
        view = case_view(buttons, notes=card.route is Route.SAFEGUARDING)
        await self._call("update the card", lambda: posted.edit(embed=embed, view=view))

    async def send_private(self, user_id: str, text: str) -> bool:
        """Send a direct message; ``False`` when Discord refuses (DMs closed, no shared server)."""
        try:
            user = self.client.get_user(int(user_id)) or await self.client.fetch_user(int(user_id))
            for part in message_parts(text):
                await user.send(part)
        except discord.Forbidden:
            return False
        except discord.HTTPException as exc:
            raise AdapterError(f"could not send a direct message: {exc.text or exc.status}") from exc
        return True

    async def send_private_card(self, user_id: str, card: Card) -> bool:
        """Send a card with its buttons as a direct message; ``False`` when Discord refuses (DMs closed)."""
        embed, view = render_card(card)
        try:
            user = self.client.get_user(int(user_id)) or await self.client.fetch_user(int(user_id))
            if view is None:
                await user.send(embed=embed)
            else:
                await user.send(embed=embed, view=view)
        except discord.Forbidden:
            return False
        except discord.HTTPException as exc:
            raise AdapterError(f"could not send a direct message: {exc.text or exc.status}") from exc
        return True

    async def send_private_or_nudge(
        self, user_id: str, name: str, chat_id: str, text: str, language: str = "en"
    ) -> None:
        """DM; where refused, a short public nudge (a mention, not ``name``) that deletes itself."""
        if await self.send_private(user_id, text):
            return
        channel = self._channel(chat_id)
        nudge = texts.public_nudge(PLATFORM, f"<@{user_id}>", language)
        await self._call(
            "post a short reminder",
            lambda: channel.send(
                nudge,
                delete_after=self.notice_lifetime,
                allowed_mentions=discord.AllowedMentions(users=True, everyone=False, roles=False),
            ),
        )
        raise AdapterError("the member's direct messages are closed; a short public nudge was posted instead")

    async def post(self, chat_id: str, text: str) -> None:
        """Post a plain message in a channel."""
        channel = self._channel(chat_id)
        for part in message_parts(text):
            await self._call("post a message", partial(channel.send, part, allowed_mentions=_NO_MENTIONS))

    async def leave(self, chat_id: str) -> None:
        """Leave a server (``chat_id`` is the server's id: a bot is in a server, not in one channel)."""
        guild = self.client.get_guild(int(chat_id))
        if guild is not None:
            await self._call("leave the server", guild.leave)

    def _guild_of(self, channel_id: str) -> discord.Guild | None:
        channel = self.client.get_channel(int(channel_id)) if channel_id.isdigit() else None
        return getattr(channel, "guild", None)

    def _channel(self, channel_id: str) -> discord.PartialMessageable:
        return self.client.get_partial_messageable(int(channel_id))

    async def _member(self, guild: discord.Guild | None, user_id: str) -> discord.Member:
        if guild is None:
            raise AdapterError("the case's server is not known to the bot any more")
        member = guild.get_member(int(user_id))
        if member is not None:
            return member
        return await self._call("find the member", lambda: guild.fetch_member(int(user_id)))

    async def _call(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except discord.NotFound as exc:
            raise AdapterError(
                f"could not {what}: not found ({exc.text or exc.status})", is_gone=True
            ) from exc
        except discord.Forbidden as exc:
            raise AdapterError(f"could not {what}: missing permission ({exc.text or exc.status})") from exc
        except discord.HTTPException as exc:
            raise AdapterError(
                f"could not {what}: Discord error {exc.status}", retryable=exc.status >= 500
            ) from exc
        except (TimeoutError, OSError) as exc:
            raise AdapterError(f"could not {what}: {type(exc).__name__}", retryable=True) from exc


def _revision(edited: datetime) -> int:
    """Both ways of reading an edit (the cached message, the raw event) give the same revision."""
    return int(edited.timestamp() * 1000)


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


MESSAGE_LIMIT = 2000
"""Discord's limit on a message's characters."""


def message_parts(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` in messages Discord accepts, cut between paragraphs, then lines, then anywhere.

    A note in the learner's language with English underneath can pass 2,000 characters; cutting it would
    lose the English (and leave a right-to-left isolate open), so it goes as two messages instead.
    """
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        cut = cut if cut > limit // 4 else limit
        parts.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    parts.append(rest)
    return [part for part in parts if part] or [""]
