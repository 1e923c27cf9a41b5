"""What both fake platforms share: the calls the bot made, and waiting for one (or for none)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import Generic, TypeVar

__all__ = ["CallRecord"]

Call = TypeVar("Call")


class CallRecord(Generic[Call]):
    """The recorded calls of a fake server, in order, and waits on them that wake at every change."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._changed_event = asyncio.Event()

    def clear_calls(self) -> None:
        """Forget the recorded calls (state such as messages and members is kept)."""
        self.calls.clear()

    def _pulse(self) -> None:
        """Wake every wait: something changed (a call was recorded, state moved)."""
        self._changed_event.set()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true (checked on every change and every 20 ms)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout}s")
            self._changed_event.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed_event.wait(), min(remaining, 0.02))

    async def _wait_for(
        self, find: Callable[[], Call | None], timeout: float, describe: Callable[[], str]
    ) -> Call:
        """The call ``find`` returns, once it returns one within ``timeout``; else ``TimeoutError``."""
        try:
            await self.wait_until(lambda: find() is not None, timeout)
        except TimeoutError:
            raise TimeoutError(f"{describe()} within {timeout}s; calls so far: {self._seen()}") from None
        found = find()
        assert found is not None
        return found

    async def _expect_none(
        self, find: Callable[[], Call | None], within: float, describe: Callable[[Call], str]
    ) -> None:
        """Wait ``within`` seconds and fail if ``find`` returns a call (made then, or before)."""
        try:
            call = await self._wait_for(find, within, lambda: "")
        except TimeoutError:
            return
        raise AssertionError(describe(call))

    def _seen(self) -> list[str]:
        """The calls so far, one short word each, for a time-out's message."""
        raise NotImplementedError
