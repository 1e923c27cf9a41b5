"""Carrying out a stored case: each action once, its intent logged before the platform call.

Used for a new message and for one a stopped process left half done alike (``Acting.act``): what the
case's action log shows done is not done again, what was in flight at a stop is reconciled, and in a
group in shadow mode all but a disclosure's support message and card are held back.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime

from adapters.base import ActionRequest, Adapter, Card, check_supported
from bot import texts
from bot.cards import build_card, posted_detail
from bot.errors import AdapterError, StorageError
from bot.languages import ENGLISH, language_of
from bot.store import CaseRecord, Store
from moderation.errors import ModerationError
from moderation.personal_data import mask_personal_data
from moderation.policy import Policy
from moderation.types import Action, ActionKind, AttachmentKind, Category, ChatMessage, Decision, Route
from moderation.verdicts import strike_for

__all__ = ["REPOSTED", "Acting", "ActionOutcome", "MessageKey", "Outcome", "describe"]

logger = logging.getLogger(__name__)

MessageKey = tuple[str, str, str, int]
"""(platform, chat, message, revision): one revision of one message."""
# Tried once: a refused private reminder or warning may already have been replaced by a public nudge.
_SENT_ONCE = frozenset({ActionKind.REMIND.value, ActionKind.WARN.value})
REPOSTED = "Posted again after a restart: if this case's card is also above, either works (decided once)."
"""The line on a card posted again because the process stopped while posting it."""


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What became of one action: ``ok``, ``failed`` (with the platform's error) or ``skipped``."""

    kind: ActionKind
    outcome: str
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of handling one message.

    ``is_duplicate`` is true when this (platform, chat, message, revision) was handled before and
    nothing was done again. ``error`` is set when the message could not be handled at all (for
    example the database is down); it was not marked handled, so a redelivery tries again.
    """

    key: MessageKey
    decision: Decision | None = None
    case_id: int | None = None
    actions: tuple[ActionOutcome, ...] = ()
    is_duplicate: bool = False
    error: str | None = None


class Acting:
    """Carries out cases on one adapter, recording every step in the store."""

    def __init__(self, *, policy: Policy, store: Store, adapter: Adapter) -> None:
        self.policy = policy
        self.store = store
        self.adapter = adapter

    async def act(
        self,
        case: CaseRecord,
        message: ChatMessage,
        decision: Decision,
        key: MessageKey,
        now: datetime,
        settled: asyncio.Event | None,
        *,
        strike_at: datetime | None = None,
    ) -> Outcome:
        """Carry out a stored case's actions and mark its message handled; what became of each.

        ``settled`` is set once the message is hidden (what is left is sending); ``strike_at`` dates
        a warning's strike (a resumed case's own time).
        """
        # What the log shows done is not done again. A hide or a card that failed is tried again;
        # a reminder or warning is tried once, since a refused private message may already have
        # been replaced by a public nudge. An action whose last entry is its intent ("started") was
        # in flight when the process stopped: see _apply for how it is reconciled.
        records = [
            record
            for record in await asyncio.to_thread(self.store.case_actions, case.id)
            if record.actor == "bot"
        ]
        logged = {
            record.action: record
            for record in records
            if record.outcome == "ok" or record.action in _SENT_ONCE
        }
        last = {record.action: record.outcome for record in records}
        in_flight = {action for action, outcome in last.items() if outcome == "started"}
        group = message.group_id or message.chat_id
        is_shadow = await asyncio.to_thread(self.store.group_mode, message.platform, group) == "shadow"
        if (
            not is_shadow
            and "strike" not in logged
            and any(action.kind is ActionKind.WARN for action in case.actions)
        ):
            # The strike counts even when the platform cannot deliver the warning.
            await asyncio.to_thread(self._record_strike, case.id, message, decision, strike_at or now)
        masked = mask_personal_data(message.text)
        results: list[ActionOutcome] = []
        for action in case.actions:
            earlier = logged.get(action.kind.value)
            if is_shadow and not _goes_in_shadow(action, decision):
                # Shadow mode: recorded as what would have been done; nothing is done to the learner.
                if earlier is None:
                    await asyncio.to_thread(
                        self.store.record_action,
                        case.id,
                        action.kind.value,
                        "shadow",
                        detail="shadow mode",
                        at=now,
                    )
                results.append(ActionOutcome(action.kind, "shadow", "shadow mode"))
                continue
            if earlier is not None and earlier.outcome == "started":
                # A private message cut short by a stop: it may have gone, so it is not sent again.
                results.append(ActionOutcome(action.kind, "unknown", "cut short by a restart; not repeated"))
                continue
            if earlier is not None:
                results.append(
                    ActionOutcome(action.kind, earlier.outcome, earlier.detail or "done before a restart")
                )
                continue
            if action.kind is not ActionKind.HIDE and settled is not None:
                settled.set()  # hidden (the engine orders hiding first): the rest is sending
            was_in_flight = action.kind.value in in_flight
            card = None
            if action.kind is ActionKind.ESCALATE:
                card = self._card(case, message, decision, results)
                if was_in_flight:  # it may have got out just before the stop (Discord's nonce dedupes it)
                    card = replace(card, lines=(*card.lines, REPOSTED))
            note, language = None, ENGLISH
            if action.kind in (ActionKind.REMIND, ActionKind.WARN):
                language = await self._language_of(message)
                note = self._note(decision, action.kind, language, now)
            request = ActionRequest(action, message, decision, case.id, masked, card, note, language)
            results.append(await self._apply(request, now, was_in_flight=was_in_flight))
        if decision.route is None or (is_shadow and decision.route is Route.MODERATORS):
            # Nothing for a person to review (or, in shadow mode, nothing was escalated): it leaves the queue.
            await asyncio.to_thread(self.store.close_case, case.id, "closed", actor="bot", at=now)
        await asyncio.to_thread(self.store.mark_seen, *key, now)
        logger.info(
            "%s: %s (%s) case %s",
            describe(key),
            decision.action.value,
            ",".join(decision.flagged) or "-",
            case.id,
        )
        return Outcome(key=key, decision=decision, case_id=case.id, actions=tuple(results))

    def _note(self, decision: Decision, kind: ActionKind, language: str, now: datetime) -> str:
        """The learner's private note in their language; English, then the plain reminder, if that fails.

        Nothing about a note (a translation, the hours) may stop what comes after it: the officer's card.
        """
        formal = kind is ActionKind.WARN
        for code in (language, ENGLISH):
            try:
                return texts.action_reminder(
                    self.policy,
                    decision.reminder_keys,
                    formal=formal,
                    language=code,
                    fallback=decision.reminder,
                    now=now,
                )
            except Exception:  # a broken text must cost its words, not the case
                logger.exception("could not write a %s note in %s; trying English", kind.value, code)
        return decision.reminder or "Please remember the rules of this class group."

    async def _language_of(self, message: ChatMessage) -> str:
        """The language the author reads; their app's locale is kept for later notes (a moderator's)."""
        author = message.author
        try:
            if author.locale:
                await asyncio.to_thread(self.store.note_locale, message.platform, author.id, author.locale)
            group = message.group_id or message.chat_id
            return await asyncio.to_thread(
                language_of, self.store, message.platform, author.id, group, locale=author.locale
            )
        except StorageError:
            logger.warning("could not read a learner's language; writing in English")
            return ENGLISH

    def _card(
        self, case: CaseRecord, message: ChatMessage, decision: Decision, results: list[ActionOutcome]
    ) -> Card:
        return build_card(
            case_id=case.id,
            policy=self.policy,
            author_name=message.author.display_name,
            author_role=message.author.role.value,
            author_id=message.author.id,
            chat_title=message.chat_title or message.chat_id,
            when=message.sent_at,
            text=message.text,
            flagged=decision.flagged,
            clauses=decision.clauses,
            evidence=decision.evidence,
            scores={category.value: score for category, score in decision.scores.items()},
            explanation=decision.explanation,
            scorer=decision.scorer,
            done=[(result.kind.value, result.outcome, result.detail) for result in results],
            route=decision.route or Route.MODERATORS,
            was_hidden=any(r.kind is ActionKind.HIDE and r.outcome == "ok" for r in results),
            media=[
                item.ref for item in message.attachments if item.kind is AttachmentKind.PHOTO and item.ref
            ],
            language=decision.language,
            assessed=decision.assessed,
            urgency=decision.urgency,
        )

    async def _apply(self, request: ActionRequest, now: datetime, *, was_in_flight: bool) -> ActionOutcome:
        """Carry out one action, its intent recorded before the platform call and its outcome after.

        ``was_in_flight``: an earlier process recorded the intent and stopped before the outcome. A
        delete that now finds the message gone was done by that process (not "failed"); a card is
        posted again, under the same key, which a platform that can (Discord's nonce) posts once.
        """
        kind = request.action.kind
        case_id = request.case_id
        assert case_id is not None
        posted: str | None = None
        try:
            check_supported(self.adapter, kind)
            await asyncio.to_thread(self.store.record_action, case_id, kind.value, "started", at=now)
            posted = await self.adapter.apply(request)
        except AdapterError as exc:
            if was_in_flight and kind is ActionKind.HIDE and exc.is_gone:
                detail = "already gone: hidden before a restart"
                await asyncio.to_thread(
                    self.store.record_action, case_id, kind.value, "ok", detail=detail, at=now
                )
                return ActionOutcome(kind, "ok", detail)
            outcome = "skipped" if kind not in self.adapter.capabilities else "failed"
            logger.warning("%s on case %s %s: %s", kind.value, case_id, outcome, exc)
            await asyncio.to_thread(
                self.store.record_action, case_id, kind.value, outcome, detail=str(exc), at=now
            )
            return ActionOutcome(kind, outcome, str(exc))
        except ModerationError:
            raise
        where = posted_detail(posted or None, request.action.route)
        await asyncio.to_thread(self.store.record_action, case_id, kind.value, "ok", detail=where, at=now)
        return ActionOutcome(kind, "ok")

    def _record_strike(self, case_id: int, message: ChatMessage, decision: Decision, now: datetime) -> None:
        """A warning puts one strike on the author's record (never for a disclosure: ``strike_for``)."""
        strike = strike_for(decision.flagged, decision.clauses, message.author.role, self.policy, now)
        if strike is None:
            return
        self.store.add_strike(message.platform, message.author.id, strike, case_id)
        self.store.record_action(
            case_id, "strike", "ok", detail=f"{strike.category.value} under {strike.clause_id}", at=now
        )


def _goes_in_shadow(action: Action, decision: Decision) -> bool:
    """In shadow mode, what still goes: a disclosure's support message and the officer's card."""
    if action.kind is ActionKind.ESCALATE:
        return action.route is Route.SAFEGUARDING
    return action.kind is ActionKind.REMIND and Category.SAFEGUARDING in decision.flagged


def describe(key: MessageKey) -> str:
    """``telegram/-100123/42@0``: a message named in the log without its text."""
    platform, chat_id, message_id, revision = key
    return f"{platform}/{chat_id}/{message_id}@{revision}"
