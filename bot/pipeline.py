"""The pipeline: one message in, history from the store, the core's decision, the case stored, actions run.

Every failure is handled here, once: it is recorded on the case (or logged with the message's ids
and categories, never its text) and the pipeline carries on with the next message.

Handling a message and resuming one after a restart are one rule: both carry out the case through
:class:`bot.acting.Acting`, which reads the action log to do nothing twice. Per-group ordering lives in
``bot/ordering.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from adapters.base import Adapter
from bot.acting import REPOSTED, Acting, ActionOutcome, MessageKey, Outcome, describe
from bot.errors import StorageError
from bot.records import case_decision, case_message
from bot.store import CaseRecord, Store
from moderation.engine import assess, held_for_review
from moderation.errors import ScorerError
from moderation.language_detection import FULL as FULL_ASSESSMENT
from moderation.policy import Policy
from moderation.scorers.base import TextScorer, hits_of
from moderation.serving.batching import ScoringService
from moderation.types import (
    AuthorHistory,
    Category,
    ChatMessage,
    Decision,
    ModelScores,
)

__all__ = [
    "DEFAULT_ASSESS_BUDGET_SECONDS",
    "REPOSTED",
    "RESUME_WINDOW",
    "ActionOutcome",
    "Outcome",
    "Pipeline",
]

logger = logging.getLogger(__name__)

_GROUP_POLICY_SECONDS = 30.0  # a group's own thresholds, set in the console, apply within this
_CATEGORIES = frozenset(category.value for category in Category)
# How far back a restart looks for cases left unfinished: Telegram deletes messages only while they
# are under 48 hours old, and a card days late is better read in the case queue.
RESUME_WINDOW = timedelta(hours=48)
DEFAULT_ASSESS_BUDGET_SECONDS = 5.0
"""How long judging one message may take (milliseconds normally: RE2 patterns, bounded matches)."""


class Pipeline:
    """Ties an adapter, the core and the store together."""

    def __init__(
        self,
        *,
        policy: Policy,
        store: Store,
        scorer: TextScorer,
        adapter: Adapter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        scoring: ScoringService | None = None,
        assess_budget_seconds: float = DEFAULT_ASSESS_BUDGET_SECONDS,
        languages: frozenset[str] = frozenset({"en"}),
    ) -> None:
        self.policy = policy
        self.languages = languages
        """The languages the scorers assess in full (see :mod:`moderation.language_detection`)."""
        self.store = store
        self.scorer = scorer
        self.scoring = scoring or ScoringService(scorer)
        self.adapter = adapter
        self.acting = Acting(policy=policy, store=store, adapter=adapter)
        self._clock = clock
        self._assess_budget = assess_budget_seconds
        self._group_policies: dict[tuple[str, str], tuple[float, Policy]] = {}
        self._locks: dict[MessageKey, asyncio.Lock] = {}
        self._resuming: asyncio.Future[int] | None = None

    async def close(self) -> None:
        """Stop resuming and the scoring service's worker (on shutdown, on the loop that ran the pipeline).

        Cases a background resume had not finished are still unfinished at the next start.
        """
        if self._resuming is not None and not self._resuming.done():
            self._resuming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resuming
        await self.scoring.close()

    def resume_in_background(
        self, platform: str, *, chat_title: Callable[[str], str | None] | None = None
    ) -> None:
        """Start :meth:`resume` beside new messages, as every platform does at start-up.

        In the background because the cards it re-posts may wait minutes behind a platform's rate
        limit; a resume already running is not started twice (Discord is ready again after a new
        session).
        """
        if self._resuming is None or self._resuming.done():
            self._resuming = asyncio.ensure_future(self.resume(platform, chat_title=chat_title))

    async def handle(
        self, message: ChatMessage, *, now: datetime | None = None, settled: asyncio.Event | None = None
    ) -> Outcome:
        """Assess one message and carry out the decision; never raises for a bad message.

        ``now`` overrides the clock (a replayed transcript runs on the transcript's own time).
        ``settled`` is set once the message is settled in its group: the case (and any strike) is
        stored and the message hidden. What is left is sending: the learner's reminder (a public
        nudge when Telegram refuses the private one) and the moderators' card, each of which may wait
        minutes behind a group's message limit. An adapter that handles a group's messages one at a
        time can go on to the next one then.
        """
        message = _sanitised(message)
        key: MessageKey = (message.platform, message.chat_id, message.message_id, message.revision)
        lock = self._locks.setdefault(key, asyncio.Lock())
        if lock.locked() and settled is not None:
            settled.set()  # the same message, delivered again while the first copy is still sending
        try:
            async with lock:
                return await self._handle(message, key, now or self._clock(), settled)
        except StorageError as exc:
            logger.error("store unavailable for %s: %s", describe(key), exc)
            return Outcome(key=key, error=str(exc))
        except Exception as exc:  # the one place that keeps a bug in one message from stopping the bot
            logger.exception("could not handle %s (%s)", describe(key), exc.__class__.__name__)
            return Outcome(key=key, error=f"{exc.__class__.__name__}: internal error, see the log")
        finally:
            if settled is not None:
                settled.set()
            if not lock.locked():
                self._locks.pop(key, None)

    async def _handle(
        self, message: ChatMessage, key: MessageKey, now: datetime, settled: asyncio.Event | None
    ) -> Outcome:
        if await asyncio.to_thread(self.store.is_seen, *key):
            return Outcome(key=key, is_duplicate=True)
        history = await asyncio.to_thread(self._history, message, now)
        model = await self._score(message, key)
        decision = await self._assess(message, history, now, model, key)
        if decision.assessed != FULL_ASSESSMENT and decision.language is not None:
            await self._count_unassessed(message, decision.language, now)
        if not decision.is_flagged:
            await asyncio.to_thread(self.store.mark_seen, *key, now)
            logger.debug("allowed %s", describe(key))
            return Outcome(key=key, decision=decision)

        # Write before act: the case is committed before any platform call.
        case = await asyncio.to_thread(self.store.record_case, message, decision, now)
        return await self.acting.act(case, message, decision, key, now, settled)

    async def _count_unassessed(self, message: ChatMessage, language: str, now: datetime) -> None:
        """Count a message the scorers could not fully assess, for its group's tutors (`status`)."""
        group = message.group_id or message.chat_id
        try:
            await asyncio.to_thread(
                self.store.count_unassessed, message.platform, group, language, now.date()
            )
        except StorageError as exc:  # a count is not worth losing the message over
            logger.warning("could not count a message not fully assessed: %s", exc)

    async def _assess(
        self, message: ChatMessage, history: AuthorHistory, now: datetime, model: ModelScores, key: MessageKey
    ) -> Decision:
        """Judge the message off the event loop, so no message can stall the others.

        Over the budget the message is held for review; the thread finishes on its own, unwaited.
        """
        policy = await self._policy_for(message)
        judging = asyncio.to_thread(assess, message, history, policy, now, model)
        try:
            return await asyncio.wait_for(judging, self._assess_budget)
        except TimeoutError:
            logger.warning(
                "judging %s took over %.1f s: held for a moderator's review",
                describe(key),
                self._assess_budget,
            )
            return held_for_review(model, f"judging it took longer than {self._assess_budget:g} s")

    async def _policy_for(self, message: ChatMessage) -> Policy:
        """The policy with the message's group's own thresholds (read at most every 30 s per group)."""
        group = (message.platform, message.group_id or message.chat_id)
        cached = self._group_policies.get(group)
        if cached is not None and time.monotonic() < cached[0]:
            return cached[1]
        try:
            own = await asyncio.to_thread(self.store.group_thresholds, *group)
        except StorageError:
            return self.policy  # the policy's thresholds; the message is not held up for a group's own
        policy = self.policy.for_group(
            {Category(name): value for name, value in own.items() if name in _CATEGORIES}
        )
        self._group_policies[group] = (time.monotonic() + _GROUP_POLICY_SECONDS, policy)
        return policy

    async def resume(
        self,
        platform: str,
        *,
        since: datetime | None = None,
        chat_title: Callable[[str], str | None] | None = None,
    ) -> int:
        """Finish the cases that a stopped process left half done; return how many were finished.

        A case is stored before its actions and its message marked handled after the last, so a
        case stored since ``since`` whose message was never marked handled was cut short (a crash,
        a kill while a card waited behind a rate limit). Each is carried out as it was decided, not
        judged again, skipping what its action log shows done. A case whose text was purged is left.
        ``since`` defaults to ``RESUME_WINDOW`` ago; older cases wait in the moderators' queue.
        ``chat_title`` names a chat the store knows no title for (a Discord channel: the store keeps
        servers), so the card says where, not a bare id.
        """
        since = since or self._clock() - RESUME_WINDOW
        finished, last_id = 0, 0
        while True:
            try:
                cases = await asyncio.to_thread(
                    self.store.unfinished_cases, platform, since=since, after_id=last_id
                )
                titles = {
                    group.chat_id: group.title
                    for group in await asyncio.to_thread(self.store.groups)
                    if group.platform == platform
                }
            except StorageError as exc:
                logger.error("could not look for unfinished cases: %s", exc)
                return finished
            except Exception as exc:  # a start-up must not fail on it
                logger.exception("could not look for unfinished cases (%s)", exc.__class__.__name__)
                return finished
            if not cases:
                if finished:
                    logger.info("finished %d case(s) left unfinished when the bot last stopped", finished)
                return finished
            for case in cases:
                title = titles.get(case.chat_id) or (chat_title(case.chat_id) if chat_title else None)
                finished += await self._resume_case(case, title)
            last_id = cases[-1].id

    async def _resume_case(self, case: CaseRecord, chat_title: str | None) -> int:
        message = replace(case_message(case), chat_title=chat_title)
        key: MessageKey = (message.platform, message.chat_id, message.message_id, message.revision)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                if await asyncio.to_thread(self.store.is_seen, *key):
                    return 0  # finished meanwhile (delivered again and handled)
                now = self._clock()
                if case.status != "open" and case.closed_by != "bot":
                    # A moderator decided it already (its card got out before the stop).
                    await asyncio.to_thread(self.store.mark_seen, *key, now)
                    return 0
                logger.info("finishing case %s, left unfinished when the bot stopped", case.id)
                await self.acting.act(
                    case, message, case_decision(case), key, now, None, strike_at=case.created_at
                )
                return 1
        except StorageError as exc:
            logger.error("could not finish case %s: %s", case.id, exc)
        except Exception as exc:  # one bad case must not stop the others, nor the bot
            logger.exception("could not finish case %s (%s)", case.id, exc.__class__.__name__)
        finally:
            if not lock.locked():
                self._locks.pop(key, None)
        return 0

    def _history(self, message: ChatMessage, now: datetime) -> AuthorHistory:
        return self.store.author_history(
            message.platform,
            message.author.id,
            now=now,
            strike_lifetime=timedelta(days=self.policy.strike_lifetime_days),
            exclude_message=(message.chat_id, message.message_id),
        )

    async def _score(self, message: ChatMessage, key: MessageKey) -> ModelScores:
        if not message.text.strip():
            return ModelScores(scorer=self.scorer.name, languages=self.languages)
        try:
            labels = await self.scoring.score(message.text)
        except ScorerError as exc:
            logger.error("scorer %s failed on %s: %s", self.scorer.name, describe(key), exc)
            return ModelScores(scorer=self.scorer.name, error=str(exc), languages=self.languages)
        except Exception as exc:
            logger.exception("scorer %s crashed on %s", self.scorer.name, describe(key))
            return ModelScores(
                scorer=self.scorer.name,
                error=f"{exc.__class__.__name__} in the scorer",
                languages=self.languages,
            )
        return ModelScores(
            scorer=self.scorer.name, labels=labels, hits=hits_of(labels), languages=self.languages
        )


def _sanitised(message: ChatMessage) -> ChatMessage:
    """Drop what no database can store (NUL, lone surrogates) so a bad message cannot break the store."""
    text = message.text.replace("\x00", "")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return message if text == message.text else replace(message, text=text)
