"""What runs on the clock beside the chat: the console's decisions, the safeguarding rota, reminders, digest.

One loop per platform bot: every ``schedule_tick_seconds`` on the injected :class:`~bot.clock.Clock`,
each job's ``tick`` sends what is due. Everything a job needs to know is in the store, so the loop holds
nothing of its own: stopped and started again (a restart, a standby taking over), it goes on where the
last one stopped. A job's failure (a dead database, the platform down) is logged and tried again on the
next tick; it never stops the loop or the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import time, timedelta
from typing import Protocol

from adapters.base import Platform
from bot.clock import Clock
from bot.config import Settings
from bot.errors import AdapterError, StorageError
from bot.escalation import Escalation
from bot.outbox import WebDecisions
from bot.reminders import Reminders
from bot.review import Staff
from bot.rota import rota_from
from bot.store import Store
from moderation.policy import Policy

__all__ = ["Job", "Scheduler", "scheduler_for"]

logger = logging.getLogger(__name__)


class Job(Protocol):
    """Something sent when it is due."""

    async def tick(self) -> int:
        """Send what is due now; how many were sent."""
        ...


class Scheduler:
    """Ticks its jobs on a clock until stopped."""

    def __init__(self, jobs: Sequence[Job], clock: Clock, every: float) -> None:
        self.jobs = tuple(jobs)
        self.clock = clock
        self.every = every
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> int:
        """Run every job once; how many things they sent."""
        sent = 0
        for job in self.jobs:
            try:
                sent += await job.tick()
            except (StorageError, AdapterError) as exc:
                logger.warning("%s could not run: %s", type(job).__name__, exc)
            except Exception:
                logger.exception("%s failed; it runs again at the next tick", type(job).__name__)
        return sent

    async def run(self) -> None:
        """Tick, then wait ``every`` seconds, until cancelled."""
        while True:
            await self.tick()
            await self.clock.sleep(self.every)

    def start(self) -> None:
        """Run in the background (once)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="classmod-scheduler")

    async def stop(self) -> None:
        """Stop the loop (a tick in flight is cancelled; what it recorded stays, the rest is resent)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def scheduler_for(
    *, settings: Settings, policy: Policy, store: Store, platform: Platform, staff: Staff, clock: Clock
) -> Scheduler:
    """The rota, reminders and digest for one platform, as the settings and the policy say."""
    escalation = Escalation(
        platform=platform,
        store=store,
        policy=policy,
        rota=rota_from(settings, policy.service_hours),
        clock=clock,
    )
    digest = None if settings.digest_time in (None, "off") else time.fromisoformat(settings.digest_time)
    reminders = Reminders(
        platform=platform,
        store=store,
        policy=policy,
        staff=staff,
        clock=clock,
        remind_after=timedelta(seconds=settings.undecided_reminder_seconds) or None,
        digest_at=digest,
    )
    decisions = WebDecisions(platform=platform, store=store, policy=policy, staff=staff, clock=clock)
    return Scheduler((decisions, escalation, reminders), clock, settings.schedule_tick_seconds)
