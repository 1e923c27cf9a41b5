"""discord.py's sharded client as classmod runs it: its intents, commands and buttons, and its URLs.

Where discord.py builds its URLs (read from its source, 2.7):

* Every REST URL, interaction responses and followups included, is ``discord.http.Route.BASE`` plus
  the route's path, fixed when the ``Route`` is made. ``BASE`` is a class attribute, so it is the
  process's: one bot per process, as ``classmod run discord`` runs it.
* An ``AutoShardedClient`` asks ``GET /gateway/bot`` for its shard count and the gateway URL, and
  opens each shard there; a shard that must identify again (its session invalidated) reopens at
  ``DiscordWebSocket.DEFAULT_GATEWAY`` (also a class attribute); a shard that resumes goes to the
  ``resume_gateway_url`` its gateway named in READY (a self-hosted gateway names itself there).

So the client sets both class attributes when it logs in (and puts them back when it closes) and
opens its shards at the configured gateway whatever ``/gateway/bot`` says, since a REST proxy passes
that answer through from Discord.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
import discord.gateway
import discord.http
import yarl
from discord import app_commands

from adapters.discord.adapter import CaseButton, GroupButton
from adapters.discord.notes import NoteButton
from bot.config import DISCORD_API_URL, DISCORD_GATEWAY_URL

if TYPE_CHECKING:
    from adapters.discord.app import DiscordBot

__all__ = ["ClassmodClient", "intents"]


def intents() -> discord.Intents:
    """Guilds, guild messages, members, and the privileged message content."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.members = True
    wanted.message_content = True
    return wanted


class ClassmodClient(discord.AutoShardedClient):
    """discord.py's sharded client with classmod's application commands, at the configured URLs.

    Args:
        api_url: the REST API (``CLASSMOD_DISCORD_API_URL``, already ending in ``/api/v10``).
        gateway_url: the gateway (``CLASSMOD_DISCORD_GATEWAY_URL``).
        options: passed on to discord.py's client.
    """

    def __init__(
        self, *, api_url: str = DISCORD_API_URL, gateway_url: str = DISCORD_GATEWAY_URL, **options: Any
    ) -> None:
        super().__init__(intents=intents(), **options)
        self.tree = app_commands.CommandTree(self)
        self.bot: DiscordBot | None = None
        self.api_url = api_url
        self.gateway_url = gateway_url
        self._restore_urls: Callable[[], None] | None = None

    async def login(self, token: str) -> None:
        """Point discord.py at the configured REST API and gateway, then log in."""
        if self._restore_urls is None:
            self._restore_urls = _point_discord_at(self.api_url, yarl.URL(self.gateway_url))
        await super().login(token)

    async def setup_hook(self) -> None:
        """Register the persistent case buttons before the gateway connects."""
        self.add_dynamic_items(CaseButton, GroupButton, NoteButton)

    async def launch_shard(self, gateway: yarl.URL, shard_id: int, *, initial: bool = False) -> None:
        """Open a shard at the configured gateway, not at the one ``/gateway/bot`` names."""
        await super().launch_shard(yarl.URL(self.gateway_url), shard_id, initial=initial)

    async def close(self) -> None:
        """Finish the work in hand, close the connection, stop the scheduler and the scoring worker.

        Also gives discord.py its URLs back. The work in hand gets the stop's grace (a signal's stop has
        already waited, so it finds none): a message being acted on is not cut off mid-way.
        """
        try:
            if self.bot is not None:
                await self.bot.wind_down()
            await super().close()
            if self.bot is not None:
                await self.bot.scheduler.stop()
                await self.bot.pipeline.close()
        finally:
            if self._restore_urls is not None:
                restore, self._restore_urls = self._restore_urls, None
                restore()


def _point_discord_at(api_url: str, gateway_url: yarl.URL) -> Callable[[], None]:
    """Set discord.py's two class-level URLs; return what puts the earlier ones back."""
    route, websocket = discord.http.Route, discord.gateway.DiscordWebSocket
    earlier_api, earlier_gateway = route.BASE, websocket.DEFAULT_GATEWAY
    route.BASE = api_url
    websocket.DEFAULT_GATEWAY = gateway_url

    def restore() -> None:
        route.BASE = earlier_api
        websocket.DEFAULT_GATEWAY = earlier_gateway

    return restore
