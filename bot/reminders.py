"""Moderators' reminders and the daily digest, on one platform.

A moderators' card nobody has decided after ``undecided_reminder_seconds`` is posted again in the
moderators' chat with its buttons and a line saying how long it has waited, and again each time as long
passes. Once a day at ``digest_time`` (in the service's time zone, within the hour after it) the digest
lists what is still open: ordinary cases in the moderators' chat, the officers' own (safeguarding, staff
conduct, referred) only in the safeguarding chat. Reminders are recorded like the rota's steps; a day's
digest is claimed in the store before it is sent, so it is sent once a day whatever restarts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from adapters.base import Platform
from bot.cards import card_of
from bot.clock import Clock
from bot.errors import AdapterError
from bot.escalation import waited_text
from bot.records import CaseRecord
from bot.review import Staff, case_state
from bot.store import Store
from moderation.policy import Policy
from moderation.verdicts import is_officers_only

__all__ = ["DIGEST_WINDOW", "Reminders", "digest_text"]

logger = logging.getLogger(__name__)

DIGEST_WINDOW = timedelta(hours=1)
"""A digest not sent within this long after its time (the bot was down) waits for the next day."""
MODERATORS_CHAT = "moderators chat"
_DIGEST_LINES = 40


class Reminders:
    """Re-posts undecided moderators' cards and posts the daily digest."""

    def __init__(
        self,
        *,
        platform: Platform,
        store: Store,
        policy: Policy,
        staff: Staff,
        clock: Clock,
        remind_after: timedelta | None,
        digest_at: time | None,
    ) -> None:
        self.platform = platform
        self.store = store
        self.policy = policy
        self.staff = staff
        self.clock = clock
        self.remind_after = remind_after
        self.digest_at = digest_at
        hours = policy.service_hours
        self.zone = hours.zone if hours is not None else ZoneInfo("UTC")

    async def tick(self) -> int:
        """Send what is due now; how many messages were posted."""
        now = self.clock.now()
        return await self._remind(now) + await self._digest(now)

    async def _remind(self, now: datetime) -> int:
        if not self.remind_after or self.staff.moderators_chat is None:
            return 0
        every = self.remind_after
        cases = await asyncio.to_thread(
            self.store.undecided_cases, self.platform.name, created_before=now - every
        )
        sent = await asyncio.to_thread(self.store.alerts, [case.id for case in cases])
        posted = 0
        for case in cases:
            done = sent[case.id]
            if now - (done[-1].at if done else case.created_at) < every:
                continue
            await self._repost(case, len(done) + 1, now)
            posted += 1
        return posted

    async def _repost(self, case: CaseRecord, number: int, now: datetime) -> None:
        state = case_state(await asyncio.to_thread(self.store.case_actions, case.id))
        card = card_of(case, self.policy, is_hidden=state.is_hidden, was_handed_back=state.was_handed_back)
        card = replace(
            card,
            title=f"Reminder · {card.title}",
            lines=(f"Nobody has decided this case: {waited_text(now - case.created_at)} open.", *card.lines),
            key=f"remind-{case.id}-{number}",
        )
        outcome, detail = "ok", None
        try:
            await self.platform.post_card(card)
        except AdapterError as exc:
            outcome, detail = "failed", str(exc)
        await asyncio.to_thread(
            lambda: self.store.record_alert(
                case.id,
                step=number,
                position=None,
                recipient=MODERATORS_CHAT,
                outcome=outcome,
                detail=detail,
                at=now,
            )
        )

    async def _digest(self, now: datetime) -> int:
        if self.digest_at is None:
            return 0
        local = now.astimezone(self.zone)
        due = datetime.combine(local.date(), self.digest_at, tzinfo=self.zone)
        if not due <= local < due + DIGEST_WINDOW:
            return 0
        if not await asyncio.to_thread(self.store.claim_digest, self.platform.name, local.date(), now):
            return 0
        cases = await asyncio.to_thread(self.store.open_cases_of, self.platform.name)
        officers = [case for case in cases if is_officers_only(case.flagged, case.route, case.status)]
        ordinary = [case for case in cases if case not in officers]
        posted = 0
        for chat, chosen in (
            (self.staff.moderators_chat, ordinary),
            (self.staff.safeguarding_chat, officers),
        ):
            if chat is None or (chat == self.staff.safeguarding_chat and not chosen):
                continue
            try:
                await self.platform.post(chat, digest_text(chosen, now))
                posted += 1
            except AdapterError as exc:
                logger.warning("could not post the daily digest: %s", exc)
        return posted


def digest_text(cases: list[CaseRecord], now: datetime) -> str:
    """The digest: how many cases are open, then one line each, oldest first (ids and kinds, no text)."""
    if not cases:
        return "Daily digest: no cases are open."
    lines = [f"Daily digest: {len(cases)} case(s) open, oldest first."]
    for case in cases[:_DIGEST_LINES]:
        categories = ", ".join(category.value for category in case.flagged) or "held for review"
        level = f"{case.urgency.value.upper()} · " if case.urgency is not None else ""
        lines.append(f"#{case.id} · {level}{categories} · open {waited_text(now - case.created_at)}")
    if len(cases) > _DIGEST_LINES:
        lines.append(f"…and {len(cases) - _DIGEST_LINES} more (classmod cases list).")
    return "\n".join(lines)
