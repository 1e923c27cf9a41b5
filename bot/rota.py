"""The safeguarding duty rota: who is alerted to a case nobody has acknowledged, in what order, and when.

The rota names the safeguarding team in order (the officer, deputies, an out-of-hours contact), each
with their platform ids and the hours they cover. A safeguarding card climbs it until someone presses
Acknowledge: at once, the first person on duty is sent the card privately; each time the case's level
waits out its time-out unacknowledged, the next person on duty is sent it privately and the card is
posted again in the safeguarding chat. Past the last person, everyone on duty is sent it again at each
time-out, until someone answers.

Time-outs per level (settings, in seconds, so a test or a demo can run a climb in seconds):
*immediate* counts the clock's own minutes, day or night; on the service clock *high* counts only the
service's working time (an hour in hours) and *concern* waits for the next working morning, then its
own seconds. On the wall clock every level counts plain seconds. Without service hours in the policy,
every member is always on duty and the wall clock is used.

This module only decides (times in, steps out): :mod:`bot.escalation` sends them and the store records
each, so a restart resumes a climb from the store without sending again what was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from bot.config import Settings
from bot.review import Staff
from moderation.service_hours import ServiceHours
from moderation.types import Urgency

__all__ = ["AckTimeouts", "Alerted", "Hours", "Rota", "RotaMember", "Step", "rota_from", "staff_from"]


class Hours(StrEnum):
    """When a member of the rota is on duty."""

    IN_HOURS = "in_hours"
    OUT_OF_HOURS = "out_of_hours"
    ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class RotaMember:
    """One person on the safeguarding rota: who, their duty, their ids per platform, their hours."""

    name: str
    duty: str
    ids: tuple[tuple[str, str], ...]
    """(platform, user id) pairs: ``(("telegram", "4001"), ("discord", "1234"))``."""
    hours: Hours = Hours.ALWAYS

    def id_on(self, platform: str) -> str | None:
        """Their id on a platform, if they are on it."""
        return next((user for where, user in self.ids if where == platform), None)

    def is_on_duty(self, at: datetime, service: ServiceHours | None) -> bool:
        """Whether they cover ``at``: always, or in or out of the service's hours."""
        if self.hours is Hours.ALWAYS or service is None:
            return True
        return service.is_open(at) == (self.hours is Hours.IN_HOURS)

    @property
    def label(self) -> str:
        """``Sam Patel (deputy)``."""
        return f"{self.name} ({self.duty})"


@dataclass(frozen=True, slots=True)
class AckTimeouts:
    """How long each level waits for an acknowledgement before the next step."""

    immediate: timedelta = timedelta(minutes=15)
    high: timedelta = timedelta(hours=1)
    concern: timedelta = timedelta(hours=1)
    clock: Literal["service", "wall"] = "service"


@dataclass(frozen=True, slots=True)
class Alerted:
    """A step already taken, as the store recorded it: its number, whom (rota position), when."""

    step: int
    position: int | None
    """The member's place on the rota; ``None`` for the card posted again in the safeguarding chat."""
    at: datetime


@dataclass(frozen=True, slots=True)
class Step:
    """The next step of a climb: its number, whom to alert (rota position, member), and whether to re-post."""

    number: int
    members: tuple[tuple[int, RotaMember], ...]
    repost: bool
    """Post the card again in the safeguarding chat (every step after the first)."""


@dataclass(frozen=True, slots=True)
class Rota:
    """The team in order, the time-outs, and the service's hours (``None``: always on duty, wall clock)."""

    members: tuple[RotaMember, ...]
    timeouts: AckTimeouts = AckTimeouts()
    service: ServiceHours | None = None

    def ids_on(self, platform: str) -> list[str]:
        """Everyone on the rota who is on this platform: they may acknowledge its safeguarding cases."""
        return [user for member in self.members if (user := member.id_on(platform)) is not None]

    def deadline(self, level: Urgency, since: datetime) -> datetime:
        """When a step taken at ``since`` on a case of this level has waited long enough."""
        timeouts, service = self.timeouts, self.service
        if level is Urgency.IMMEDIATE or timeouts.clock == "wall" or service is None:
            waits = {Urgency.IMMEDIATE: timeouts.immediate, Urgency.HIGH: timeouts.high}
            return since + waits.get(level, timeouts.concern)
        if level is Urgency.HIGH:
            return service.after_working_time(since, timeouts.high)
        return service.next_working_morning(since) + timeouts.concern

    def next_step(self, platform: str, level: Urgency, done: Sequence[Alerted], now: datetime) -> Step | None:
        """The step due ``now`` on a case not yet acknowledged, given the steps ``done``; ``None``: wait.

        Nobody is alerted twice for one step; a rota with nobody on it on this platform has no steps.
        """
        reachable = [(place, member) for place, member in enumerate(self.members) if member.id_on(platform)]
        if not reachable:
            return None
        on_duty = [(place, member) for place, member in reachable if member.is_on_duty(now, self.service)]
        on_duty = on_duty or reachable  # nobody covers this hour: better everyone than no one
        if not done:
            return Step(1, (on_duty[0],), repost=False)
        last = max(item.step for item in done)
        taken = [item for item in done if item.step == last]
        if now < self.deadline(level, max(item.at for item in taken)):
            return None
        reached = max((item.position for item in taken if item.position is not None), default=-1)
        following = [(place, member) for place, member in on_duty if place > reached]
        return Step(last + 1, tuple(following[:1]) or tuple(on_duty), repost=True)


def rota_from(settings: Settings, service: ServiceHours | None) -> Rota:
    """The rota and time-outs the settings name, with the policy's service hours."""
    members = tuple(
        RotaMember(
            name=item.name,
            duty=item.duty,
            ids=tuple(
                (platform, str(user))
                for platform, user in (("telegram", item.telegram), ("discord", item.discord))
                if user is not None
            ),
            hours=Hours(item.hours),
        )
        for item in settings.safeguarding_rota
    )
    timeouts = AckTimeouts(
        immediate=timedelta(seconds=settings.ack_immediate_seconds),
        high=timedelta(seconds=settings.ack_high_seconds),
        concern=timedelta(seconds=settings.ack_concern_seconds),
        clock=settings.ack_clock,
    )
    return Rota(members, timeouts, service)


def staff_from(settings: Settings, platform: str) -> Staff:
    """A platform's staff from the settings: moderators, officers (the rota's members too), chats, roles."""
    rota = rota_from(settings, None).ids_on(platform)
    if platform == "discord":
        return Staff.of(
            moderators=settings.discord_moderators,
            safeguarding_officers=[*settings.discord_safeguarding_officers, *rota],
            moderators_chat=settings.discord_moderators_channel,
            safeguarding_chat=settings.discord_safeguarding_channel,
            moderator_roles=[settings.discord_moderator_role or ""],
            staff_roles=[settings.discord_staff_role or ""],
        )
    return Staff.of(
        moderators=settings.telegram_moderators,
        safeguarding_officers=[*settings.telegram_safeguarding_officers, *rota],
        moderators_chat=settings.telegram_moderators_chat,
        safeguarding_chat=settings.telegram_safeguarding_chat,
        staff=settings.telegram_staff,
    )
