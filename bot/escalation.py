"""Climbing the safeguarding rota on one platform: each due step sent, then recorded.

Every tick, the cases nobody has acknowledged are read from the store with the steps already sent
(:meth:`~bot.store.Store.awaiting_acknowledgement`, :meth:`~bot.store.Store.alerts`), and
:meth:`bot.rota.Rota.next_step` says what is due. The card goes privately to each person the step names,
with one button, Acknowledge, and from the second step on it is posted again in the safeguarding chat,
saying how long the case has waited and whom it now alerts. Each send is recorded as it is done (ok,
refused: private messages closed, or failed with the platform's error), so a restart goes on from the
store: a step recorded is never sent again (one cut off between its send and its record is sent again
once — better twice than never).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta

from adapters.base import Card, Platform
from bot.cards import button, card_of
from bot.clock import Clock
from bot.errors import AdapterError
from bot.records import CaseRecord
from bot.review import case_state
from bot.rota import Alerted, Rota, Step
from bot.store import Store
from moderation.policy import Policy
from moderation.types import Urgency
from moderation.verdicts import Verb

__all__ = ["Escalation", "level_of", "waited_text"]

logger = logging.getLogger(__name__)

SAFEGUARDING_CHAT = "safeguarding chat"


def level_of(case: CaseRecord) -> Urgency:
    """How fast a case climbs: its urgency; a concern about a member of staff (no urgency) climbs as high."""
    return case.urgency or Urgency.HIGH


def waited_text(waited: timedelta) -> str:
    """``45 min``, ``3 h 5 min``, ``2 d 4 h``: how long a case has waited, as staff read it."""
    minutes = max(0, int(waited.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else "under a minute"


class Escalation:
    """Sends the rota's due steps for one platform's unacknowledged safeguarding cases."""

    def __init__(self, *, platform: Platform, store: Store, policy: Policy, rota: Rota, clock: Clock) -> None:
        self.platform = platform
        self.store = store
        self.policy = policy
        self.rota = rota
        self.clock = clock

    async def tick(self) -> int:
        """Send every step due now; how many steps were taken."""
        if not self.rota.members:
            return 0
        now = self.clock.now()
        cases = await asyncio.to_thread(self.store.awaiting_acknowledgement, self.platform.name)
        sent = await asyncio.to_thread(self.store.alerts, [case.id for case in cases])
        taken = 0
        for case in cases:
            done = [Alerted(item.step, item.position, item.at) for item in sent[case.id]]
            step = self.rota.next_step(self.platform.name, level_of(case), done, now)
            if step is not None:
                await self._take(case, step, now)
                taken += 1
        return taken

    async def _take(self, case: CaseRecord, step: Step, now: datetime) -> None:
        card = await asyncio.to_thread(self._card, case, step, now)
        for position, member in step.members:
            user = member.id_on(self.platform.name)
            outcome: str = "refused"
            detail: str | None = "private messages closed"
            try:
                if user is not None and await self.platform.send_private_card(user, card):
                    outcome, detail = "ok", None
            except AdapterError as exc:
                outcome, detail = "failed", str(exc)
            await self._record(case, step, position, member.label, outcome, detail, now)
        if step.repost:
            outcome, detail = "ok", None
            try:
                await self.platform.post_card(card)
            except AdapterError as exc:
                outcome, detail = "failed", str(exc)
            await self._record(case, step, None, SAFEGUARDING_CHAT, outcome, detail, now)
        logger.info(
            "case %s: rota step %s (%s) after %s",
            case.id,
            step.number,
            ", ".join(member.label for _, member in step.members),
            waited_text(now - case.created_at),
        )

    async def _record(
        self,
        case: CaseRecord,
        step: Step,
        position: int | None,
        recipient: str,
        outcome: str,
        detail: str | None,
        now: datetime,
    ) -> None:
        await asyncio.to_thread(
            lambda: self.store.record_alert(
                case.id,
                step=step.number,
                position=position,
                recipient=recipient,
                outcome=outcome,
                detail=detail,
                at=now,
            )
        )

    def _card(self, case: CaseRecord, step: Step, now: datetime) -> Card:
        state = case_state(self.store.case_actions(case.id))
        card = card_of(case, self.policy, is_hidden=state.is_hidden)
        names = ", ".join(member.label for _, member in step.members)
        waited = waited_text(now - case.created_at)
        first = (
            f"Rota: you are alerted as {names}. Press Acknowledge when you have it; "
            "decide it on its card in the safeguarding chat."
            if step.number == 1
            else f"Rota: not acknowledged {waited} after the message; now alerting {names}."
        )
        return replace(
            card,
            title=f"{card.title} · not acknowledged",
            lines=(first, *card.lines),
            buttons=(button(case.id, Verb.ACKNOWLEDGE),),
            key=f"alert-{case.id}-{step.number}",
        )
