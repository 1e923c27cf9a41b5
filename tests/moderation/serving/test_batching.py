"""The micro-batcher: concurrent callers share batches and each gets its own result."""

from __future__ import annotations

import asyncio
import os
import random
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from moderation.errors import ScorerError
from moderation.scorers.base import ScoredText, hits_of
from moderation.serving.batching import ScoringService
from moderation.serving.detoxify_scorer import DetoxifyScorer
from moderation.types import Category, SemanticHit


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


@dataclass
class SlowOnLongScorer(EchoScorer):
    """Takes a long time over long texts, as a transformer does, and notes what ran side by side."""

    long_delay: float = 0.5
    running: int = 0
    most_at_once: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if any(len(text) > 100 for text in texts):
                time.sleep(self.long_delay)
            return super().score_batch(texts)
        finally:
            with self.lock:
                self.running -= 1


async def test_a_short_message_does_not_wait_behind_a_long_one() -> None:
    scorer = SlowOnLongScorer(long_delay=0.6)
    service = ScoringService(scorer, max_batch=32, window_ms=5, long_text_chars=100)
    essay = asyncio.create_task(service.score("a long homework paragraph " * 20))
    await asyncio.sleep(0.05)  # the essay is in the model now
    started = time.perf_counter()
    assert (await service.score("thank you"))["length"] == 9.0
    assert time.perf_counter() - started < 0.3, "the chat line waited for the essay"
    assert (await essay)["length"] == float(len("a long homework paragraph " * 20))
    await service.close()
    assert scorer.most_at_once == 2
    assert service.stats.long_texts == 1 and service.stats.texts == 2
    assert {name.rsplit("_", 1)[0] for name in scorer.threads} == {
        "classmod-scoring-long",
        "classmod-scoring-short",
    }


async def test_one_lane_when_long_texts_are_not_split_off() -> None:
    scorer = SlowOnLongScorer(long_delay=0.3)
    service = ScoringService(scorer, max_batch=32, window_ms=5, long_text_chars=None)
    essay = asyncio.create_task(service.score("x" * 500))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    await service.score("thank you")
    assert time.perf_counter() - started >= 0.2  # queued behind the essay, as configured
    await essay
    await service.close()
    assert scorer.most_at_once == 1 and service.stats.long_texts == 0


async def test_shuffled_short_and_long_callers_each_get_their_own_result() -> None:
    scorer = SlowOnLongScorer(long_delay=0.02)
    service = ScoringService(scorer, max_batch=8, window_ms=3, long_text_chars=60)
    rng = random.Random(11)
    texts = [f"{index}: " + "word " * rng.choice([1, 2, 5, 20, 40, 80]) for index in range(120)]

    async def caller(text: str) -> tuple[str, dict[str, float]]:
        await asyncio.sleep(rng.random() * 0.05)
        return text, await service.score(text)

    results = await asyncio.gather(*(caller(text) for text in rng.sample(texts, len(texts))))
    await service.close()
    for text, scores in results:
        assert scores == {"length": float(len(text)), "text_id": float(hash(text) % 10_000)}
    long_ones = [text for text in texts if len(text) > 60]
    assert service.stats.long_texts == len(long_ones) > 0
    assert all(len(batch) <= 4 for batch in scorer.batches if len(batch[0]) > 60), (
        "long lane: a few at a time"
    )


async def test_closing_fails_the_callers_still_waiting_in_either_lane() -> None:
    scorer = SlowOnLongScorer(long_delay=0.3)
    service = ScoringService(scorer, max_batch=1, window_ms=0, long_text_chars=10)
    waiting = [
        asyncio.create_task(service.score(text)) for text in ("x" * 150, "y" * 150, "z" * 150, "a", "b")
    ]
    await asyncio.sleep(0.05)
    await service.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 2)
    # The two in the model when it stopped, and the long ones still queued, are told; none waits for ever.
    assert all(isinstance(outcome, ScorerError) for outcome in outcomes[:3])
    assert all(isinstance(outcome, (dict, ScorerError)) for outcome in outcomes[3:])
    assert await service.score("again") == {"length": 5.0, "text_id": float(hash("again") % 10_000)}
    await service.close()


