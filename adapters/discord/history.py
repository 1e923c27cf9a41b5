"""What the bot missed on Discord: each channel's history after its read mark, handed on in order.

Discord never sends an event twice, so whatever was said while the bot was stopped, restarting or
reconnecting reaches it only through the history. The bot reads it when a shard is ready (start-up,
a new session) and when a shard resumes; see :mod:`bot.read_marks` for when a mark may move.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime

import discord

from bot.errors import StorageError
from bot.read_marks import ReadMarks

__all__ = ["Channel", "MissedMessages"]

logger = logging.getLogger(__name__)

Channel = discord.TextChannel | discord.Thread
"""A channel whose history the bot reads."""


class MissedMessages:
    """Reads each channel's history after its read mark and hands every message on, oldest first.

    Args:
        marks: the platform's read marks.
        started_at: where a channel never read before starts (the bot's start), so the bot does not
            moderate a server's whole past.
        take: handles one message in its channel's turn (``InOrder``) and returns once it is done;
            it moves the mark itself.
        is_stopping: whether the bot is stopping (it then reads no further).
    """

    def __init__(
        self,
        marks: ReadMarks,
        *,
        started_at: datetime,
        take: Callable[[discord.Message], Awaitable[None]],
        is_stopping: Callable[[], bool],
    ) -> None:
        self.marks = marks
        self._start_id = str(discord.utils.time_snowflake(started_at))
        self._take = take
        self._is_stopping = is_stopping
        self._reading = asyncio.Lock()

    async def begin(self, channels: Iterable[Channel]) -> None:
        """Give each channel never read a mark at the bot's start, so a stop from now on loses nothing."""
        for channel in channels:
            try:
                await self.marks.begin(str(channel.id), self._start_id)
            except StorageError as exc:
                logger.error("could not start reading channel %s: %s", channel.id, exc)

    async def read(self, channels: Iterable[Channel]) -> int:
        """Read what each channel missed and hand it on; return how many messages were read."""
        async with self._reading:  # one read at a time; a second one starts from the marks the first left
            read = 0
            for channel in channels:
                if self._is_stopping():
                    break
                read += await self._read(channel)
            if read:
                logger.info("caught up: read %d message(s) from the channels' history", read)
            return read

    async def _read(self, channel: Channel) -> int:
        chat_id = str(channel.id)
        try:
            mark = await self.marks.begin(chat_id, self._start_id)
        except StorageError as exc:
            logger.error("could not read the mark of channel %s: %s", channel.id, exc)
            return 0
        taken: list[asyncio.Future[None]] = []
        last: int | None = None
        is_complete = True
        try:
            history = channel.history(limit=None, after=discord.Object(int(mark)), oldest_first=True)
            async for message in history:
                if self._is_stopping():
                    is_complete = False
                    break
                last = message.id
                # Each takes the channel's turn as it starts, in this order, so the order is kept.
                taken.append(asyncio.ensure_future(self._take(message)))
        except discord.HTTPException as exc:
            logger.warning("could not read the history of channel %s: %s", channel.id, exc.status)
            is_complete = False
        except Exception as exc:  # the connection closed meanwhile (a stop); the next read goes on
            logger.warning("could not read the history of channel %s: %s", channel.id, type(exc).__name__)
            is_complete = False
        for outcome in await asyncio.gather(*taken, return_exceptions=True):
            if isinstance(outcome, BaseException):  # ``take`` handles its own failures; this is a bug
                logger.error(
                    "a message of channel %s was not handled: %s", channel.id, type(outcome).__name__
                )
                self.marks.failed(chat_id)
        if is_complete:
            if last is not None:
                await self.marks.read(chat_id, str(last))  # past the bot's own messages too
            self.marks.caught_up(chat_id)
        return len(taken)
