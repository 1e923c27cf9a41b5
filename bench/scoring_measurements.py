"""The measurements, each run in a child process: plain Detoxify, and the scoring service per engine."""

from __future__ import annotations

import asyncio
import io
import random
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.scoring_machine import maxrss_mb, reset_peak_rss, status_mb, trim_memory
from moderation.serving.batching import DEFAULT_CACHE_SIZE

LONG_BYTES = 1000


MAX_BATCH = 32


WINDOW_MS = 5.0


RATES = (20.0, 50.0)


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def stratified(texts: Sequence[str], step: int, offset: int = 0) -> list[int]:
    """Every ``step``-th short and every ``step``-th long message, in stream order: the same mix."""
    long_ones = [i for i, text in enumerate(texts) if len(text.encode("utf-8")) >= LONG_BYTES]
    short_ones = [i for i, text in enumerate(texts) if len(text.encode("utf-8")) < LONG_BYTES]
    return sorted(long_ones[offset::step] + short_ones[offset::step])


def _load_plain_detoxify(bundle: Path, device: str = "cpu") -> Any:
    """Detoxify as a user loads it: the same patch as DetoxifyScorer (model_type -> the bundle's hf/)."""
    import detoxify
    import torch

    loaded = torch.load(bundle / "checkpoint.ckpt", map_location="cpu", weights_only=False)
    loaded["config"]["arch"]["args"]["model_type"] = str((bundle / "hf").resolve())
    buffer = io.BytesIO()
    torch.save(loaded, buffer)
    del loaded
    buffer.seek(0)
    return detoxify.Detoxify(
        checkpoint=buffer, device=device, huggingface_config_path=str((bundle / "hf").resolve())
    )


def child_baseline(
    bundle: Path, texts: list[str], indices: list[int], threads: int | None, device: str = "cpu"
) -> dict[str, Any]:
    import numpy as np
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    import detoxify  # noqa: F401  (imported before measuring the imports' RSS, as in the engine runs)

    from moderation.serving.detoxify_scorer import DetoxifyScorer  # noqa: F401

    if threads is not None:
        torch.set_num_threads(threads)
    imports = status_mb("VmRSS")
    started = time.perf_counter()
    model = _load_plain_detoxify(bundle, device)
    load_s = time.perf_counter() - started
    load_peak = maxrss_mb()
    trim_memory()
    after_load = status_mb("VmRSS")
    reset = reset_peak_rss()
    labels = list(model.class_names)
    sample = [texts[i] for i in indices]
    for text in sample[:3]:
        model.predict([text])
    scores = np.full((len(texts), len(labels)), np.nan)
    each: list[float] = []
    began = time.perf_counter()
    for index, text in zip(indices, sample, strict=True):
        start = time.perf_counter()
        result = model.predict([text])
        each.append(time.perf_counter() - start)
        scores[index] = [result[label] for label in labels]
    elapsed = time.perf_counter() - began
    tokens = [len(model.tokenizer(text, truncation=False, verbose=False)["input_ids"]) for text in texts]
    return {
        "scores": scores,
        "result": {
            "messages": len(sample),
            "seconds": elapsed,
            "msgs_per_s": len(sample) / elapsed,
            "p50_ms": percentile(each, 0.5) * 1000,
            "p95_ms": percentile(each, 0.95) * 1000,
            "imports_mb": imports,
            "load_s": load_s,
            "load_peak_mb": load_peak,
            "after_load_mb": after_load,
            "serving_peak_mb": maxrss_mb() if reset else float("nan"),
            "torch_threads": torch.get_num_threads(),
            "labels": labels,
            "tokens": tokens,
        },
    }


class _Tracked:
    """Passes batches to the scorer, timing each call and telling when no call is in flight.

    The service's two lanes may call it from two threads at once.
    """

    def __init__(self, scorer: Any) -> None:
        self._scorer = scorer
        self.calls: list[tuple[int, bool, float]] = []  # (texts, holds a 1-3 kB message, seconds)
        self.idle = threading.Event()
        self.idle.set()
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def name(self) -> str:
        return str(self._scorer.name)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self._scorer.labels)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        with self._lock:
            self._in_flight += 1
            self.idle.clear()
        started = time.perf_counter()
        try:
            return list(self._scorer.score_batch(texts))
        finally:
            long_one = any(len(text.encode("utf-8")) >= LONG_BYTES for text in texts)
            with self._lock:
                self.calls.append((len(texts), long_one, time.perf_counter() - started))
                self._in_flight -= 1
                if not self._in_flight:
                    self.idle.set()


