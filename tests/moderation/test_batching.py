"""The micro-batcher: concurrent callers share batches and each gets its own result."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from moderation.batching import ScoringService
from moderation.errors import ScorerError
from moderation.scorers.detoxify_scorer import DetoxifyScorer


@dataclass
class EchoScorer:
    """Scores a text by its length, so every result says whose it is; records the batches it saw."""

    delay: float = 0.0
    fail_on: str | None = None
    batches: list[list[str]] = field(default_factory=list)
    threads: set[str] = field(default_factory=set)
    name: str = "echo"
    labels: tuple[str, ...] = ("length",)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.batches.append(list(texts))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)  # a model holds its thread; the event loop must not notice
        if self.fail_on is not None and self.fail_on in texts:
            raise ScorerError("the model could not score this batch")
        return [{"length": float(len(text)), "text_id": float(hash(text) % 10_000)} for text in texts]


async def test_concurrent_callers_each_get_their_own_result_in_shared_batches() -> None:
    scorer = EchoScorer(delay=0.01)
    service = ScoringService(scorer, max_batch=16, window_ms=20)
    texts = [f"message number {index} " + "x" * random.Random(index).randint(0, 50) for index in range(100)]
    shuffled = random.Random(7).sample(texts, len(texts))

    async def caller(text: str) -> tuple[str, dict[str, float]]:
        await asyncio.sleep(random.Random(text).random() * 0.02)  # arrive in a jumbled order
        return text, await service.score(text)

    results = await asyncio.gather(*(caller(text) for text in shuffled))
    await service.close()
    for text, scores in results:
        assert scores == {"length": float(len(text)), "text_id": float(hash(text) % 10_000)}
    assert sum(len(batch) for batch in scorer.batches) == 100
    assert len(scorer.batches) < 100 / 2, "texts arriving together are scored together"
    assert max(len(batch) for batch in scorer.batches) <= 16
    assert service.stats.texts == 100 and service.stats.mean_batch > 2


async def test_a_lone_text_waits_only_the_window() -> None:
    service = ScoringService(EchoScorer(), max_batch=32, window_ms=5)
    started = time.perf_counter()
    assert await service.score("hello") == {"length": 5.0, "text_id": float(hash("hello") % 10_000)}
    assert time.perf_counter() - started < 0.5
    await service.close()


async def test_the_event_loop_keeps_running_while_the_model_works() -> None:
    scorer = EchoScorer(delay=0.3)
    service = ScoringService(scorer, max_batch=4, window_ms=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    await service.score("slow")
    ticking.cancel()
    await service.close()
    assert ticks >= 10
    assert all(name.startswith("classmod-scoring") for name in scorer.threads)


async def test_a_failing_batch_fails_only_its_callers_and_the_service_recovers() -> None:
    scorer = EchoScorer(fail_on="poison")
    service = ScoringService(scorer, max_batch=8, window_ms=10)
    outcomes = await asyncio.gather(service.score("poison"), service.score("fine"), return_exceptions=True)
    assert all(isinstance(outcome, ScorerError) for outcome in outcomes)  # they shared the batch
    assert await service.score("later") == {"length": 5.0, "text_id": float(hash("later") % 10_000)}
    await service.close()


async def test_batch_size_is_capped() -> None:
    scorer = EchoScorer(delay=0.05)
    service = ScoringService(scorer, max_batch=5, window_ms=50)
    await asyncio.gather(*(service.score(str(index)) for index in range(23)))
    await service.close()
    assert max(len(batch) for batch in scorer.batches) == 5


def test_it_survives_being_used_from_one_event_loop_after_another() -> None:
    service = ScoringService(EchoScorer(), window_ms=1)
    for _ in range(3):
        assert asyncio.run(service.score("again"))["length"] == 5.0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        ScoringService(EchoScorer(), max_batch=0)
    with pytest.raises(ValueError, match="window_ms"):
        ScoringService(EchoScorer(), window_ms=-1)


async def test_with_the_real_detoxify_scorer_batched_results_equal_singles(
    tiny_scorer: DetoxifyScorer,
) -> None:
    texts = ["hello class", "you are an idiot", "see you at 10:30", "word " * 200, ""]
    singles = [tiny_scorer.score_batch([text])[0] for text in texts]
    service = ScoringService(tiny_scorer, max_batch=8, window_ms=20)
    batched = await asyncio.gather(*(service.score(text) for text in reversed(texts)))
    await service.close()
    for single, result in zip(singles, reversed(batched), strict=True):
        assert result.keys() == single.keys()
        for label in single:
            assert result[label] == pytest.approx(single[label], abs=1e-5)
