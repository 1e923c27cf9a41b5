"""Micro-batching: many coroutines ask for scores, the model sees a few batches.

When a lesson ends and forty learners post at once, scoring each message alone wastes the model:
a batch of 32 costs little more than one. :class:`ScoringService` collects the texts that arrive
within a short window (or until the batch is full), scores them together in one worker thread, and
hands each caller its own result. The event loop never waits on the model, and while one batch is
being scored the next one fills up, so batches grow with the load.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from moderation.errors import ScorerError
from moderation.scorers.base import TextScorer

__all__ = ["BatchStats", "ScoringService"]

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchStats:
    """Counts kept by the service, for status and benchmarks."""

    batches: int = 0
    texts: int = 0
    largest: int = 0

    @property
    def mean_batch(self) -> float:
        """The average number of texts per batch."""
        return self.texts / self.batches if self.batches else 0.0


class ScoringService:
    """An asyncio micro-batcher in front of a :class:`TextScorer`.

    Args:
        scorer: the model; its ``score_batch`` runs in one dedicated worker thread.
        max_batch: the most texts scored together.
        window_ms: how long the first text of a batch waits for company.
    """

    def __init__(self, scorer: TextScorer, *, max_batch: int = 32, window_ms: float = 5.0) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if window_ms < 0:
            raise ValueError("window_ms cannot be negative")
        self.scorer = scorer
        self.max_batch = max_batch
        self.window = window_ms / 1000
        self.stats = BatchStats()
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[dict[str, float]]]] | None = None
        self._worker: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        """The model's name."""
        return self.scorer.name

    async def score(self, text: str) -> dict[str, float]:
        """Score one text, batched with whatever else is waiting.

        Raises:
            ScorerError: the model failed on the batch this text was in.
        """
        queue = self._ensure_worker()
        future: asyncio.Future[dict[str, float]] = asyncio.get_running_loop().create_future()
        await queue.put((text, future))
        return await future

    async def close(self) -> None:
        """Stop the worker and its thread; waiting callers get a ScorerError. Scoring again restarts them."""
        if self._worker is not None and self._loop is asyncio.get_running_loop():
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        self._fail_pending("the scoring service was stopped")
        self._worker = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    def _ensure_worker(self) -> asyncio.Queue[tuple[str, asyncio.Future[dict[str, float]]]]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._queue is None or self._worker is None or self._worker.done():
            # A new event loop (or a worker that died): start afresh on this loop.
            self._loop = loop
            self._queue = asyncio.Queue()
            self._worker = loop.create_task(self._run(self._queue), name="classmod-scoring-batcher")
        return self._queue

    async def _run(self, queue: asyncio.Queue[tuple[str, asyncio.Future[dict[str, float]]]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            deadline = loop.time() + self.window
            while len(batch) < self.max_batch:
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
            await self._score(loop, batch)

    async def _score(
        self, loop: asyncio.AbstractEventLoop, batch: list[tuple[str, asyncio.Future[dict[str, float]]]]
    ) -> None:
        texts = [text for text, _ in batch]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="classmod-scoring")
        try:
            results = await loop.run_in_executor(self._executor, self.scorer.score_batch, texts)
            if len(results) != len(texts):
                raise ScorerError(f"{self.scorer.name} gave {len(results)} results for {len(texts)} texts")
        except Exception as exc:
            error = exc if isinstance(exc, ScorerError) else ScorerError(f"{type(exc).__name__} in scoring")
            logger.error("scoring a batch of %d failed: %s", len(texts), type(exc).__name__)
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self.stats.batches += 1
        self.stats.texts += len(texts)
        self.stats.largest = max(self.stats.largest, len(texts))
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def _fail_pending(self, reason: str) -> None:
        queue = self._queue
        while queue is not None and not queue.empty():
            _, future = queue.get_nowait()
            if not future.done() and not future.get_loop().is_closed():
                future.set_exception(ScorerError(reason))
