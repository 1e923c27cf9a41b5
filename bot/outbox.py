"""Decisions taken in the web console, carried out on the platform by its running bot.

The console decides through the same review code as a card's button (:meth:`bot.review.Review.press`:
who may, what the case allows, a case closed once), records the decision at once, and puts the
platform's steps (restore, warn, mute, notify the author…) and the card's outcome line in the outbox.
The platform's bot, on its scheduler's tick, carries them out as it would after a button press, records
each step on the case, and adds the outcome to the card (its buttons become what the case still
offers), so a case decided on the web shows as decided on its card; a case decided on its card shows on
the web at once (both read the store). Steps are carried out at least once: a bot stopped between a
step and marking the decision done carries it out again when it starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from adapters.base import Button, Card, Platform, ReviewAction, ReviewRequest
from bot.buttons import case_button_data
from bot.cards import PostedCard, card_of, outcome_line, posted_card
from bot.clock import Clock
from bot.config import Settings
from bot.errors import AdapterError
from bot.review import Press, Review, Staff, Verdict
from bot.rota import staff_from
from bot.store import OutboxItem, Store
from moderation.policy import Policy
from moderation.types import Route
from moderation.verdicts import Verb

__all__ = ["WebDecisions", "decide_on_web", "steps_from_json", "steps_to_json"]

logger = logging.getLogger(__name__)

_FORMER_ACTIONS = {"refer": ReviewAction.POST_CARD}
"""Step names of earlier versions, for decisions queued before an upgrade."""


def steps_to_json(steps: Sequence[ReviewRequest]) -> str:
    """A verdict's platform steps as JSON, for the outbox."""

    def plain(step: ReviewRequest) -> dict[str, Any]:
        values = asdict(step)
        values["action"] = step.action.value
        values["duration"] = None if step.duration is None else step.duration.total_seconds()
        if step.card is not None:
            values["card"]["route"] = step.card.route.value
        return values

    return json.dumps([plain(step) for step in steps])


def steps_from_json(text: str) -> list[ReviewRequest]:
    """The steps back from the outbox's JSON."""
    steps = []
    for values in json.loads(text):
        card = values.pop("card")
        steps.append(
            ReviewRequest(
                **{
                    **values,
                    "action": _FORMER_ACTIONS.get(values["action"]) or ReviewAction(values["action"]),
                    "duration": None if values["duration"] is None else timedelta(seconds=values["duration"]),
                    "card": None
                    if card is None
                    else Card(
                        title=card["title"],
                        lines=tuple(card["lines"]),
                        buttons=tuple(Button(**button) for button in card["buttons"]),
                        route=Route(card["route"]),
                        media=tuple(card["media"]),
                        key=card["key"],
                    ),
                }
            )
        )
    return steps


def decide_on_web(
    store: Store,
    policy: Policy,
    settings: Settings,
    *,
    case_id: int,
    verb: str,
    platform: str,
    user_id: str,
    name: str,
    now: datetime,
) -> Verdict:
    """A decision from the console: checked and recorded by the review, its steps queued for the bot."""
    case = store.get_case(case_id)
    if case is None:
        return Verdict(accepted=False, message="There is no such case.")
    if case.platform != platform:
        return Verdict(
            accepted=False,
            message=f"A {case.platform} case: sign in with your {case.platform} id to decide it.",
        )
    staff = staff_from(settings, platform)
    review = Review(store=store, policy=policy, staff=staff, platform=platform)
    press = Press(
        platform=platform,
        data=case_button_data(case_id, verb),
        presser_id=user_id,
        presser_name=name,
        chat_id=staff.chat_for(case.route or Route.MODERATORS) or "",
        from_console=True,
    )
    verdict = review.press(press, now)
    if verdict.accepted and verdict.verb is not None:
        store.add_to_outbox(
            platform=platform,
            case_id=case_id,
            steps=steps_to_json(verdict.steps),
            outcome=outcome_line(verdict.verb, f"{name} (console)", now),
            keeps_open=verdict.keeps_open,
            actor=user_id,
            at=now,
        )
    return verdict


class WebDecisions:
    """The bot's side: carries out the console's decisions for its platform, then updates their cards."""

    def __init__(
        self, *, platform: Platform, store: Store, policy: Policy, staff: Staff, clock: Clock
    ) -> None:
        self.platform = platform
        self.store = store
        self.policy = policy
        self.clock = clock
        self.review = Review(store=store, policy=policy, staff=staff, platform=platform.name)

    async def tick(self) -> int:
        """Carry out what the console decided; how many decisions."""
        items = await asyncio.to_thread(self.store.outbox, self.platform.name)
        for item in items:
            now = self.clock.now()
            problems = [item.error] if item.error else []
            decided_on = await self._decided_on(item)
            for index, step in enumerate(steps_from_json(item.steps)):
                if index < item.steps_done:
                    continue  # carried out before the bot was interrupted: a learner is warned once
                error = posted = None
                try:
                    posted = await self.platform.apply_review(step)
                except AdapterError as exc:
                    error = str(exc)
                    problems.append(f"{step.action.value} failed: {exc}")
                await asyncio.to_thread(
                    self.review.record_step,
                    item.case_id,
                    step,
                    error,
                    actor=item.actor,
                    now=now,
                    posted=posted,
                )
                await asyncio.to_thread(
                    partial(
                        self.store.outbox_steps_done, item.id, index + 1, error="; ".join(problems) or None
                    )
                )
            problems += await self._show_on_card(item.case_id, item.outcome, item.keeps_open, decided_on)
            await asyncio.to_thread(
                partial(self.store.finish_outbox_item, item.id, at=now, error="; ".join(problems) or None)
            )
            logger.info(
                "case %s: the console's decision carried out (%d problem(s))", item.case_id, len(problems)
            )
        return len(items)

    async def _decided_on(self, item: OutboxItem) -> PostedCard | None:
        """The card the decision was taken on, noted before its first step.

        So it is the same card when an interrupted decision is carried on: a referral's step posts the
        officer's card, which keeps its own buttons and must not get the moderators' outcome.
        """
        if item.card_message_id is not None:
            return PostedCard(
                item.card_message_id, None if item.card_route is None else Route(item.card_route)
            )
        decided_on = posted_card(await asyncio.to_thread(self.store.case_actions, item.case_id))
        if decided_on is not None:
            route = None if decided_on.route is None else decided_on.route.value
            await asyncio.to_thread(self.store.note_outbox_card, item.id, decided_on.message_id, route)
        return decided_on

    async def _show_on_card(
        self, case_id: int, outcome: str, keeps_open: bool, posted: PostedCard | None
    ) -> list[str]:
        case = await asyncio.to_thread(self.store.get_case, case_id)
        if case is None or posted is None:
            return []
        buttons: tuple[Button, ...] = ()
        if keeps_open:
            verdict = Verdict(accepted=True, message="", case=case, verb=Verb.ACKNOWLEDGE, keeps_open=True)
            buttons = await asyncio.to_thread(self.review.buttons_for, verdict)
        # The card as it stands in its chat: a referral's outcome goes on the moderators' card.
        card = card_of(replace(case, route=posted.route or case.route), self.policy)
        try:
            await self.platform.update_case_card(card, posted.message_id, outcome, buttons)
        except AdapterError as exc:
            return [f"the card could not be updated: {exc}"]
        return []
