"""The Discord bot: discord.py's sharded client wired to the pipeline and the shared desk.

It mirrors the Telegram bot: the same pipeline, desk (roles, authorisation, commands) and review.
Handlers route events; the adapter translates them and carries out actions. Failures are logged
with ids (never text) and never stop the client.

This is where every Discord event is routed (messages, edits, history reads, buttons, the stop); what
has a life of its own lives beside it: the client and its URLs (``client``), the slash commands
(``commands``), servers awaiting authorisation (``authorisation``), officers' notes (``notes``), reading
what was missed (``history``, with bot's ``read_marks``) and the graceful stop (bot's ``shutdown``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import aiohttp
import discord

from adapters.base import Button
from adapters.discord.adapter import (
    PLATFORM,
    CaseButton,
    DiscordAdapter,
    GroupButton,
    case_view,
    message_from_discord,
    message_from_edit,
    roles_of,
)
from adapters.discord.authorisation import ServerAuthorisation, permission_problems
from adapters.discord.client import ClassmodClient, intents
from adapters.discord.commands import SlashCommands
from adapters.discord.history import Channel, MissedMessages
from adapters.discord.notes import NoteButton, OfficersNotes
from bot.app import Services, desk_and_scheduler, make_pipeline
from bot.buttons import case_button_data
from bot.config import ConfigError, Settings
from bot.errors import StorageError
from bot.ordering import InOrder
from bot.read_marks import ReadMarks
from bot.redaction import Redaction
from bot.review import Press
from bot.shutdown import WorkInHand, serve_until_stopped
from moderation.types import ChatMessage, Role

__all__ = ["ClassmodClient", "DiscordBot", "intents", "prepare"]

logger = logging.getLogger(__name__)
_RESTARTING = "classmod is restarting: press the button again in a minute."


def prepare(settings: Settings) -> Callable[[Services], None]:
    """Check the Discord settings before anything opens; then the runner.

    Raises:
        ConfigError: no token is set.
    """
    if settings.discord_token is None:
        raise ConfigError("CLASSMOD_DISCORD_TOKEN is not set: create a bot in the Discord developer portal")
    return lambda services: DiscordBot(services, ClassmodClient()).run()


class DiscordBot:
    """Moderates authorised Discord servers and channels, and runs the moderators' review."""

    def __init__(self, services: Services, client: ClassmodClient) -> None:
        settings = services.settings
        self.services = services
        self.settings = settings
        self.client = client
        client.bot = self
        client.api_url, client.gateway_url = settings.discord_api_url, settings.discord_gateway_url
        self.adapter = DiscordAdapter(
            client,
            moderators_channel=settings.discord_moderators_channel,
            safeguarding_channel=settings.discord_safeguarding_channel,
            notice_lifetime=settings.notice_lifetime_seconds,
        )
        self.pipeline = make_pipeline(services, self.adapter)
        self._in_order = InOrder()
        self._marks = ReadMarks(services.store, PLATFORM)
        self._work = WorkInHand()
        self._authorised_from: dict[int, int] = {}
        """Servers authorised while running: the authorisation's snowflake (older messages are their past)."""
        self._missed = MissedMessages(
            self._marks,
            started_at=datetime.now(UTC),
            take=lambda message: self._take(message, from_history=True),
            is_stopping=lambda: self._work.is_stopping,
        )
        self.desk, self.scheduler = desk_and_scheduler(services, self.adapter)
        CaseButton.handler = self.on_case_button
        self.notes = OfficersNotes(self)
        NoteButton.handler = self.notes.on_button
        self.authorisation = ServerAuthorisation(self)
        GroupButton.handler = self.authorisation.on_button
        self._register()

    def run(self) -> None:
        """Run until SIGTERM or SIGINT, then stop gracefully (see :mod:`bot.shutdown`).

        Raises:
            ConfigError: the token was refused, the message content intent is not enabled, or Discord
                cannot be reached.
        """
        token = self.settings.discord_token
        if token is None:
            raise ConfigError(
                "CLASSMOD_DISCORD_TOKEN is not set: create a bot in the Discord developer portal"
            )
        try:
            asyncio.run(self._serve(token.get_secret_value()))
        except KeyboardInterrupt:  # before the signal handlers were in place
            return
        except discord.LoginFailure as exc:
            raise ConfigError("Discord refused the token: check CLASSMOD_DISCORD_TOKEN") from exc
        except discord.PrivilegedIntentsRequired as exc:
            raise ConfigError(
                "Discord refused the privileged intents: in the developer portal, under Bot, enable "
                "MESSAGE CONTENT INTENT and SERVER MEMBERS INTENT (without message content most messages "
                "arrive empty and cannot be moderated)"
            ) from exc
        except (OSError, aiohttp.ClientError, discord.GatewayNotFound, discord.DiscordServerError) as exc:
            reason = Redaction.of(self.settings)(" ".join(str(exc).split())[:200])
            raise ConfigError(
                f"cannot reach Discord ({type(exc).__name__}: {reason}): check the network"
            ) from exc

    async def wind_down(self) -> None:
        """Take no new events; let those in hand finish (up to the stop's grace), then cancel the rest."""
        await self._work.wind_down(self.settings.shutdown_grace_seconds)

    async def _serve(self, token: str) -> None:
        async with self.client:  # as discord.py's own Client.run
            try:
                await serve_until_stopped(
                    self.client.start(token),
                    self._work,
                    grace=self.settings.shutdown_grace_seconds,
                    close=self.client.close,
                )
            finally:
                await self.pipeline.close()

    # --- wiring --------------------------------------------------------------------------------

    def _register(self) -> None:
        client, tree = self.client, self.client.tree
        client.event(self.on_ready)
        client.event(self.on_shard_ready)
        client.event(self.on_shard_resumed)
        client.event(self.on_disconnect)
        client.event(self.on_guild_channel_create)
        client.event(self.on_message)
        client.event(self.on_raw_message_edit)
        client.event(self.on_guild_join)
        client.event(self.on_member_join)
        SlashCommands(self).register(tree)

    # --- events --------------------------------------------------------------------------------

    async def on_ready(self) -> None:
        """Sync commands, check permissions in every authorised server, finish cases left unfinished."""
        with self._work.track():
            await self._get_ready()

    async def _get_ready(self) -> None:
        try:
            await self.client.tree.sync()
        except discord.HTTPException as exc:
            logger.warning("could not register the application commands: %s", exc.status)
        for guild in self.client.guilds:
            if self._is_staff_guild(guild):
                continue
            if not await self._guild_authorised(guild):
                await self.authorisation.awaiting(guild, "someone, while the bot was not running")
                continue
            for problem in permission_problems(guild):
                logger.warning("%s", problem)
                await self.tell_moderators(problem)
        # Finish what a stopped bot left half done in the last 48 hours (hide, remind, card).
        self.pipeline.resume_in_background(PLATFORM, chat_title=self._channel_title)
        self.scheduler.start()  # the safeguarding rota, the moderators' reminders, the daily digest

    async def on_shard_ready(self, shard_id: int) -> None:
        """A shard has a new session (start-up, or Discord dropped the old one): read what was missed.

        The marks of channels never read are set first, so a stop at any moment after this loses
        nothing; then each channel's history after its mark is read and handled in order.
        """
        with self._work.track():
            channels = await self._channels_to_read(shard_id)
            await self._missed.begin(channels)
            await self._missed.read(channels)

    async def on_shard_resumed(self, shard_id: int) -> None:
        """A shard resumed its session: Discord replays what it missed; read the history to be sure."""
        with self._work.track():
            await self._missed.read(await self._channels_to_read(shard_id))

    async def on_disconnect(self) -> None:
        """Until the next read of the history, live messages do not move the read marks."""
        self._marks.disconnected()

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        """A new channel in an authorised server: everything said there is read, from its first message."""
        if isinstance(channel, discord.TextChannel) and await self._authorised(channel.guild, channel.id):
            await self._marks.restart(str(channel.id), str(channel.id))  # older than any message in it

    def authorising(self, guild: discord.Guild, since: int) -> None:
        """Staff are authorising a server by an interaction (snowflake ``since``), before it is stored.

        What was said there before it is the server's past and never read, even when its message
        arrives, or waits its turn, until after the authorisation is stored.
        """
        self._authorised_from[guild.id] = since

    async def watch_from_now(self, guild: discord.Guild) -> None:
        """A server just authorised: read its channels from now on, never its past."""
        since = self._authorised_from.get(guild.id) or discord.utils.time_snowflake(datetime.now(UTC))
        for channel in _readable(guild):
            await self._marks.restart(str(channel.id), str(since))

    async def on_message(self, message: discord.Message) -> None:
        """Assess a new message in an authorised server channel (none once stopping)."""
        if self._work.is_stopping:
            return  # not taken: the read mark stays before it, so the next start reads it
        with self._work.track():
            if self.notes.is_note(message):
                await self.notes.add_from_reply(message)
                return
            await self._take(message)

    async def _take(self, message: discord.Message, *, from_history: bool = False) -> None:
        if not _is_moderated(message) or message.guild is None:
            return
        # Read the message before the first await: discord.py may update a cached message in place
        # when an edit arrives meanwhile, and the edit is assessed on its own (as its own revision).
        snapshot = message_from_discord(message, Role.LEARNER)
        roles = roles_of(message.author)
        guild = message.guild
        # In the channel's turn, taken before any await, so its messages keep their order.
        await self._in_order.run(
            message.channel.id,
            lambda settled: self._moderate(guild, snapshot, roles, settled, from_history=from_history),
        )

    async def _moderate(
        self,
        guild: discord.Guild,
        snapshot: ChatMessage,
        roles: frozenset[str],
        settled: asyncio.Event,
        *,
        from_history: bool = False,
    ) -> None:
        chat_id = snapshot.chat_id
        try:
            if self.desk.is_staff_room(chat_id) or not await self._authorised(guild, int(chat_id)):
                return
            if not from_history and int(snapshot.message_id) < self._authorised_from.get(guild.id, 0):
                return  # said before staff authorised the server: its past
            role = await self.desk.role_of(snapshot.author.id, roles)
        except StorageError as exc:
            error = str(exc)
        else:
            chat_message = replace(snapshot, author=replace(snapshot.author, role=role))
            outcome = await self.pipeline.handle(chat_message, settled=settled)
            if not outcome.error:
                if from_history:
                    await self._marks.read(chat_id, snapshot.message_id)
                else:
                    await self._marks.handled(chat_id, snapshot.message_id)
                return
            error = outcome.error
        # Not marked handled, and the read mark stays before it: the next read of the history retries.
        self._marks.failed(chat_id)
        logger.error("message %s in channel %s not moderated: %s", snapshot.message_id, chat_id, error)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """Re-assess an edit, cached or not."""
        data = payload.data
        author = data.get("author") or {}
        if payload.guild_id is None or author.get("bot") or "content" not in data or self._work.is_stopping:
            return
        with self._work.track():
            await self._in_order.run(
                payload.channel_id, lambda settled: self._moderate_edit(payload, settled)
            )

    async def _moderate_edit(self, payload: discord.RawMessageUpdateEvent, settled: asyncio.Event) -> None:
        data = payload.data
        author = data.get("author") or {}
        guild = self.client.get_guild(payload.guild_id) if payload.guild_id is not None else None
        if (
            guild is None
            or self.desk.is_staff_room(str(payload.channel_id))
            or not await self._authorised(guild, payload.channel_id)
        ):
            return
        member = guild.get_member(int(author["id"])) if author.get("id") else None
        role = await self.desk.role_of(str(author.get("id")), roles_of(member))
        message = message_from_edit(data, role, chat_title=guild.name)
        if message is not None:
            await self.pipeline.handle(message, settled=settled)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """A server nobody authorised: a notice there, a card for staff to authorise it, a time to leave."""
        if not self._is_staff_guild(guild) and not await self._guild_authorised(guild):
            await self.authorisation.awaiting(guild, await self.authorisation.who_added(guild))

    async def on_member_join(self, member: discord.Member) -> None:
        """Welcome a learner privately (or in the server where DMs are closed)."""
        if member.bot or not await self._guild_authorised(member.guild):
            return
        language = await self.desk.language_of(str(member.id), str(member.guild.id))
        welcome = self.desk.welcome_text(member.display_name, language)
        if not await self.adapter.send_private(str(member.id), welcome):
            channel = member.guild.system_channel
            if channel is not None:
                await self.attempt(
                    self.adapter.post(
                        str(channel.id), self.desk.public_welcome(member.display_name, language)
                    )
                )

    async def on_case_button(self, interaction: discord.Interaction[Any], case_id: int, verb: str) -> None:
        """A moderator pressed a case button (while the bot stops, they are asked to press it again)."""
        if self._work.is_stopping:
            await self.attempt(interaction.response.send_message(_RESTARTING, ephemeral=True))
            return
        with self._work.track():
            await self._press(interaction, case_id, verb)

    async def _press(self, interaction: discord.Interaction[Any], case_id: int, verb: str) -> None:
        press = Press(
            platform=PLATFORM,
            data=case_button_data(case_id, verb),
            presser_id=str(interaction.user.id),
            presser_name=interaction.user.display_name,
            chat_id=str(interaction.channel_id),
            presser_roles=roles_of(interaction.user),
            is_private=interaction.guild_id is None,
        )
        await self.desk.decide(press, self.adapter, _CardPress(self, interaction))

    # --- helpers -------------------------------------------------------------------------------

    async def _channels_to_read(self, shard_id: int) -> list[Channel]:
        channels: list[Channel] = []
        for guild in self.client.guilds:
            if guild.shard_id != shard_id or self._is_staff_guild(guild):
                continue
            try:
                channels += [
                    channel for channel in _readable(guild) if await self._authorised(guild, channel.id)
                ]
            except StorageError as exc:
                logger.error("could not list the authorised channels of server %s: %s", guild.id, exc)
        return channels

    async def _authorised(self, guild: discord.Guild, channel_id: int) -> bool:
        return await self.desk.is_authorised(str(channel_id)) or await self._guild_authorised(guild)

    async def _guild_authorised(self, guild: discord.Guild) -> bool:
        return await self.desk.is_authorised(str(guild.id))

    def _is_staff_guild(self, guild: discord.Guild) -> bool:
        staff_rooms = {
            self.settings.discord_moderators_channel,
            self.settings.discord_safeguarding_channel,
        } - {None}
        return any(guild.get_channel(channel) is not None for channel in staff_rooms if channel is not None)

    def _channel_title(self, channel_id: str) -> str | None:
        """``Server #channel`` for a channel the client can see, as live cards name it."""
        channel = self.client.get_channel(int(channel_id)) if channel_id.isdigit() else None
        guild = getattr(channel, "guild", None)
        if channel is None or guild is None:
            return None
        return f"{guild.name} #{getattr(channel, 'name', channel_id)}"

    async def tell_moderators(self, text: str | None) -> None:
        """Post a notice in the moderators' channel, when there is one and something to say."""
        channel = self.settings.discord_moderators_channel
        if channel is not None and text:
            await self.attempt(self.adapter.post(str(channel), text))

    async def attempt(self, call: Any) -> None:
        """Await a platform call whose failure must not stop the handler; log its type, never its text."""
        try:
            await call
        except Exception as exc:  # a notice that cannot be sent must not stop the handler
            logger.warning("could not complete a Discord call: %s", type(exc).__name__)