async def _burst(service: Any, tracked: _Tracked, texts: list[str]) -> dict[str, Any]:
    service.forget()  # each run starts with no remembered scores: it reuses only its own repeats
    first = len(tracked.calls)
    reused = service.stats.reused
    started = time.perf_counter()
    results = await asyncio.gather(*(service.score(text) for text in texts))
    elapsed = time.perf_counter() - started
    calls = tracked.calls[first:]
    with_long = [seconds for _, long_one, seconds in calls if long_one]
    without = [seconds for _, long_one, seconds in calls if not long_one]
    return {
        "messages": len(texts),
        "seconds": elapsed,
        "reused": service.stats.reused - reused,
        "results": list(results),
        "batches": len(calls),
        "mean_batch": len(texts) / len(calls) if calls else 0.0,
        "batches_with_long": len(with_long),
        "mean_s_with_long": statistics.fmean(with_long) if with_long else 0.0,
        "mean_s_without_long": statistics.fmean(without) if without else 0.0,
    }


async def _steady(
    service: Any, tracked: _Tracked, texts: list[str], rate: float, seed: int, grace_s: float
) -> dict[str, Any]:
    """Seeded Poisson arrivals at ``rate``/s; latency from each message's scheduled arrival to its result.

    An engine that falls behind (a message waits more than ``grace_s``) stops the run: no more
    arrivals, the service is stopped, and unfinished messages count with the wait so far (a lower bound).
    """
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    service.forget()
    first = len(tracked.calls)
    reused = service.stats.reused
    finished: dict[int, float] = {}

    async def one(position: int, text: str, due: float) -> None:
        await service.score(text)
        finished[position] = time.perf_counter() - due

    started = time.perf_counter()
    due = 0.0
    submitted: list[tuple[float, asyncio.Task[None]]] = []
    oldest = 0
    fell_behind = False
    for position, text in enumerate(texts):
        due += rng.expovariate(rate)
        delay = started + due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        while oldest < len(submitted) and submitted[oldest][1].done():
            oldest += 1
        if oldest < len(submitted) and time.perf_counter() - submitted[oldest][0] > grace_s:
            fell_behind = True
            break
        submitted.append((started + due, asyncio.create_task(one(position, text, started + due))))
    tasks = [task for _, task in submitted]
    last_due = submitted[-1][0] if submitted else started
    _, pending = await asyncio.wait(tasks, timeout=max(0.0, last_due + grace_s - time.perf_counter()))
    if pending:
        fell_behind = True
        await service.close()
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await loop.run_in_executor(None, tracked.idle.wait)  # the batch in flight, if any
    now = time.perf_counter()
    latencies = [finished.get(position, now - at) for position, (at, _) in enumerate(submitted)]
    calls = tracked.calls[first:]
    return {
        "rate": rate,
        "messages": len(texts),
        "submitted": len(submitted),
        "completed": len(finished),
        "fell_behind": fell_behind,
        "arrivals_s": last_due - started,
        "seconds": now - started,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "max_ms": max(latencies, default=0.0) * 1000,
        "batches": len(calls),
        "mean_batch": statistics.fmean(size for size, _, _ in calls) if calls else 0.0,
        "reused": service.stats.reused - reused,
    }


