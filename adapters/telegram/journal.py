"""The inbound journal for Telegram: no update is lost when the bot is stopped, killed or crashes.

python-telegram-bot tells Telegram an update arrived long before it is handled: polling confirms a
whole batch by offset as soon as it asks for the next one, and a webhook answers 200 at once. Both
put every update into PTB's update queue first, so the queue is where each one is written to the
store's journal (:class:`JournallingQueue`), committed before PTB can confirm it. The update
processor removes it once every handler for it has finished, the moderators' card included
(:class:`JournalProcessor`); its text stays in the store only for those seconds.

At start-up :meth:`UpdateJournal.replay` puts what a stopped process left back into the queue, in
update-id order, before PTB fetches anything new. A stop (SIGTERM, SIGINT) gives the updates in hand
``CLASSMOD_SHUTDOWN_GRACE_SECONDS`` and leaves the rest journalled for the next start
(:class:`JournalledApplication`). The journal holds message text: nothing here logs it, only ids.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from telegram import Bot, Update
from telegram.error import NetworkError
from telegram.ext import Application, BaseUpdateProcessor

from adapters.telegram.adapter import PLATFORM
from bot.errors import StorageError
from bot.records import JournalledUpdate

__all__ = [
    "STOP_GRACE_SECONDS",
    "InboundJournal",
    "JournalProcessor",
    "JournalUnavailable",
    "JournalledApplication",
    "JournallingQueue",
    "UpdateJournal",
]

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 8.0
"""The default wait for the updates in hand at a stop (the setting's default); `docker stop` kills at 10 s."""

# Update ids this process has taken in, so a copy Telegram delivers again (the batch a killed process
# never confirmed) is not handled beside the journalled one, even after that one has been forgotten.
_REMEMBERED_IDS = 10_000


class InboundJournal(Protocol):
    """Where updates are kept until handled: the store's inbound journal (``bot.store.Store``)."""

    def journal_update(self, platform: str, update_id: int, payload: str, at: datetime) -> bool:
        """Keep an update; ``False`` when it is kept already."""
        ...

    def journalled_updates(self, platform: str) -> Sequence[JournalledUpdate]:
        """What is kept, oldest first."""
        ...

    def forget_update(self, platform: str, update_id: int) -> None:
        """Drop a handled update (its text with it)."""
        ...


class JournalUnavailable(NetworkError):
    """The store could not journal an update, so it must not be confirmed to Telegram.

    A ``NetworkError``, so PTB treats it as a failed fetch: polling backs off and fetches the batch
    again, and a webhook answers 500, so Telegram posts the update again.
    """


class UpdateJournal:
    """Telegram updates in the store's inbound journal: recorded, forgotten once handled, replayed."""

    def __init__(self, store: InboundJournal, bot: Bot) -> None:
        self._store = store
        self._bot = bot
        self._taken: OrderedDict[int, None] = OrderedDict()

    def attach(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Journal every update ``application`` receives.

        Raises:
            TypeError: the application was not built by ``adapters.telegram.app.build_application``.
        """
        queue, processor = application.update_queue, application.update_processor
        if not isinstance(queue, JournallingQueue) or not isinstance(processor, JournalProcessor):
            raise TypeError(
                "build the Application with adapters.telegram.app.build_application(): its update queue and "
                "update processor keep the inbound journal"
            )
        queue.journal = processor.journal = self

    async def record(self, update: Update) -> bool:
        """Journal ``update``, committed before this returns; False if this process has it already.

        Only this process's own record decides: an update journalled by a process that stopped and
        not replayed (the journal could not be read at start-up) is taken in when Telegram sends it
        again.

        Raises:
            JournalUnavailable: the store cannot take it.
        """
        if update.update_id in self._taken:
            return False
        try:
            await asyncio.to_thread(
                self._store.journal_update, PLATFORM, update.update_id, update.to_json(), datetime.now(UTC)
            )
        except StorageError as exc:
            raise JournalUnavailable(
                f"update {update.update_id} not confirmed to Telegram, so it comes again: "
                f"the journal cannot take it ({exc})"
            ) from exc
        if update.update_id in self._taken:  # the replay took the journalled copy meanwhile
            return False
        self._take(update.update_id)
        return True

    async def forget(self, update_id: int) -> None:
        """Remove a handled update (and its text) from the journal; a failure is logged, not raised."""
        try:
            await asyncio.to_thread(self._store.forget_update, PLATFORM, update_id)
        except StorageError as exc:
            logger.warning(
                "update %s was handled but is still journalled (handled again at the next start): %s",
                update_id,
                exc,
            )

    async def replay(self, application: Application[Any, Any, Any, Any, Any, Any]) -> int:
        """Queue what a stopped process left in the journal, in update-id order; return how many.

        Call it before PTB starts polling (``post_init``), so these updates come before any new
        one. An update that cannot be read is logged by id and dropped.
        """
        updates = await self._pending()
        for update in updates:
            application.update_queue.put_nowait(update)  # not put(): it is journalled already
        if updates:
            logger.info("handling %d update(s) left in the journal when the bot last stopped", len(updates))
        return len(updates)

    async def _pending(self) -> list[Update]:
        try:
            journalled = await asyncio.to_thread(self._store.journalled_updates, PLATFORM)
        except StorageError as exc:
            logger.error(
                "could not read the inbound journal; what it holds waits for the next start: %s", exc
            )
            return []
        updates = []
        for entry in journalled:
            if entry.update_id in self._taken:
                continue  # Telegram sent it again and it is in hand already
            try:
                update = Update.de_json(json.loads(entry.payload), self._bot)
            except Exception as exc:  # whatever the payload holds, the start-up goes on
                # The type only: a parse error's message can quote the payload, which holds text.
                logger.error(
                    "journalled update %s cannot be read (%s): dropped", entry.update_id, type(exc).__name__
                )
                await self.forget(entry.update_id)
                continue
            self._take(entry.update_id)
            updates.append(update)
        return updates

    def _take(self, update_id: int) -> None:
        self._taken[update_id] = None
        while len(self._taken) > _REMEMBERED_IDS:
            self._taken.popitem(last=False)


class JournallingQueue(asyncio.Queue[object]):
    """PTB's update queue, journalling each update before PTB can confirm it to Telegram.

    PTB's poller puts each update of a batch here before it asks for the next batch (which confirms
    this one); its webhook server puts the update here before it answers 200. An update delivered
    again while its journalled copy is in hand (or waiting for the replay) is not queued twice.
    """

    def __init__(self) -> None:
        super().__init__()
        self.journal: UpdateJournal | None = None

    async def put(self, item: object) -> None:
        """Journal ``item`` if it is an update, then queue it, unless this process has it already.

        Raises:
            JournalUnavailable: the store cannot take it (PTB then does not confirm it).
        """
        if isinstance(item, Update) and self.journal is not None and not await self.journal.record(item):
            return
        await super().put(item)


class JournalProcessor(BaseUpdateProcessor):
    """Handles updates concurrently, as PTB's own processor does, and forgets each once handled.

    An update is handled once ``Application.process_update`` returns: every handler for it has
    finished, the moderators' card included. One a stop cancels stays in the journal.
    """

    def __init__(self, max_concurrent_updates: int, *, grace: float = STOP_GRACE_SECONDS) -> None:
        super().__init__(max_concurrent_updates)
        self.grace = grace
        """How long a stop waits for the updates in hand (``CLASSMOD_SHUTDOWN_GRACE_SECONDS``)."""
        self.journal: UpdateJournal | None = None
        self._in_hand: set[asyncio.Task[Any]] = set()
        self._is_leaving = False
        self._left = 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Run the handlers for ``update``, then remove it from the journal."""
        if self._is_leaving:  # the stop's grace is over: leave it for the next start
            if asyncio.iscoroutine(coroutine):
                coroutine.close()
            self._left += 1
            return
        task = asyncio.current_task()
        assert task is not None
        self._in_hand.add(task)
        try:
            await coroutine
        except asyncio.CancelledError:
            if self._is_leaving:
                self._left += 1
            raise
        finally:
            self._in_hand.discard(task)
        if isinstance(update, Update) and self.journal is not None:
            await self.journal.forget(update.update_id)

    def leave_in_journal(self) -> None:
        """Cancel the updates in hand and skip the rest: they stay journalled for the next start."""
        self._is_leaving = True
        for task in self._in_hand:
            task.cancel()

    def stopped(self) -> int:
        """How many updates the stop left in the journal; handle updates again from now on."""
        left, self._left, self._is_leaving = self._left, 0, False
        return left

    @property
    def in_hand(self) -> int:
        """How many updates are being handled now."""
        return len(self._in_hand)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""


class JournalledApplication(Application[Any, Any, Any, Any, Any, Any]):
    """PTB's Application, whose stop gives the updates in hand a bounded time.

    PTB's own stop (after SIGTERM or SIGINT, the updater stopped first, so nothing new comes in)
    waits for every queued update, which can take minutes when cards wait behind Telegram's
    20-messages-a-minute limit for a group. This one waits the processor's ``grace``, then cancels what
    is left; the journal keeps it for the next start.
    """

    async def stop(self) -> None:
        """Finish what is in hand within the grace period, leave the rest journalled, then stop."""
        processor = self.update_processor
        if not isinstance(processor, JournalProcessor):
            await super().stop()
            return
        waiting = self.update_queue.qsize()
        if processor.in_hand or waiting:
            logger.info(
                "stopping: finishing the %d update(s) in hand for up to %g s",
                processor.in_hand + waiting,
                processor.grace,
            )
        deadline = asyncio.get_running_loop().call_later(processor.grace, processor.leave_in_journal)
        try:
            await super().stop()
        finally:
            deadline.cancel()
            left = processor.stopped()
        if left:
            logger.warning(
                "stopped before finishing: left %d update(s) in the journal for the next start", left
            )
