"""Micro-batching: many coroutines ask for scores, the model sees a few batches.

When a lesson ends and forty learners post at once, scoring each message alone wastes the model:
a batch of 32 costs little more than one. :class:`ScoringService` collects the texts that arrive
within a short window (or until the batch is full), scores them together in a worker thread, and
hands each caller its own result. The event loop never waits on the model, and while one batch is
being scored the next one fills up, so batches grow with the load.

Long texts (a pasted essay, a 3 kB rant) cost a model tens of times what a chat line costs, so they
have a lane of their own: a second worker thread, at a lower CPU priority, that scores them a few
at a time while the short lane goes on scoring chat lines. A "thank you" never waits behind a 3 kB
message.

The same words come back again and again in class chat ("thank you", "ok", "👍", "see you next
week"), and a model gives the same text the same scores. The service scores each distinct text once:
callers asking for a text already waiting share its result, and the scores of recent texts are kept,
keyed by a digest of the text (never the text itself), in memory only and a bounded number of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from moderation.errors import ScorerError
from moderation.scorers.base import ScoredText, TextScorer, hits_of

__all__ = ["DEFAULT_CACHE_SIZE", "DEFAULT_LONG_TEXT_CHARS", "BatchStats", "ScoringService"]

logger = logging.getLogger(__name__)

DEFAULT_LONG_TEXT_CHARS = 400
"""Texts longer than this (about 100 to 150 tokens) take the long lane."""
DEFAULT_CACHE_SIZE = 2048
"""How many recent distinct texts' scores are kept (about 1 MB)."""
_LONG_LANE_NICE = 10
_LONG_LANE_BATCH = 4  # long texts are compute-bound: bigger batches gain nothing and delay results

Scores = dict[str, float]


@dataclass(slots=True)
class _Request:
    """One distinct text waiting to be scored, and every caller waiting for it."""

    text: str
    key: bytes
    waiters: list[asyncio.Future[Scores]]


@dataclass(slots=True)
class BatchStats:
    """Counts kept by the service, for status and benchmarks."""

    batches: int = 0
    texts: int = 0
    largest: int = 0
    long_texts: int = 0
    reused: int = 0
    """Texts answered without the model: remembered, or already waiting to be scored."""

    @property
    def mean_batch(self) -> float:
        """The average number of texts per batch."""
        return self.texts / self.batches if self.batches else 0.0


@dataclass(slots=True)
class _Lane:
    name: str
    max_batch: int
    queue: asyncio.Queue[_Request] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task[None] | None = None
    executor: ThreadPoolExecutor | None = None


