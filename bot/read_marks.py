"""Read marks: how far the bot has read in each chat, for a platform that never sends an event twice.

Discord delivers a message once, over the gateway, to whoever is connected. What arrives while the
bot is stopped, restarting or reconnecting is never sent again, so on start-up and after every
reconnect the bot reads each chat's history after its mark and handles what it finds, in order, as
if it had just arrived (the pipeline acts once on a message it meets twice).

The mark of a chat is the id of the last message handled there (ids only, never text). It may move
past a message only once every earlier message of the chat is settled (its case stored, or found
clean), or a stop at the wrong moment would leave that earlier message unread for good:

* while the history is being read, its messages are handled in order, so each one moves the mark;
* once the chat is caught up, live messages move it (handled in order too);
* before that, live messages do not: the mark stays until the history read has passed them;
* a message that could not be handled at all (the database was down) holds the mark where it is,
  so the next read tries it again.

A chat the bot has never read starts at a point the caller gives (the bot's start), not at the
beginning: the bot does not moderate a server's whole past on its first day.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from bot.errors import StorageError
from bot.store import Store

__all__ = ["ReadMarks"]

logger = logging.getLogger(__name__)


class ReadMarks:
    """One platform's read marks and which of its chats are caught up since the last (re)connect."""

    def __init__(
        self, store: Store, platform: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.store = store
        self.platform = platform
        self._clock = clock
        self._caught_up: set[str] = set()
        self._held: set[str] = set()
        self._connection = 0  # counts disconnections
        self._reading: dict[str, int] = {}  # chat -> the connection its history read began in

    async def begin(self, chat_id: str, start_id: str) -> str:
        """Start reading a chat's history: return its mark (``start_id`` for a chat never read).

        Raises:
            StorageError: the store cannot be read or written.
        """
        self._held.discard(chat_id)  # what held it is read again now
        self._reading[chat_id] = self._connection
        return await asyncio.to_thread(
            self.store.start_read_mark, self.platform, chat_id, start_id, self._clock()
        )

    async def read(self, chat_id: str, message_id: str) -> None:
        """A message read from the history was handled (or needed nothing): move the mark to it."""
        if chat_id not in self._held:
            await self._advance(chat_id, message_id)

    def caught_up(self, chat_id: str) -> None:
        """The history read reached the end: from now on live messages move the mark.

        Unless the connection dropped since the read began: what came after its last page may be
        missed, and the next read (after the reconnect) must find it.
        """
        if self._reading.pop(chat_id, None) == self._connection and chat_id not in self._held:
            self._caught_up.add(chat_id)

    async def handled(self, chat_id: str, message_id: str) -> None:
        """A live message was handled: move the mark if the chat is caught up."""
        if chat_id in self._caught_up and chat_id not in self._held:
            await self._advance(chat_id, message_id)

    def failed(self, chat_id: str) -> None:
        """A message could not be handled: hold the mark until the next history read tries it again."""
        self._held.add(chat_id)
        self._caught_up.discard(chat_id)

    def disconnected(self) -> None:
        """The connection dropped: what comes meanwhile may be missed, so no chat is caught up now."""
        self._caught_up.clear()
        self._connection += 1

    async def restart(self, chat_id: str, message_id: str) -> None:
        """Start a chat afresh at ``message_id`` (a group just authorised: nothing before is ours)."""
        self._held.discard(chat_id)
        if await self._advance(chat_id, message_id):
            self._caught_up.add(chat_id)

    async def _advance(self, chat_id: str, message_id: str) -> bool:
        try:
            await asyncio.to_thread(
                self.store.advance_read_mark, self.platform, chat_id, message_id, self._clock()
            )
        except StorageError as exc:
            logger.error("could not move the read mark of %s/%s: %s", self.platform, chat_id, exc)
            self.failed(chat_id)
            return False
        return True
