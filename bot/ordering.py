"""Per-group ordering: each group's messages are handled one at a time, in the order they arrived."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable

__all__ = ["InOrder"]


class InOrder:
    """One group's messages handled one at a time, in the order they arrived.

    The next message starts once the one before is settled in its group (stored, hidden; see
    ``Pipeline.handle``), not when its reminder and card are sent: those may wait minutes behind a
    platform's rate limit, and the group's next breach must not stay on screen for that. In order,
    an author's earlier breach is on record when the next one is judged, so the ladder climbs.
    """

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}

    async def run(self, group: Hashable, work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        """Run ``work(settled)`` in ``group``'s turn; call it before any other await, to keep the order."""
        settled = asyncio.Event()
        lock = self._locks.setdefault(group, asyncio.Lock())
        async with lock:
            working = asyncio.ensure_future(work(settled))
            waiting = asyncio.ensure_future(settled.wait())
            try:
                await asyncio.wait({working, waiting}, return_when=asyncio.FIRST_COMPLETED)
            except BaseException:  # cancelled (shutting down): the message's work stops with it
                working.cancel()
                raise
            finally:
                waiting.cancel()
        await working