class ScoringService:
    """An asyncio micro-batcher in front of a :class:`TextScorer`.

    Args:
        scorer: the model; its ``score_batch`` runs in worker threads, at most two calls at once
            (one per lane), so it must be safe to call from two threads.
        max_batch: the most short texts scored together.
        window_ms: how long the first text of a batch waits for company.
        long_text_chars: texts longer than this are scored in the long lane; ``None`` gives one
            lane for everything.
        cache_size: how many recent distinct texts' scores to remember; ``0`` scores every text,
            even one that is already waiting.
    """

    def __init__(
        self,
        scorer: TextScorer,
        *,
        max_batch: int = 32,
        window_ms: float = 5.0,
        long_text_chars: int | None = DEFAULT_LONG_TEXT_CHARS,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if window_ms < 0:
            raise ValueError("window_ms cannot be negative")
        if long_text_chars is not None and long_text_chars < 1:
            raise ValueError("long_text_chars must be at least 1 (or None for a single lane)")
        if cache_size < 0:
            raise ValueError("cache_size cannot be negative")
        self.scorer = scorer
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.long_text_chars = long_text_chars
        self.cache_size = cache_size
        self.stats = BatchStats()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lanes: dict[str, _Lane] = {}
        self._waiting: dict[bytes, _Request] = {}
        self._remembered: OrderedDict[bytes, Scores] = OrderedDict()

    @property
    def name(self) -> str:
        """The model's name."""
        return self.scorer.name

    async def score(self, text: str) -> dict[str, float]:
        """Score one text, batched with whatever else is waiting in its lane.

        A text scored recently, or already waiting, is not scored again: the caller gets its own copy
        of those scores.

        Raises:
            ScorerError: the model failed on the batch this text was in.
        """
        is_long = self.long_text_chars is not None and len(text) > self.long_text_chars
        lane = self._lane("long" if is_long else "short")
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        key = _digest(text) if self.cache_size else b""
        remembered = self._remembered.get(key) if key else None
        if remembered is not None:
            self._remembered.move_to_end(key)
            self.stats.reused += 1
            return remembered.copy()
        waiting = self._waiting.get(key) if key else None
        if waiting is not None:
            waiting.waiters.append(future)
            self.stats.reused += 1
        else:
            request = _Request(text, key, [future])
            if key:
                self._waiting[key] = request
            lane.queue.put_nowait(request)
        return await future

    def forget(self) -> None:
        """Drop the remembered scores (a benchmark's runs each start cold; a new model starts afresh)."""
        self._remembered.clear()

    async def close(self) -> None:
        """Stop the workers and their threads; waiting callers get a ScorerError. Scoring restarts them."""
        lanes, self._lanes = list(self._lanes.values()), {}
        self._waiting = {}  # their callers are told below; a text asked again is queued afresh
        same_loop = self._loop is not None and self._loop is asyncio.get_running_loop()
        for lane in lanes:
            if lane.worker is not None and same_loop:
                lane.worker.cancel()
                await asyncio.gather(lane.worker, return_exceptions=True)
            _fail_pending(lane.queue, "the scoring service was stopped")
            if lane.executor is not None:
                lane.executor.shutdown(wait=False, cancel_futures=True)

    def _lane(self, name: str) -> _Lane:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A new event loop: queues and tasks of the old one cannot be used here; start afresh.
            self._loop = loop
            self._lanes = {}
            self._waiting = {}
        lane = self._lanes.get(name)
        if lane is None:
            size = self.max_batch if name == "short" else min(self.max_batch, _LONG_LANE_BATCH)
            lane = self._lanes[name] = _Lane(name, size)
        if lane.worker is None or lane.worker.done():  # not started yet, or died
            lane.worker = loop.create_task(self._run(lane), name=f"classmod-scoring-{name}")
        return lane

    async def _run(self, lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        queue = lane.queue
        batch: list[_Request] = []
        try:
            while True:
                batch = [await queue.get()]
                deadline = loop.time() + self.window
                while len(batch) < lane.max_batch:
                    if not queue.empty():
                        batch.append(queue.get_nowait())
                        continue
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), remaining))
                    except TimeoutError:
                        break
                await self._score(loop, lane, batch)
                batch = []
        except asyncio.CancelledError:
            # Stopped mid-batch: its callers hear so instead of waiting for ever.
            self._settle(batch, ScorerError("the scoring service was stopped"))
            raise

    async def _score(self, loop: asyncio.AbstractEventLoop, lane: _Lane, batch: list[_Request]) -> None:
        texts = [request.text for request in batch]
        if lane.executor is None:
            lane.executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix=f"classmod-scoring-{lane.name}",
                initializer=_lower_priority if lane.name == "long" else None,
            )
        try:
            answers = await loop.run_in_executor(lane.executor, self.scorer.score_batch, texts)
            if len(answers) != len(texts):
                raise ScorerError(f"{self.scorer.name} gave {len(answers)} results for {len(texts)} texts")
            # Checked here, so a malformed answer fails its batch instead of the worker (whose callers,
            # and later callers of the same texts, would wait for ever).
            results: list[Scores] = [
                ScoredText({str(label): float(value) for label, value in answer.items()}, hits_of(answer))
                for answer in answers
            ]
        except Exception as exc:
            error = exc if isinstance(exc, ScorerError) else ScorerError(f"{type(exc).__name__} in scoring")
            logger.error("scoring a batch of %d failed: %s", len(texts), type(exc).__name__)
            self._settle(batch, error)
            return
        self.stats.batches += 1
        self.stats.texts += len(texts)
        self.stats.largest = max(self.stats.largest, len(texts))
        if lane.name == "long":
            self.stats.long_texts += len(texts)
        for request, result in zip(batch, results, strict=True):
            self._remember(request.key, result)
        self._settle(batch, results)

    def _remember(self, key: bytes, result: Scores) -> None:
        if not key:
            return
        self._remembered[key] = result  # a fresh dict, never handed out: callers get copies
        self._remembered.move_to_end(key)
        while len(self._remembered) > self.cache_size:
            self._remembered.popitem(last=False)

    def _settle(self, batch: list[_Request], outcome: list[Scores] | BaseException) -> None:
        """Give every caller waiting on the batch its own copy of its text's scores, or the error."""
        for position, request in enumerate(batch):
            if self._waiting.get(request.key) is request:
                del self._waiting[request.key]
            for future in request.waiters:
                if future.done():  # the caller gave up waiting
                    continue
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome[position].copy())


def _lower_priority() -> None:
    # The long lane's thread yields the CPU to the short lane and the event loop when they need it
    # (Linux sets a nice value per thread); elsewhere it runs at the same priority.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _LONG_LANE_NICE)


def _digest(text: str) -> bytes:
    # Lone surrogates (odd Unicode from a platform) cannot be UTF-8 encoded strictly; they still digest.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _fail_pending(queue: asyncio.Queue[_Request], reason: str) -> None:
    while not queue.empty():
        request = queue.get_nowait()
        for future in request.waiters:
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(ScorerError(reason))
