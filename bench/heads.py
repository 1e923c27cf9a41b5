"""What the policy heads cost (issue 12): throughput, the scoring service's time, memory, and where it goes.

Run it with ``.venv/bin/python bench/heads.py`` (or ``make bench-heads``). On the messages of
``bench/messages.py`` (its seeded generator), each measurement in a fresh process:

a. ``classmod check --json`` end to end without Detoxify (the helpers of ``bench/check_speed.py``),
   ``CLASSMOD_HEADS=true`` against ``false``: start-up (a one-message run) apart from the steady burst;
b. the scoring service (``ScoringService``, batches of 32, 5 ms window) on a Detoxify-sized model (random
   weights, albert-base shape, built once by ``bench/scoring.py``) alone against
   ``ModelStack([detoxify, semantic])``, per engine: a burst, the median of ``--repeats``;
c. the peak RSS of a process that loads the scorer as the bot does (``bot.app.load_scorer``) and scores
   ``--rss-messages`` messages (1,000: what a running bot settles at, not only its start), and its RSS
   after them, heads on and off, with and without Detoxify;
d. where the heads' time goes in ``classmod check``'s path (tokenizer, encoder passes, hashed n-grams,
   the rest of the heads, the engine) on the encoder engine ``auto`` chose, and each encoder engine
   (torch, onnx, onnx-int8) side by side: speed, lowest cosine and largest heads' probability difference
   from torch, messages whose flags change.

The encoder's ONNX exports are built once per model folder before anything is timed, so start-up is
the warm start the bot has from its second start on.

It prints Markdown tables and writes ``bench/results/heads-<date>.json``. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import scoring_bundles, scoring_measurements  # noqa: E402
from bench.check_speed import _cli_env, bench_cli, machine_info  # noqa: E402
from bench.messages import DEFAULT_SEED, generate_messages  # noqa: E402
from bench.scoring_machine import maxrss_mb, status_mb  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "heads"
RESULTS = ROOT / "bench" / "results"
OUTPUTS = 7  # the unbiased labels, as bench/scoring.py's default bundle
TARGET_MSGS_PER_S = 300.0
TARGET_ADDED_PERCENT = 25.0
TARGET_ADDED_MB = 150.0
HEADS_SCORER = "heads:all-MiniLM-L6-v2"


def plain_model_dir() -> Path:
    """A model folder with the sentence encoder and no Detoxify bundle (unpacked once)."""
    from moderation.serving.sentence_encoder import unpack_default_encoder

    prepare_encoder_engines(unpack_default_encoder(CACHE / "no-detoxify"))
    return CACHE / "no-detoxify"


def prepare_encoder_engines(encoder: Path) -> None:
    """Export the encoder's ONNX engines and store torch's probe embeddings, as the bot's first start does."""
    from bot.app import _probe_texts
    from moderation.heads.model import default_heads_dir, load_heads
    from moderation.serving.detoxify_bundle import ENGINE_CACHE_DIR
    from moderation.serving.encoder_engines import load_encoder

    heads = load_heads(default_heads_dir())
    load_encoder(encoder, heads=heads, probe_texts=_probe_texts(), cache_dir=encoder / ENGINE_CACHE_DIR)


def detoxify_model_dir() -> Path:
    """bench/scoring.py's random-weight unbiased-small bundle, its ONNX engines and the encoder beside it."""
    from moderation.serving.sentence_encoder import unpack_default_encoder

    variant = scoring_bundles.VARIANTS["unbiased-small"]
    if not scoring_bundles.bundle_is_built(variant, OUTPUTS):
        scoring_bundles.build_bundle(variant, OUTPUTS)
    bundle = scoring_bundles.bundle_dir(variant.name, OUTPUTS)
    if not scoring_bundles.engines_cached(bundle):
        scoring_measurements.child_prepare(bundle, None)
    prepare_encoder_engines(unpack_default_encoder(bundle.parent))
    return bundle.parent


def load_now() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def run_child(kind: str, env: dict[str, str], cwd: Path, **options: Any) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--options",
        json.dumps(options),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"the {kind} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- b. the scoring service -----------------------------------------------------------------------


