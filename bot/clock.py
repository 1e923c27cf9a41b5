"""The time, for everything that waits: the real clock in use, one a test turns by hand.

The duty rota, the moderators' reminders and the daily digest ask a :class:`Clock` what time it is and
sleep on it, never on ``asyncio.sleep`` or ``datetime.now`` directly, so a test can move an hour in a
step (``tests/fakes/clock.py``) and a climb that takes an evening is checked in a second.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """What time it is, and a way to wait for later."""

    def now(self) -> datetime:
        """The time now (aware, UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The time now."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        await asyncio.sleep(seconds)
