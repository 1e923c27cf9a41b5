"""When the service's staff are at work: opening days and hours in its time zone, less bank holidays.

The support message a learner gets after a disclosure says, out of hours, when staff will read it. Bank
holidays come from the ``holidays`` library (a country and, for the UK, its nation: ``GB-ENG``), not a hand
list, so Christmas, Easter and the King's birthday bank holidays are right every year.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays
from babel import UnknownLocaleError
from babel.dates import format_datetime

__all__ = ["ANSWER_MARGIN", "DAYS", "ServiceHours"]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LOOK_AHEAD_DAYS = 30  # the longest a service is closed (Christmas) is far shorter
ANSWER_MARGIN = timedelta(hours=1)
"""Staff must be at work this much longer for a message to be answered "in hours"."""


@dataclass(frozen=True)
class ServiceHours:
    """Opening hours: ``days`` (``mon``…``sun``) from ``opens`` to ``closes`` in ``timezone``."""

    timezone: str
    days: frozenset[str]
    opens: time
    closes: time
    bank_holidays: str | None = None
    """``GB-ENG``, ``GB-SCT``, ``GB-WLS``, ``GB-NIR``, or any ``COUNTRY[-SUBDIVISION]`` the library knows."""
    _cache: dict[int, object] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def zone(self) -> ZoneInfo:
        """The service's time zone."""
        return ZoneInfo(self.timezone)

    def is_open(self, moment: datetime) -> bool:
        """Whether staff are at work at ``moment`` (an aware datetime)."""
        local = moment.astimezone(self.zone)
        return self._is_working_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, moment: datetime) -> datetime:
        """When staff will next be at work after ``moment``: ``moment`` itself when they are now."""
        if self.is_open(moment):
            return moment
        local = moment.astimezone(self.zone)
        day = local.date()
        if local.time() >= self.opens:
            day += timedelta(days=1)
        for _ in range(_LOOK_AHEAD_DAYS):
            if self._is_working_day(day):
                return datetime.combine(day, self.opens, tzinfo=self.zone)
            day += timedelta(days=1)
        raise ValueError(f"the service is not open on any day in the next {_LOOK_AHEAD_DAYS}")

    def after_working_time(self, since: datetime, duration: timedelta) -> datetime:
        """When ``duration`` of working time has passed since ``since`` (the clock stops while closed)."""
        moment, left = since, duration
        while left > timedelta(0):
            moment = self.next_opening(moment)
            local = moment.astimezone(self.zone)
            closing = datetime.combine(local.date(), self.closes, tzinfo=self.zone)
            spent = min(left, closing - local)
            moment, left = moment + spent, left - spent
        return moment

    def next_working_morning(self, since: datetime) -> datetime:
        """When staff start work on the first working day after the day of ``since``."""
        local = since.astimezone(self.zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=self.zone)
        return self.next_opening(midnight)

    def is_answering(self, moment: datetime) -> bool:
        """Whether staff are at work at ``moment`` and will be for another hour, time enough to answer.

        In the last hour before closing the out-of-hours message is sent: it promises less (staff may yet
        see it sooner) and gives the numbers to call now.
        """
        return self.is_open(moment) and self.is_open(moment + ANSWER_MARGIN)

    def when_text(self, moment: datetime, language: str = "en") -> str:
        """When staff will next read a message sent at ``moment``, as a learner reads it: ``Monday 09:00``."""
        later = moment if self.is_answering(moment) else moment + ANSWER_MARGIN
        opening = self.next_opening(later).astimezone(self.zone)
        try:
            return format_datetime(opening, "EEEE HH:mm", tzinfo=self.zone, locale=language)
        except (UnknownLocaleError, ValueError):
            return format_datetime(opening, "EEEE HH:mm", tzinfo=self.zone, locale="en")

    def _is_working_day(self, day: date) -> bool:
        return DAYS[day.weekday()] in self.days and not self._is_bank_holiday(day)

    def _is_bank_holiday(self, day: date) -> bool:
        if self.bank_holidays is None:
            return False
        calendar = self._cache.get(day.year)
        if calendar is None:
            country, _, subdivision = self.bank_holidays.partition("-")
            calendar = holidays.country_holidays(country, subdiv=subdivision or None, years=day.year)
            self._cache[day.year] = calendar
        return day in calendar  # type: ignore[operator]
