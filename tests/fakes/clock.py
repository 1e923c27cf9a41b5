"""A clock a test turns by hand: ``advance`` moves it, and wakes whatever slept past the new time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

__all__ = ["FakeClock"]


class FakeClock:
    """Starts at ``start`` (now, by default) and moves only when told."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        wake = self._now + timedelta(seconds=seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((wake, future))
        await future

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        """Move the clock on (``advance(600)`` or ``advance(minutes=10)``) and wake who slept past it."""
        self._now += timedelta(seconds=seconds, **delta)
        waking = [(at, future) for at, future in self._sleepers if at <= self._now]
        self._sleepers = [(at, future) for at, future in self._sleepers if at > self._now]
        for _, future in waking:
            if not future.done():
                future.set_result(None)
        return self._now