def child_service(count: int, seed: int, repeats: int) -> dict[str, Any]:
    from transformers.utils import logging as hf_logging

    from bot.app import load_semantic
    from bot.config import load_settings
    from moderation.policy import load_policy
    from moderation.scorers.stack import ModelStack
    from moderation.serving.batching import ScoringService
    from moderation.serving.detoxify_scorer import DetoxifyScorer

    hf_logging.set_verbosity_error()
    settings = load_settings()
    bundle = settings.model_dir / "unbiased-small"
    detoxify = scoring_measurements._Tracked(
        DetoxifyScorer(None, bundle=bundle, engine=settings.model_engine)
    )
    parts = [detoxify]
    if settings.heads:
        parts.append(
            scoring_measurements._Tracked(load_semantic(settings, load_policy(settings.policy_file)))
        )
    service = ScoringService(ModelStack(parts), max_batch=32, window_ms=5.0)
    texts = [item["text"] for item in generate_messages(count, seed)]

    async def measure() -> list[dict[str, Any]]:
        await scoring_measurements._burst(service, detoxify, texts[:32])  # warm-up
        runs = []
        for _ in range(repeats):
            marks = [len(part.calls) for part in parts]
            run = await scoring_measurements._burst(service, detoxify, texts)
            run.pop("results")
            run["part_s"] = [
                sum(s for _, _, s in part.calls[mark:]) for part, mark in zip(parts, marks, strict=True)
            ]
            runs.append(run)
        await service.close()
        return runs

    runs = sorted(asyncio.run(measure()), key=lambda run: run["seconds"])
    median = runs[len(runs) // 2]
    return {
        "engine": settings.model_engine,
        "messages": count,
        "all_seconds": [run["seconds"] for run in runs],
        "seconds": median["seconds"],
        "ms_per_msg": median["seconds"] * 1000 / count,
        "msgs_per_s": count / median["seconds"],
        "reused": median["reused"],
        "batches": median["batches"],
        "detoxify_s": median["part_s"][0],
        "heads_s": median["part_s"][1] if settings.heads else 0.0,
    }


# --- c. memory -------------------------------------------------------------------------------------


def child_rss(count: int, seed: int, encoder_engine: str = "auto") -> dict[str, Any]:
    from bot.app import load_scorer
    from bot.config import load_settings
    from moderation.policy import load_policy

    imports_mb = status_mb("VmRSS")
    settings = load_settings().model_copy(update={"encoder_engine": encoder_engine})
    started = time.perf_counter()
    loaded = load_scorer(settings, load_policy(settings.policy_file))
    load_s = time.perf_counter() - started
    load_peak = maxrss_mb()
    texts = [item["text"] for item in generate_messages(count, seed)]
    for begin in range(0, len(texts), 32):
        loaded.scorer.score_batch(texts[begin : begin + 32])
    return {
        "scorer": loaded.scorer.name,
        "imports_mb": imports_mb,
        "load_s": load_s,
        "load_peak_mb": load_peak,
        "peak_mb": maxrss_mb(),
        "after_mb": status_mb("VmRSS"),
    }


# --- d. where the time goes ------------------------------------------------------------------------


class _Clock:
    """Wraps a callable and adds up the seconds spent in it (and the tokens it was given, real and padded)."""

    def __init__(self, wrapped: Any) -> None:
        self.wrapped, self.seconds, self.tokens, self.padded = wrapped, 0.0, 0, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 2 and hasattr(args[1], "size"):  # the forward pass: (input_ids, attention_mask)
            self.tokens += int(args[1].sum())
            self.padded += int(args[1].size)
        started = time.perf_counter()
        try:
            return self.wrapped(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class _TokenizerClock:
    """The Rust tokenizer, its ``encode_batch`` and ``encode`` (a long message's length check) timed.

    ``batches`` counts only ``encode_batch``, the part inside the encoder's own ``encode``.
    """

    def __init__(self, wrapped: Any) -> None:
        self.wrapped, self.clock, self.batches = wrapped, _Clock(wrapped.encode_batch), 0.0

    def encode_batch(self, texts: list[str]) -> Any:
        before = self.clock.seconds
        try:
            return self.clock(texts)
        finally:
            self.batches += self.clock.seconds - before

    def encode(self, text: str) -> Any:
        started = time.perf_counter()
        try:
            return self.wrapped.encode(text)
        finally:
            self.clock.seconds += time.perf_counter() - started


class _EncoderClock:
    """The sentence encoder with its ``encode`` timed by the wall clock.

    Its passes may run side by side (one per core), so the seconds inside each forward call add up to
    more than the time they took: the wall time of ``encode``, less its tokenising, is the passes'.
    """

    def __init__(self, wrapped: Any) -> None:
        self.wrapped, self.seconds = wrapped, 0.0

    def encode(self, texts: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.wrapped.encode(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


def _score_all(scorer: Any, texts: list[str]) -> tuple[float, list[Any]]:
    started, results = time.perf_counter(), []
    for begin in range(0, len(texts), 32):  # classmod check's batch
        results += scorer.score_batch(texts[begin : begin + 32])
    return time.perf_counter() - started, results


def child_profile(count: int, seed: int) -> dict[str, Any]:
    import numpy as np

    from bot.app import _load_semantic, _probe_texts, encoder_folder
    from bot.config import load_settings
    from bot.views import message_for_check
    from moderation.engine import assess
    from moderation.heads.features import sentence_spans
    from moderation.policy import load_policy
    from moderation.scorers.base import hits_of
    from moderation.scorers.semantic import _MAX_ENCODED_CHARS, SemanticScorer
    from moderation.serving.detoxify_bundle import ENGINE_CACHE_DIR
    from moderation.serving.encoder_engines import load_encoder
    from moderation.types import AuthorHistory, ModelScores, Role

    settings = load_settings()
    policy = load_policy(settings.policy_file)
    semantic, prepared = _load_semantic(settings, policy)
    items = generate_messages(count, seed)
    texts = [item["text"] for item in items]
    _score_all(semantic, texts[:64])  # warm-up
    encoder, features = semantic.encoder, semantic.heads.features
    tokenizer = _TokenizerClock(encoder.tokenizer)
    forward = _Clock(encoder.forward)  # counts the tokens; its seconds overlap when passes run side by side
    clocks = {
        "tokenizer": tokenizer.clock,
        "hashed n-grams (HashingVectorizer)": _Clock(features._counts),
        "heads (features + linear + Platt)": _Clock(semantic.heads.probabilities),
    }
    timed = _EncoderClock(dataclasses.replace(encoder, tokenizer=tokenizer, forward=forward))
    semantic.encoder = timed  # type: ignore[assignment]
    features._counts = clocks["hashed n-grams (HashingVectorizer)"]
    semantic.heads.probabilities = clocks["heads (features + linear + Platt)"]  # type: ignore[method-assign]
    total_s, _ = _score_all(semantic, texts)
    semantic.encoder = encoder
    del features._counts, semantic.heads.probabilities  # back to the class's own methods
    now = datetime.now(UTC)
    engines: dict[str, dict[str, Any]] = {}
    folder = encoder_folder(settings)
    sample = texts[: min(len(texts), 400)]
    reference: Any = None
    torch_results: list[Any] = []
    for engine in ("torch", "onnx", "onnx-int8"):
        candidate = load_encoder(
            folder,
            engine=engine,
            heads=semantic.heads,
            probe_texts=_probe_texts(),
            max_drift=1.0,  # measured here, not refused: the bot refuses by settings.model_max_drift
            cache_dir=settings.model_engine_cache or folder / ENGINE_CACHE_DIR,
            threads=settings.model_threads,
        )
        scorer = SemanticScorer(candidate.encoder, semantic.heads, semantic.thresholds)
        _score_all(scorer, texts[:64])
        seconds, results = _score_all(scorer, texts)
        embeddings = candidate.encoder.encode(sample)
        probabilities = semantic.heads.probabilities(embeddings, sample)
        if reference is None:
            reference, torch_results, torch_probabilities = embeddings, results, probabilities
        cosines = np.sum(reference.astype(np.float64) * embeddings, axis=1)
        fired = [
            [{hit.category for hit in hits_of(result) if hit.score >= hit.threshold} for result in runs]
            for runs in (torch_results, results)
        ]
        engines[engine] = {
            "seconds": seconds,
            "probe_drift": candidate.drift,
            "min_cosine": float(np.min(cosines)),
            "mean_cosine": float(np.mean(cosines)),
            "max_probability_difference": float(np.max(np.abs(probabilities - torch_probabilities))),
            "messages_whose_flags_change": sum(a != b for a, b in zip(*fired, strict=True)),
        }
    _, scored = _score_all(semantic, texts)
    started = time.perf_counter()
    for item, result in zip(items, scored, strict=True):
        model = ModelScores(scorer=semantic.name, labels=result, hits=hits_of(result))
        assess(message_for_check(item["text"], Role(item["role"]), now), AuthorHistory(), policy, now, model)
    assess_s = time.perf_counter() - started
    stages = {name: clock.seconds for name, clock in clocks.items()}
    passes = f"encoder passes ({encoder.engine}, {getattr(encoder.forward, 'callers', 1)} at once)"
    stages[passes] = timed.seconds - tokenizer.batches
    heads_s = stages.pop("heads (features + linear + Platt)")
    stages["rest of the heads (features, linear, Platt)"] = (
        heads_s - stages["hashed n-grams (HashingVectorizer)"]
    )
    stages["rest of SemanticScorer (spans, evidence)"] = total_s - sum(stages.values())
    stages["engine (assess)"] = assess_s
    pieces = 0
    for text in texts:
        if text.strip():
            sentences = sentence_spans(text)
            pieces += len(sentences) + (not sentences or encoder.reads_whole(text[:_MAX_ENCODED_CHARS]))
    return {
        "messages": count,
        "pieces": pieces,
        "tokens": forward.tokens,
        "padded_tokens": forward.padded,
        "encoder_engine": encoder.engine,
        "encoder_engine_note": prepared.note,
        "threads": settings.model_threads,
        "stages_s": stages,
        "heads_s": total_s,
        "in_process_msgs_per_s": count / (total_s + assess_s),
        "engines": engines,
    }


CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    "service": child_service,
    "rss": child_rss,
    "profile": child_profile,
}


# --- the run ---------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict[str, Any]:
    plain_dir, detoxify_dir = plain_model_dir(), detoxify_model_dir()
    results: dict[str, Any] = {"machine": machine_info(), "load_before": load_now(), "seed": args.seed}
    results["rss_messages"] = args.rss_messages
    items = generate_messages(args.messages, args.seed)
    with tempfile.TemporaryDirectory(prefix="classmod-bench-heads-") as scratch_name:
        scratch = Path(scratch_name)

        def child(
            kind: str, model_dir: Path, heads: bool, engine: str = "auto", **options: Any
        ) -> dict[str, Any]:
            on = str(heads).lower()
            env = _cli_env(
                model_dir, scratch, model_dir == detoxify_dir, CLASSMOD_HEADS=on, CLASSMOD_MODEL_ENGINE=engine
            )
            return {"heads": heads, **run_child(kind, env, scratch, seed=args.seed, **options)}

        print("a. classmod check --json, heads off and on...", file=sys.stderr)
        results["cli"] = []
        # Heads off, on (the encoder engine auto picks), and on with the encoder on torch as before.
        for heads, encoder_engine in ((False, "auto"), (True, "auto"), (True, "torch")):
            expect = HEADS_SCORER if heads else "fallback:alt-profanity-check"
            on = {"CLASSMOD_HEADS": str(heads).lower(), "CLASSMOD_ENCODER_ENGINE": encoder_engine}
            run = bench_cli(
                items,
                plain_dir,
                scratch,
                expect_scorer=expect,
                require_detoxify=False,
                startup_runs=args.startup_runs,
                extra_env=on,
            )
            results["cli"].append({"heads": heads, "encoder_engine": encoder_engine, **run})
        print("b. the scoring service, Detoxify-sized, alone and with the heads...", file=sys.stderr)
        results["service"] = [
            child("service", detoxify_dir, heads, engine, count=args.service_messages, repeats=args.repeats)
            for engine in args.engines
            for heads in (False, True)
        ]
        print("c. peak RSS of loading the scorer...", file=sys.stderr)
        results["rss"] = [
            child("rss", model_dir, heads, engine, count=args.rss_messages)
            for model_dir, engine in ((plain_dir, "auto"), (detoxify_dir, args.engines[0]))
            for heads in (False, True)
        ]
        results["rss_torch_encoder"] = child(
            "rss", plain_dir, True, "auto", count=args.rss_messages, encoder_engine="torch"
        )
        print("d. where the heads' time goes...", file=sys.stderr)
        results["profile"] = child("profile", plain_dir, True, count=args.messages)
    results["load_after"] = load_now()
    return results


def _verdict(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def render(results: dict[str, Any], began: float) -> str:
    machine = results["machine"]
    count = results.get("rss_messages", 64)
    lines = [
        f"Policy heads benchmark, {machine['when']}: {machine['cpu']} ({machine.get('vectors', '?')}), "
        f"{machine['usable_cores']} cores, "
        f"torch {machine['torch']} ({machine['torch_threads']} threads); load average (1, 5, 15 min) "
        f"{results['load_before']} before, {results['load_after']} after; "
        f"{time.perf_counter() - began:.0f} s.",
        "",
        f"a. `classmod check --json`, no Detoxify, {results['cli'][0]['messages']} generated messages "
        f"(bench/messages.py, seed {results['seed']}), batches of {results['cli'][0]['batch']}",
        "",
        "| CLASSMOD_HEADS | encoder engine | scorer | start-up s | burst s | msgs/s steady | ms/msg steady "
        "| msgs/s overall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {str(run['heads']).lower()} | {run['encoder_engine'] if run['heads'] else ''} | "
        f"{run['scorer']} | {run['startup_s']:.2f} | "
        f"{run['wall_s'] - run['first_line_s']:.2f} | {run['msgs_per_s']:,.0f} | {run['ms_per_msg']:.2f} | "
        f"{run['msgs_per_s_overall']:,.0f} |"
        for run in results["cli"]
    ]
    rate = results["cli"][1]["msgs_per_s"]
    lines += [
        "",
        f"Target ≥ {TARGET_MSGS_PER_S:.0f} messages/s with heads: {_verdict(rate >= TARGET_MSGS_PER_S)}",
    ]
    lines += [
        "",
        f"b. ScoringService (max_batch 32, 5 ms window), Detoxify-sized random-weight unbiased-small, "
        f"burst of {results['service'][0]['messages']} messages, "
        f"median of {len(results['service'][0]['all_seconds'])}",
        "",
        "| engine | scorer | ms/msg | msgs/s | Detoxify s | heads s | added (wall) | "
        "added (heads s / Detoxify s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for alone, stacked in zip(results["service"][::2], results["service"][1::2], strict=True):
        added = (stacked["ms_per_msg"] / alone["ms_per_msg"] - 1) * 100
        share = stacked["heads_s"] / stacked["detoxify_s"] * 100  # the same run: robust to a busy machine
        stacked["added_percent"], stacked["heads_share_percent"] = added, share
        lines.append(
            f"| {alone['engine']} | Detoxify | {alone['ms_per_msg']:.2f} | {alone['msgs_per_s']:,.0f} | "
            f"{alone['detoxify_s']:.2f} | | | |"
        )
        lines.append(
            f"| {stacked['engine']} | ModelStack([Detoxify, semantic]) | {stacked['ms_per_msg']:.2f} | "
            f"{stacked['msgs_per_s']:,.0f} | {stacked['detoxify_s']:.2f} | {stacked['heads_s']:.2f} | "
            f"{added:+.0f}% ({_verdict(added <= TARGET_ADDED_PERCENT)}) | "
            f"{share:+.0f}% ({_verdict(share <= TARGET_ADDED_PERCENT)}) |"
        )
    lines += [
        "",
        f"c. RSS of a process that loads the scorer (bot.app.load_scorer) and scores {count} messages",
        "",
        "| scorer | heads | load s | imports MB | peak MB | after MB | added: peak | added: after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for off, on in zip(results["rss"][::2], results["rss"][1::2], strict=True):
        on["added_mb"] = on["peak_mb"] - off["peak_mb"]
        on["added_after_mb"] = on["after_mb"] - off["after_mb"]
        for run in (off, on):
            added = (
                f"+{on['added_mb']:.0f} MB ({_verdict(on['added_mb'] <= TARGET_ADDED_MB)}) | "
                f"+{on['added_after_mb']:.0f} MB"
            )
            lines.append(
                f"| {run['scorer']} | {'on' if run['heads'] else 'off'} | "
                f"{run['load_s']:.2f} | {run['imports_mb']:.0f} | {run['peak_mb']:.0f} | "
                f"{run['after_mb']:.0f} | {added if run is on else ' |'} |"
            )
    torch_rss = results["rss_torch_encoder"]
    lines.append(
        f"| {torch_rss['scorer']}, encoder on torch (as before) | on | {torch_rss['load_s']:.2f} | "
        f"{torch_rss['imports_mb']:.0f} | {torch_rss['peak_mb']:.0f} | {torch_rss['after_mb']:.0f} | "
        f"+{torch_rss['peak_mb'] - results['rss'][0]['peak_mb']:.0f} MB | "
        f"+{torch_rss['after_mb'] - results['rss'][0]['after_mb']:.0f} MB |"
    )
    profile = results["profile"]
    per_message = {
        name: seconds * 1000 / profile["messages"] for name, seconds in profile["stages_s"].items()
    }
    total = sum(per_message.values())
    lines += [
        "",
        f"d. Where the time goes, in process, heads on, no Detoxify ({profile['messages']} messages, "
        f"{profile['pieces']} pieces encoded (whole, and sentences of long ones), "
        f"encoder engine {profile['encoder_engine']}; "
        f"{profile['in_process_msgs_per_s']:,.0f} msgs/s without the CLI)",
        "",
        "| stage | ms/msg | share |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {ms:.3f} | {ms / total:.0%} |" for name, ms in per_message.items()]
    if results["cli"][1]["ms_per_msg"] > total:
        lines.append(
            f"| classmod check beyond these (JSON, pipes) | {results['cli'][1]['ms_per_msg'] - total:.3f} | |"
        )
    lines += [
        "",
        f"Tokens the encoder read: {profile['tokens']:,} real, {profile['padded_tokens']:,} with padding. "
        f"auto chose {profile['encoder_engine']}"
        + (f" ({profile['encoder_engine_note']})" if profile["encoder_engine_note"] else "")
        + ". Each engine on the same messages, in batches of 32 as `classmod check` (differences from torch "
        "on the first 400 messages, whole texts):",
        "",
        "| encoder engine | heads ms/msg | msgs/s (heads alone) | speed-up | drift on the probes | "
        "lowest cosine | largest probability difference | messages whose flags change |",
        "|---|---|---|---|---|---|---|---|",
    ]
    baseline = profile["engines"]["torch"]["seconds"]
    for name, engine in profile["engines"].items():
        drift = "reference" if engine["probe_drift"] is None else f"{engine['probe_drift']:.4f}"
        lines.append(
            f"| {name} | {engine['seconds'] * 1000 / profile['messages']:.2f} | "
            f"{profile['messages'] / engine['seconds']:,.0f} | ×{baseline / engine['seconds']:.2f} | "
            f"{drift} | "
            f"{engine['min_cosine']:.4f} | {engine['max_probability_difference']:.4f} | "
            f"{engine['messages_whose_flags_change']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1000, help="messages for a. and d. (default 1000)")
    parser.add_argument("--service-messages", type=int, default=500, help="the burst in b. (default 500)")
    parser.add_argument("--repeats", type=int, default=3, help="bursts in b., the median reported")
    parser.add_argument("--startup-runs", type=int, default=2, help="one-message runs to time start-up")
    parser.add_argument(
        "--engines", default="onnx-int8,torch", help="Detoxify engines for b. (auto picks onnx-int8)"
    )
    parser.add_argument(
        "--rss-messages", type=int, default=1000, help="messages each process of c. scores (default 1000)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--json", type=Path, help="where to write the JSON (default bench/results/heads-<date>.json)"
    )
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](**json.loads(args.options))))
        return 0
    args.engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    began = time.perf_counter()
    results = measure(args)
    print(render(results, began))
    write_results(results, args.json, "heads")
    return 0


def write_results(results: dict[str, Any], path: Path | None, name: str) -> None:
    """Write a run's JSON to ``path`` (default ``bench/results/<name>-<date>.json``) and say where."""
    target = path or RESULTS / f"{name}-{datetime.now(UTC).date().isoformat()}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")


if __name__ == "__main__":
    sys.exit(main())