class _CardPress:
    """A button press on Discord: deferred at once (Discord waits 3 s), then the card's embed edited."""

    def __init__(self, bot: DiscordBot, interaction: discord.Interaction[Any]) -> None:
        self._bot, self._interaction = bot, interaction

    async def refused(self, message: str) -> None:
        await self._bot.attempt(self._interaction.response.send_message(message, ephemeral=True))

    async def accepted(self) -> None:
        await self._bot.attempt(self._interaction.response.defer())

    async def carried_out(self, message: str) -> None:
        """Nothing: the interaction was deferred, and the card shows the outcome and any problem."""

    async def show_outcome(self, outcome: str, buttons: tuple[Button, ...]) -> None:
        message = self._interaction.message
        if message is not None and message.embeds:
            embed = message.embeds[0]
            embed.description = f"{embed.description or ''}\n\n**{outcome}**"[:4000]
            notes = any(
                str(getattr(item, "custom_id", "")).startswith("cn:")
                for row in message.components
                for item in getattr(row, "children", ())
            )
            await self._bot.attempt(message.edit(embed=embed, view=case_view(buttons, notes=notes)))


def _is_moderated(message: discord.Message) -> bool:
    """A person's own message in a server: not a bot's, not a DM, not a system message (a pin, a join)."""
    return (
        not message.author.bot
        and message.guild is not None
        and message.type in (discord.MessageType.default, discord.MessageType.reply)
    )


def _readable(guild: discord.Guild) -> list[Channel]:
    """The text channels and active threads whose history the bot may read."""
    channels: list[Channel] = [*guild.text_channels, *guild.threads]
    return [channel for channel in channels if channel.permissions_for(guild.me).read_message_history]