def child_engine(
    bundle: Path,
    engine: str,
    texts: list[str],
    burst_sample: list[int],
    steady_set: list[int],
    *,
    threads: int | None,
    device: str = "cpu",
    budget_s: float,
    burst_repeats: int = 1,
    full_burst: bool,
    all_scores: bool,
    grace_s: float,
    cache_size: int = DEFAULT_CACHE_SIZE,
) -> dict[str, Any]:
    import numpy as np
    from transformers.utils import logging as hf_logging

    from moderation.serving.batching import ScoringService
    from moderation.serving.detoxify_scorer import DetoxifyScorer

    if engine.startswith("torch"):
        import torch  # noqa: F401  (imported before measuring the imports' RSS, as in the baseline)
    # The ONNX engines start as the bot does: from the engine cache, without torch (the warm start).
    hf_logging.set_verbosity_error()
    imports = status_mb("VmRSS")
    started = time.perf_counter()
    scorer = DetoxifyScorer(None, bundle=bundle, engine=engine, threads=threads, device=device)
    load_s = time.perf_counter() - started
    load_peak = maxrss_mb()
    trim_memory()
    after_load = status_mb("VmRSS")
    reset = reset_peak_rss()
    labels = list(scorer.labels)
    scores = np.full((len(texts), len(labels)), np.nan)
    tracked = _Tracked(scorer)
    service = ScoringService(tracked, max_batch=MAX_BATCH, window_ms=WINDOW_MS, cache_size=cache_size)

    def keep(indices: Sequence[int], results: list[dict[str, float]]) -> None:
        for index, result in zip(indices, results, strict=True):
            scores[index] = [result[label] for label in labels]

    async def measure() -> dict[str, Any]:
        await _burst(service, tracked, texts[:8])  # warm-up
        burst = await _burst(service, tracked, [texts[i] for i in burst_sample])
        keep(burst_sample, burst.pop("results"))
        burst["sampled"] = True
        burst["projected_full_s"] = burst["seconds"] * len(texts) / len(burst_sample)
        if full_burst and burst["projected_full_s"] <= budget_s:
            # Several bursts, the median reported: one run on a shared 2-core machine varies by 10-20%.
            bursts = [await _burst(service, tracked, texts) for _ in range(max(1, burst_repeats))]
            keep(range(len(texts)), bursts[0]["results"])
            for each in bursts:
                each.pop("results")
            burst = sorted(bursts, key=lambda each: each["seconds"])[len(bursts) // 2]
            burst["all_seconds"] = [each["seconds"] for each in bursts]
            burst["sampled"] = False
        burst["msgs_per_s"] = burst["messages"] / burst["seconds"]
        steady_texts = [texts[i] for i in steady_set]
        steady = [
            await _steady(service, tracked, steady_texts, rate, seed=int(rate), grace_s=grace_s)
            for rate in RATES
        ]
        await service.close()
        return {"burst": burst, "steady": steady}

    measured = asyncio.run(measure())
    serving_peak = maxrss_mb() if reset else float("nan")
    # Scores for the messages the burst did not cover, for the drift over all 1,000 (not timed):
    # sorted by length, so long messages share batches with long ones.
    missing = [i for i in range(len(texts)) if np.isnan(scores[i, 0])] if all_scores else []
    missing.sort(key=lambda i: len(texts[i]))
    for begin in range(0, len(missing), MAX_BATCH):
        chunk = missing[begin : begin + MAX_BATCH]
        keep(chunk, scorer.score_batch([texts[i] for i in chunk]))
    return {
        "scores": scores,
        "result": {
            "engine": engine,
            "used": scorer.engine,
            "probe_drift": scorer.engine_drift,
            "note": scorer.engine_note,
            "imports_mb": imports,
            "load_s": load_s,
            "load_peak_mb": load_peak,
            "after_load_mb": after_load,
            "serving_peak_mb": serving_peak,
            "torch_threads": _torch_threads(),
            "labels": labels,
            "long_lane_texts": service.stats.long_texts,
            **measured,
        },
    }


def _torch_threads() -> int | None:
    """torch's thread count, or ``None`` when this process never imported torch."""
    torch = sys.modules.get("torch")
    return int(torch.get_num_threads()) if torch is not None else None


def child_prepare(bundle: Path, threads: int | None) -> dict[str, Any]:
    """Export and quantise the ONNX engines once, into the bundle's .engines/ cache."""
    from transformers.utils import logging as hf_logging

    from moderation.serving.detoxify_scorer import DetoxifyScorer

    hf_logging.set_verbosity_error()
    started = time.perf_counter()
    scorer = DetoxifyScorer(None, bundle=bundle, engine="onnx-int8", threads=threads)
    return {
        "result": {
            "seconds": time.perf_counter() - started,
            "used": scorer.engine,
            "note": scorer.engine_note,
        }
    }


def child_headcheck(bundle: Path, threads: int | None) -> dict[str, Any]:
    """Load a checkpoint with the real unbiased head (16 outputs) with a non-torch engine."""
    import torch
    from transformers.utils import logging as hf_logging

    from moderation.serving.detoxify_scorer import DetoxifyScorer

    hf_logging.set_verbosity_error()
    scorer = DetoxifyScorer(None, bundle=bundle, engine="torch-int8", threads=threads)
    loaded = torch.load(bundle / "checkpoint.ckpt", map_location="cpu", weights_only=False)
    return {
        "result": {
            "asked": "torch-int8",
            "used": scorer.engine,
            "note": scorer.engine_note,
            "labels": len(scorer.labels),
            "outputs": int(loaded["config"]["arch"]["args"]["num_classes"]),
        }
    }
