"""Servers nobody has authorised yet: the notice, the moderators' card, the time-out, and leaving.

A server the bot is added to is read not at all until listed staff press Authorise on its card in the
moderators' channel (policy clause 4.6: no unauthorised sites); nobody deciding within
``CLASSMOD_AUTHORISE_TIMEOUT_MINUTES`` means the bot leaves. The time-out survives a restart: it runs from
when the server was first seen, kept in the store.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord

from adapters.discord.adapter import PLATFORM, roles_of
from bot import texts
from bot.cards import group_card
from bot.desk import Reply

if TYPE_CHECKING:
    from adapters.discord.app import DiscordBot

__all__ = ["NEEDED", "ServerAuthorisation", "permission_problems"]

logger = logging.getLogger(__name__)

NEEDED = {
    "manage_messages": ("Manage Messages", "hide messages"),
    "moderate_members": ("Moderate Members", "mute members"),
    "kick_members": ("Kick Members", "remove members"),
    "send_messages": ("Send Messages", "post notices in the server"),
    "read_message_history": ("Read Message History", "read what was said while it was not listening"),
}
"""The server permissions the bot checks at start-up: discord.py's name, the label, what it is for."""


class ServerAuthorisation:
    """The servers awaiting authorisation for one bot, and their time-outs."""

    def __init__(self, bot: DiscordBot) -> None:
        self._bot = bot
        self._leaving: dict[int, asyncio.Task[None]] = {}

    async def awaiting(self, guild: discord.Guild, added_by: str) -> None:
        """Wait for staff to authorise a new server from the moderators' channel; leave after the time-out.

        The bot reads nothing there meanwhile (every handler checks authorisation first). Seen for the
        first time, the server gets a notice and the moderators a card with Authorise and Leave; seen
        again after a restart, only the time-out is set again (from when it was first seen).
        """
        now = datetime.now(UTC)
        group = await asyncio.to_thread(
            self._bot.services.store.record_group, PLATFORM, str(guild.id), title=guild.name, at=now
        )
        timeout = timedelta(minutes=self._bot.settings.authorise_timeout_minutes)
        leaves_at = group.added_at + timeout
        if leaves_at <= now:
            await self.leave_unauthorised(guild.id, "nobody authorised it in time")
            return
        if now - group.added_at < timedelta(seconds=30):  # first seen now, not a restart
            channel = guild.system_channel or next(
                (item for item in guild.text_channels if item.permissions_for(guild.me).send_messages), None
            )
            if channel is not None:
                notice = texts.awaiting_authorisation(self._bot.settings.authorise_timeout_minutes)
                await self._bot.attempt(self._bot.adapter.post(str(channel.id), notice))
            card = group_card(chat_id=str(guild.id), title=guild.name, added_by=added_by, leaves_at=leaves_at)
            await self._bot.attempt(self._bot.adapter.post_card(card))
        self._leave_at(guild.id, (leaves_at - now).total_seconds())

    def _leave_at(self, guild_id: int, delay: float) -> None:
        async def leave_later() -> None:
            await asyncio.sleep(delay)
            if not await self._bot.desk.is_authorised(str(guild_id)):
                await self.leave_unauthorised(guild_id, "nobody authorised it in time")

        earlier = self._leaving.pop(guild_id, None)
        if earlier is not None:
            earlier.cancel()
        task = asyncio.get_running_loop().create_task(leave_later())
        self._leaving[guild_id] = task
        task.add_done_callback(
            lambda done: self._leaving.pop(guild_id, None) if self._leaving.get(guild_id) is done else None
        )

    async def leave_unauthorised(self, guild_id: int, why: str) -> None:
        """Tell the moderators why, and leave the server."""
        guild = self._bot.client.get_guild(guild_id)
        if guild is None:
            return
        await self._bot.tell_moderators(f"Left {guild.name} (id {guild_id}): {why}.")
        await self._bot.attempt(self._bot.adapter.leave(str(guild_id)))

    async def who_added(self, guild: discord.Guild) -> str:
        """Who added the bot, from the server's audit log where the bot may read it."""
        me = self._bot.client.user
        try:
            async for entry in guild.audit_logs(limit=10, action=discord.AuditLogAction.bot_add):
                target = entry.target
                if (
                    me is not None
                    and target is not None
                    and getattr(target, "id", None) == me.id
                    and entry.user
                ):
                    return f"{entry.user.display_name} (id {entry.user.id})"
        except (discord.HTTPException, discord.ClientException) as exc:
            logger.info("could not read who added the bot to server %s: %s", guild.id, type(exc).__name__)
        return "someone (the bot cannot read the server's audit log)"

    async def on_button(self, interaction: discord.Interaction[Any], guild_id: int, verb: str) -> None:
        """Staff pressed Authorise or Leave on a new server's card."""
        user = interaction.user
        roles = roles_of(user)
        if str(interaction.channel_id) != str(
            self._bot.settings.discord_moderators_channel
        ) or not self._bot.desk.is_staff(str(user.id), roles):
            logger.warning("refused a server button by %s in channel %s", user.id, interaction.channel_id)
            await self._bot.attempt(
                interaction.response.send_message("Only listed staff can decide this.", ephemeral=True)
            )
            return
        guild = self._bot.client.get_guild(guild_id)
        if guild is None:
            await self._bot.attempt(
                interaction.response.send_message("I am no longer in that server.", ephemeral=True)
            )
            return
        if verb == "authorise":
            self._bot.authorising(guild, interaction.id)
            reply = await self._bot.desk.authorise(
                str(guild_id), guild.name, by_id=str(user.id), by_name=user.display_name, roles=roles
            )
            outcome = f"Authorised by {user.display_name}"
        else:
            reply = Reply(f"Leaving {guild.name}.")
            outcome = f"Left at {user.display_name}'s request"
        await self._bot.attempt(interaction.response.send_message(reply.text[:2000], ephemeral=True))
        if verb == "leave":
            await self._bot.attempt(self._bot.adapter.leave(str(guild_id)))
        elif reply.is_done:
            await self._bot.watch_from_now(guild)  # moderated from now: what was said before is not read
            for problem in permission_problems(guild):
                await self._bot.tell_moderators(problem)
        task = self._leaving.pop(guild_id, None)
        if task is not None:
            task.cancel()
        message = interaction.message
        if message is not None and message.embeds:
            embed = message.embeds[0]
            embed.description = f"{embed.description or ''}\n\n**{outcome}**"[:4000]
            await self._bot.attempt(message.edit(embed=embed, view=None))


def permission_problems(guild: discord.Guild) -> list[str]:
    """What the bot cannot do in a server for want of a permission, one line for the moderators."""
    permissions = guild.me.guild_permissions
    missing = [(label, use) for name, (label, use) in NEEDED.items() if not getattr(permissions, name)]
    if not missing:
        return []
    return [
        f"In {guild.name} the bot lacks {', '.join(label for label, _ in missing)}, so it cannot "
        f"{' or '.join(use for _, use in missing)} until a server admin grants "
        f"{'it' if len(missing) == 1 else 'them'}. It keeps sending reminders and escalations meanwhile."
    ]
