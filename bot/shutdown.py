"""A graceful stop: on SIGTERM or SIGINT take no new work, let the work in hand finish, then close.

SIGTERM is what ``docker stop`` and systemd send; without a handler Python dies at once, and the
messages in hand die with it. Here the first signal stops the bot taking new events, waits (at most
``grace`` seconds) for the messages it holds, then closes the connection. A second signal stops the
waiting. Whatever did not finish is picked up at the next start (unfinished cases are finished, and
what was never handled is read again from the platform). Mind the supervisor's own limit: ``docker
stop`` sends SIGKILL after 10 seconds unless told otherwise (``--time``, ``stop_grace_period``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from typing import Any

__all__ = ["WorkInHand", "serve_until_stopped"]

logger = logging.getLogger(__name__)

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_CANCEL_WAIT_S = 2.0


class WorkInHand:
    """The tasks handling events the bot has taken on, and whether it is stopping."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._hurry = asyncio.Event()
        self.is_stopping = False

    @contextmanager
    def track(self) -> Iterator[None]:
        """Count the current task as work in hand until the block ends."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._tasks.discard(task)

    def stop(self) -> None:
        """Take no new work from now on."""
        self.is_stopping = True

    def hurry(self) -> None:
        """Stop waiting for the work in hand."""
        self._hurry.set()

    async def finish(self, grace: float) -> set[asyncio.Task[Any]]:
        """Wait up to ``grace`` seconds (or until ``hurry``) for the work in hand; return what is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        current = asyncio.current_task()  # a handler that closes the bot does not wait for itself
        while True:
            pending = {task for task in self._tasks if not task.done() and task is not current}
            remaining = deadline - loop.time()
            if not pending or remaining <= 0 or self._hurry.is_set():
                return pending
            hurry = asyncio.ensure_future(self._hurry.wait())
            try:
                await asyncio.wait({*pending, hurry}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                hurry.cancel()

    async def wind_down(self, grace: float) -> None:
        """Take no new work, wait up to ``grace`` seconds for the work in hand, cancel what is left.

        Whatever was cancelled is finished or read again at the next start. A second call finds
        nothing in hand and returns at once.
        """
        first = not self.is_stopping
        self.stop()
        left = await self.finish(grace)
        if not left:
            if first:  # a close after a signal's stop has nothing new to say
                logger.info("every message in hand is finished; closing")
            return
        logger.warning(
            "stopping with %d message(s) unfinished: the next start finishes or reads them again", len(left)
        )
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=_CANCEL_WAIT_S)


async def serve_until_stopped(
    main: Coroutine[Any, Any, None],
    work: WorkInHand,
    *,
    grace: float,
    close: Callable[[], Awaitable[None]],
) -> None:
    """Run ``main`` until it ends, or until SIGTERM or SIGINT; then finish the work in hand and ``close``.

    Raises:
        Exception: what ended ``main``, if it ended on its own.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(number: signal.Signals) -> None:
        if work.is_stopping:
            logger.warning("%s again: stopping without waiting", number.name)
            work.hurry()
            return
        logger.info("%s: taking no new messages; finishing those in hand (up to %g s)", number.name, grace)
        work.stop()
        stop.set()

    installed = []
    for number in _SIGNALS:
        with suppress(NotImplementedError, RuntimeError):  # no signals here (Windows, not the main thread)
            loop.add_signal_handler(number, on_signal, number)
            installed.append(number)
    running = asyncio.ensure_future(main)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not running.done():
            await work.wind_down(grace)
            await close()
            try:
                await running
            except Exception as exc:  # cut short by the close (a stop while connecting): nothing to report
                logger.debug("stopped while %s", type(exc).__name__)
            return
        await running
    finally:
        stopping.cancel()
        for number in installed:
            loop.remove_signal_handler(number)
