"""Fast scoring (issue 5): plain per-message Detoxify against the scoring service with each engine.

Run it with ``.venv/bin/python bench/scoring.py`` (``--quick`` for a smaller smoke run,
``--variant original|unbiased-small|both``, ``--json PATH`` to also write the results as JSON).

Once, cached under ``bench/.cache/scoring/``, it builds a random-weight Detoxify checkpoint with the
real architecture of each variant and a synthetic vocabulary trained here, offline:

- ``original``: ``BertForSequenceClassification`` in the bert-base-uncased shape (12 layers, hidden
  768, 12 heads, FFN 3072, 512 positions), 6 outputs with Detoxify's original class names, and a
  30,522-entry WordPiece vocabulary (``BertTokenizer``, lower-cased) trained with ``tokenizers``;
- ``unbiased-small``: ``AlbertForSequenceClassification`` in the albert-base-v2 shape (embeddings
  128, hidden 768, 12 layers sharing one set of weights, 12 heads, FFN 3072, gelu_new), the 7
  unbiased labels, and a 30,000-piece SentencePiece unigram model (``AlbertTokenizer``).

The vocabularies are trained on generated class chat (``bench/messages.py``, another seed) plus a
synthetic Zipf-distributed lexicon that fills the vocabulary to its real size. The weights are
random (seeded): the scores mean nothing, but the speed, memory and int8 drift come from the real
shapes. Each bundle loads through ``detoxify.Detoxify`` via ``DetoxifyScorer(bundle=...)``, and the
ONNX engines are exported once into the bundle's ``.engines/`` cache.

On the same 1,000 messages (``generate_messages(1000)``), per variant, each in a fresh process:

- baseline: the Detoxify object as loaded, fp32, ``predict([text])`` one message at a time, on a
  stratified sample (every 5th short and every 5th long message), scaled to messages per second;
- the scoring service, ``ScoringService(DetoxifyScorer(engine=E), max_batch=32, window_ms=5)`` with
  its default long lane (texts over 400 characters are scored in a second worker thread) and its
  remembered scores (``--cache-size``, default as the bot; every measured run starts with none, so a
  run reuses only its own repeated texts, and the notes say how many), for
  E in torch, torch-int8, onnx, onnx-int8: burst throughput (messages submitted at once with
  ``asyncio.gather``; a pilot burst on the stratified sample first, then all 1,000, ``--burst-repeats``
  times (default 3, the median reported), unless the pilot projects more than ``--burst-budget``
  seconds), latency from scheduled arrival to result at a
  steady 20/s and 50/s (seeded Poisson arrivals), RSS (the load's peak, after load, the peak while
  serving) and the largest score difference from the fp32 torch engine over all messages and labels.

Around every row it also probes the machine's speed (a numpy matmul), since a shared host's speed drifts
between rows that run minutes apart. It is a benchmark, not a test: it fails only when something does
not run.

This file is the entry point (the run, and the child processes it starts); the variants and their
bundles are in ``scoring_bundles.py``, the measurements in ``scoring_measurements.py``, the machine's
facts in ``scoring_machine.py`` and the output in ``scoring_report.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bench.messages import DEFAULT_SEED, generate_messages  # noqa: E402
from bench.scoring_bundles import (  # noqa: E402
    VARIANTS,
    WINDOW_TOKENS,
    build_bundle,
    bundle_dir,
    bundle_facts,
    bundle_is_built,
    engines_cached,
)
from bench.scoring_machine import code_digest, cpu_sample, machine_info, refuse_amx, speed_probe  # noqa: E402
from bench.scoring_measurements import (  # noqa: E402
    LONG_BYTES,
    child_baseline,
    child_engine,
    child_headcheck,
    child_prepare,
    percentile,
    stratified,
)
from bench.scoring_report import render  # noqa: E402
from moderation.serving.batching import DEFAULT_CACHE_SIZE  # noqa: E402

ENGINES = ("torch", "torch-int8", "onnx", "onnx-int8")
CHILD_KINDS = ("build", "prepare", "baseline", "engine", "headcheck")


# --- the child processes ------------------------------------------------------------------------


def run_child(kind: str, **options: Any) -> tuple[dict[str, Any], Any]:
    """Run one measurement in a fresh process; return its result and its scores (or None)."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="classmod-bench-scoring-") as scratch:
        out = Path(scratch)
        command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--child-out", str(out)]
        command += ["--child-options", json.dumps(options)]
        speed_before = speed_probe()
        before = cpu_sample()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        after = cpu_sample()
        speed_after = speed_probe()
        if done.returncode != 0:
            raise SystemExit(f"the {kind} run {options} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        result = json.loads((out / "result.json").read_text(encoding="utf-8"))
        wall = after[0] - before[0]
        # Cores kept busy by other processes while the child ran (the machine's busy time less the
        # child's own CPU time), and time the hypervisor gave to other guests (steal).
        result["other_cores"] = max(0.0, (after[1] - before[1]) - (after[3] - before[3])) / wall
        result["steal_cores"] = (after[2] - before[2]) / wall
        result["speed_gflops"] = [speed_before, speed_after]
        scores = np.load(out / "scores.npy") if (out / "scores.npy").exists() else None
    return result, scores


def child_main(kind: str, out: Path, options: dict[str, Any]) -> int:
    import numpy as np

    variant = VARIANTS[options["variant"]]
    outputs = int(options["outputs"])
    bundle = bundle_dir(variant.name, outputs)
    threads = options.get("threads")
    if kind == "build":
        answer = {"result": build_bundle(variant, outputs)}
    elif kind == "prepare":
        answer = child_prepare(bundle, threads)
    elif kind == "headcheck":
        answer = child_headcheck(bundle, threads)
    else:
        texts = [item["text"] for item in generate_messages(options["messages"], options["seed"])]
        if kind == "baseline":
            answer = child_baseline(
                bundle, texts, options["baseline_sample"], threads, options.get("device", "cpu")
            )
        else:
            answer = child_engine(
                bundle,
                options["engine"],
                texts,
                options["burst_sample"],
                options["steady_set"],
                threads=threads,
                device=options.get("device", "cpu"),
                budget_s=options["budget_s"],
                burst_repeats=options.get("burst_repeats", 1),
                full_burst=options["full_burst"],
                all_scores=options["all_scores"],
                grace_s=options["grace_s"],
                cache_size=options.get("cache_size", DEFAULT_CACHE_SIZE),
            )
    if "scores" in answer:
        np.save(out / "scores.npy", answer["scores"])
    (out / "result.json").write_text(json.dumps(answer["result"]), encoding="utf-8")
    return 0


# --- the run --------------------------------------------------------------------------------------


def bench_variant(console: Console, name: str, args: argparse.Namespace, texts: list[str]) -> dict[str, Any]:
    import numpy as np

    variant = VARIANTS[name]
    outputs = args.unbiased_outputs if variant.family == "albert" else len(variant.classes)
    began = time.perf_counter()
    result: dict[str, Any] = {"variant": name, "shape": variant.shape, "cache_size": args.cache_size}
    setup: dict[str, Any] = {"built": False, "build_s": 0.0, "export_s": 0.0}
    needed = [outputs]
    if variant.family == "albert" and outputs != 16 and not args.quick:
        needed.append(16)  # for the head check
    for each in needed:
        if not bundle_is_built(variant, each):
            console.print(f"[dim]{name}: building the {each}-output bundle (once)...[/dim]")
            built, _ = run_child("build", variant=name, outputs=each)
            setup["built"] = True
            setup["build_s"] += built["build_s"]
    bundle = bundle_dir(name, outputs)
    if not engines_cached(bundle):
        console.print(f"[dim]{name}: exporting and quantising the ONNX engines (once)...[/dim]")
        prepared, _ = run_child("prepare", variant=name, outputs=outputs, threads=args.threads)
        setup["export_s"] = prepared["seconds"]
    result["setup"] = setup
    result["bundle"] = bundle_facts(variant, outputs)

    base = {
        "variant": name,
        "outputs": outputs,
        "threads": args.threads,
        "device": args.device,
        "messages": len(texts),
        "seed": args.seed,
    }
    baseline_sample = stratified(texts, 20 if args.quick else 5)
    burst_sample = stratified(texts, 20 if args.quick else 10)
    steady_set = stratified(texts, 4, offset=2)[: 60 if args.quick else 200]
    console.print(f"[dim]{name}: plain Detoxify, one message at a time ({len(baseline_sample)})...[/dim]")
    baseline, baseline_scores = run_child("baseline", **base, baseline_sample=baseline_sample)
    tokens = baseline.pop("tokens")
    result["tokens"] = {
        "mean": statistics.fmean(tokens),
        "p50": percentile(tokens, 0.5),
        "max": max(tokens),
        "over_window": sum(1 for count in tokens if count > WINDOW_TOKENS),
    }
    result["baseline"] = baseline

    runs: list[dict[str, Any]] = []
    scores: dict[str, Any] = {}
    for engine in args.engines:
        console.print(f"[dim]{name}: the scoring service on {engine}...[/dim]")
        run, engine_scores = run_child(
            "engine",
            **base,
            engine=engine,
            burst_sample=burst_sample,
            steady_set=steady_set,
            budget_s=args.burst_budget,
            burst_repeats=args.burst_repeats,
            full_burst=not args.quick,
            all_scores=not args.quick,
            grace_s=args.grace,
            cache_size=args.cache_size,
        )
        run.pop("labels")
        scores[engine] = engine_scores
        runs.append(run)
    reference = scores.get("torch")
    if reference is None:  # --engines without torch: drift against plain Detoxify's sample instead
        reference = baseline_scores
    for run in runs:
        both = ~np.isnan(reference[:, 0]) & ~np.isnan(scores[run["engine"]][:, 0])
        run["drift_messages"] = int(both.sum())
        run["drift"] = float(np.max(np.abs(scores[run["engine"]][both] - reference[both]), initial=0.0))
    # Plain per-message Detoxify against the service's fp32 torch, on the messages that fit one window.
    fits = np.array([count <= WINDOW_TOKENS for count in tokens])
    both = fits & ~np.isnan(baseline_scores[:, 0]) & ~np.isnan(reference[:, 0])
    baseline["drift_messages"] = int(both.sum())
    baseline["drift"] = float(np.max(np.abs(baseline_scores[both] - reference[both]), initial=0.0))
    result["runs"] = runs
    result["burst_sample"] = len(burst_sample)
    result["steady_messages"] = len(steady_set)

    if 16 in needed and outputs != 16:
        console.print(f"[dim]{name}: loading the real 16-output head with torch-int8...[/dim]")
        result["headcheck"], _ = run_child("headcheck", variant=name, outputs=16, threads=args.threads)
    result["seconds"] = time.perf_counter() - began
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--variant", choices=(*VARIANTS, "both"), default="both", help="default: both")
    parser.add_argument("--quick", action="store_true", help="a smaller smoke run (samples, no full burst)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the message generator's seed")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch / ONNX Runtime threads (default: the libraries' own)"
    )
    parser.add_argument(
        "--burst-budget",
        type=float,
        default=60.0,
        metavar="S",
        help="burst all 1,000 only when the sample's burst projects at most S seconds (default 60)",
    )
    parser.add_argument(
        "--burst-repeats",
        type=int,
        default=3,
        metavar="N",
        help="bursts of all 1,000 per engine; the median is reported (default 3)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=5.0,
        metavar="S",
        help="stop a steady-arrival run once a message has waited S seconds (default 5)",
    )
    parser.add_argument(
        "--unbiased-outputs",
        type=int,
        choices=(7, 16),
        default=7,
        help="outputs of the unbiased-small head: 7 (its labels, default) or 16 (as the real checkpoint)",
    )
    parser.add_argument(
        "--engines",
        type=lambda value: tuple(value.split(",")),
        default=ENGINES,
        metavar="E,E",
        help=f"the engines to measure (default: {','.join(ENGINES)}); drift is against torch when it is one",
    )
    parser.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where plain Detoxify and the engines run (cuda: a GPU; the int8 engines are CPU-only)",
    )
    parser.add_argument(
        "--cache-size",
        type=int,
        default=DEFAULT_CACHE_SIZE,
        metavar="N",
        help=f"the service's remembered scores (default {DEFAULT_CACHE_SIZE}, as the bot; 0: every message "
        "is scored, repeats too)",
    )
    parser.add_argument(
        "--refuse-amx",
        action="store_true",
        help="measure as on a CPU without AMX: every run is refused AMX tiles (Linux x86-64), so "
        "ONNX Runtime and torch fall back to AVX-512 VNNI",
    )
    parser.add_argument("--child", choices=CHILD_KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-options", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}: choose from {', '.join(ENGINES)}")
    if args.child is not None:
        return child_main(args.child, args.child_out, json.loads(args.child_options))

    if args.refuse_amx:
        refuse_amx()  # before any run starts: each child process inherits the filter
    began = time.perf_counter()
    console = Console(width=None if sys.stdout.isatty() else 180)
    texts = [item["text"] for item in generate_messages(1000, args.seed)]
    names = list(VARIANTS) if args.variant == "both" else [args.variant]
    results: dict[str, Any] = {
        "machine": machine_info(args.device),
        "code": code_digest(),
        "messages": len(texts),
        "seed": args.seed,
        "quick": args.quick,
        "threads": args.threads,
        "amx_refused": args.refuse_amx,
        "long_messages": sum(1 for text in texts if len(text.encode("utf-8")) >= LONG_BYTES),
        "mean_chars": statistics.fmean(len(text) for text in texts),
        "variants": [],
    }
    for name in names:
        results["variants"].append(bench_variant(console, name, args, texts))
    results["bench_seconds"] = time.perf_counter() - began
    if code_digest()["sha256"] != results["code"]["sha256"]:  # the content, not the files' times
        results["code"]["changed_during_run"] = code_digest()
    render(console, results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