def test_a_bad_long_text_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="long_text_chars"):
        ScoringService(EchoScorer(), long_text_chars=0)


async def test_the_real_detoxify_scorer_scores_both_lanes_at_once_correctly(
    tiny_scorer: DetoxifyScorer,
) -> None:
    texts = [f"message {index} about homework" for index in range(40)] + [
        f"essay {index}: " + "the cat sat on the mat and you are an idiot " * (10 + index)
        for index in range(6)
    ]
    singles = {text: tiny_scorer.score_batch([text])[0] for text in texts}
    # cache_size=0: every round goes to the model, not to the remembered scores.
    service = ScoringService(tiny_scorer, max_batch=8, window_ms=2, long_text_chars=200, cache_size=0)
    shuffled = random.Random(3).sample(texts, len(texts))
    for _ in range(3):  # several rounds, so the lanes overlap in the tokenizer and the model
        batched = await asyncio.gather(*(service.score(text) for text in shuffled))
        for text, result in zip(shuffled, batched, strict=True):
            for label, value in singles[text].items():
                assert result[label] == pytest.approx(value, abs=1e-5)
    await service.close()
    assert service.stats.long_texts == 18


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are Linux's")
async def test_the_long_lane_yields_the_cpu_to_chat_lines() -> None:
    seen: dict[str, int] = {}

    class Recording(EchoScorer):
        def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
            lane = "long" if len(texts[0]) > 100 else "short"
            seen[lane] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            return super().score_batch(texts)

    service = ScoringService(Recording(), long_text_chars=100)
    await asyncio.gather(service.score("x" * 500), service.score("hello"))
    await service.close()
    assert seen["long"] > seen["short"], "the long lane runs at a lower priority (a higher nice value)"


# --- the same text again ----------------------------------------------------------------------------


def _scored(scorer: EchoScorer) -> list[str]:
    return [text for batch in scorer.batches for text in batch]


async def test_a_text_many_callers_ask_for_at_once_is_scored_once_and_each_gets_a_copy() -> None:
    scorer = EchoScorer(delay=0.02)
    service = ScoringService(scorer, max_batch=4, window_ms=5)
    texts = ["thank you"] * 30 + ["👍"] * 20 + [f"see you at {hour}" for hour in range(10)]
    shuffled = random.Random(3).sample(texts, len(texts))

    results = await asyncio.gather(*(service.score(text) for text in shuffled))
    await service.close()

    assert sorted(_scored(scorer)) == sorted(set(texts)), "each distinct text went to the model once"
    for text, scores in zip(shuffled, results, strict=True):
        assert scores["length"] == float(len(text))
    results[0]["length"] = -1.0  # a caller changing its result changes nobody else's
    assert all(scores["length"] >= 0 for scores in results[1:])
    assert service.stats.reused == len(texts) - len(set(texts))


async def test_recent_texts_are_remembered_up_to_the_cache_size() -> None:
    scorer = EchoScorer()
    service = ScoringService(scorer, window_ms=0, cache_size=2)
    for text in ("ok", "thanks", "ok", "bye", "thanks", "ok"):
        assert (await service.score(text))["length"] == float(len(text))
    await service.close()
    # "ok" and "thanks" come from memory once; "bye" pushes the least recently used ("thanks") out,
    # and then "thanks" pushes "ok" out.
    assert _scored(scorer) == ["ok", "thanks", "bye", "thanks", "ok"]


async def test_cache_size_zero_scores_every_text() -> None:
    scorer = EchoScorer(delay=0.01)
    service = ScoringService(scorer, max_batch=8, window_ms=5, cache_size=0)
    await asyncio.gather(*(service.score("ok") for _ in range(5)))
    await service.score("ok")
    await service.close()
    assert _scored(scorer) == ["ok"] * 6 and service.stats.reused == 0


async def test_forget_drops_remembered_scores() -> None:
    scorer = EchoScorer()
    service = ScoringService(scorer, window_ms=0)
    await service.score("ok")
    service.forget()
    await service.score("ok")
    await service.close()
    assert _scored(scorer) == ["ok", "ok"]


async def test_a_failed_text_is_not_remembered_and_all_its_callers_hear_why() -> None:
    scorer = EchoScorer(fail_on="poison")
    service = ScoringService(scorer, max_batch=8, window_ms=10)
    outcomes = await asyncio.gather(*(service.score("poison") for _ in range(3)), return_exceptions=True)
    assert all(isinstance(outcome, ScorerError) for outcome in outcomes)
    scorer.fail_on = None
    assert (await service.score("poison"))["length"] == 6.0  # asked again, scored again
    await service.close()
    assert _scored(scorer) == ["poison", "poison"]


async def test_callers_sharing_a_text_are_told_when_the_service_stops_and_can_ask_again() -> None:
    scorer = EchoScorer(delay=0.3)
    service = ScoringService(scorer, max_batch=1, window_ms=0)
    busy = asyncio.create_task(service.score("first"))
    await asyncio.sleep(0.05)  # "first" is in the model; the two below share one queued request
    sharing = [asyncio.create_task(service.score("second")) for _ in range(2)]
    await asyncio.sleep(0.01)
    await service.close()
    outcomes = await asyncio.wait_for(asyncio.gather(busy, *sharing, return_exceptions=True), 2)
    assert all(isinstance(outcome, ScorerError) for outcome in outcomes)
    assert (await asyncio.wait_for(service.score("second"), 2))["length"] == 6.0
    await service.close()


async def test_odd_unicode_is_remembered_like_any_text() -> None:
    scorer = EchoScorer()
    service = ScoringService(scorer, window_ms=0)
    odd = "half a pair \ud83d and a null \x00 byte"
    assert (await service.score(odd))["length"] == float(len(odd))
    assert (await service.score(odd))["length"] == float(len(odd))
    await service.close()
    assert _scored(scorer) == [odd]


def test_a_negative_cache_size_is_refused() -> None:
    with pytest.raises(ValueError, match="cache_size"):
        ScoringService(EchoScorer(), cache_size=-1)


async def test_a_malformed_answer_fails_its_callers_and_the_text_can_be_asked_again() -> None:
    class Malformed(EchoScorer):
        broken = True

        def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
            if self.broken:
                return [None for _ in texts]  # type: ignore[misc]
            return super().score_batch(texts)

    scorer = Malformed()
    service = ScoringService(scorer, window_ms=1)
    outcomes = await asyncio.wait_for(
        asyncio.gather(service.score("hi"), service.score("hi"), return_exceptions=True), 2
    )
    assert all(isinstance(outcome, ScorerError) for outcome in outcomes)
    scorer.broken = False
    assert (await asyncio.wait_for(service.score("hi"), 2))["length"] == 2.0
    await service.close()


async def test_the_heads_findings_survive_the_service_fresh_and_remembered() -> None:
    hit = SemanticHit(category=Category.SAFEGUARDING, kind="suicidal", score=0.9, threshold=0.5)

    class HeadsLike:
        name = "heads:test"
        labels = ("head:safeguarding",)

        def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
            return [ScoredText({"head:safeguarding": 0.9}, (hit,)) for _ in texts]

    service = ScoringService(HeadsLike(), window_ms=0)
    try:
        fresh = await service.score("i saved my tablets")
        remembered = await service.score("i saved my tablets")
    finally:
        await service.close()

    assert hits_of(fresh) == hits_of(remembered) == (hit,)
    assert fresh is not remembered
