"""How fast classmod moderates: the core without a model, ``classmod check --json``, and the scorers.

Run it with ``.venv/bin/python bench/check_speed.py`` (or ``make bench``); ``--json PATH`` also
writes the results as JSON. It measures, on this machine, over the same 1,000 seeded class-chat
messages (``bench/messages.py``):

a. the core's overhead with no model: ``moderation.engine.assess`` with fixed, empty model scores,
   and separately normalisation, the personal-data detector and the policy's phrase detectors;
b. ``classmod check --json`` end to end as a subprocess, messages as JSON lines on stdin, on the
   fallback scorer and on a tiny Detoxify-format model (random weights, same loader as the real one);
c. the scorers alone, in process, in batches of 32 and of 1.

It is a benchmark, not a test: it fails only when something does not run at all (a subprocess
that exits non-zero, an output line with an error, the wrong scorer loaded).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from bench.messages import DEFAULT_SEED, generate_messages, to_jsonl  # noqa: E402
from bench.scoring_machine import cpu_flags, vector_units  # noqa: E402
from moderation.engine import assess  # noqa: E402
from moderation.normalise import normalise  # noqa: E402
from moderation.personal_data import find_personal_data  # noqa: E402
from moderation.policy import Policy, load_policy  # noqa: E402
from moderation.scorers.phrases import find_phrases  # noqa: E402
from moderation.types import Author, AuthorHistory, ChatMessage, ModelScores, Role  # noqa: E402

VARIANT = "unbiased-small"  # the settings' default variant: the tiny bundle is written under this name
CORE_TARGET_US = 1000.0
LONG_BYTES = 1000


# --- helpers ------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        torch_version = str(torch.__version__)
        torch_threads = int(torch.get_num_threads())
    except Exception as exc:  # torch missing is worth a line, not a crash
        torch_version, torch_threads = f"unavailable ({type(exc).__name__})", 0
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "python": platform.python_version(),
        "torch": torch_version,
        "torch_threads": torch_threads,
        "platform": platform.platform(),
        "vectors": vector_units(cpu_flags()),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise_us(samples_ns: Sequence[int]) -> dict[str, float]:
    """Mean, p50, p95, p99 and max in microseconds, and the rate that mean implies."""
    values = sorted(sample / 1000 for sample in samples_ns)
    mean = statistics.fmean(values) if values else 0.0
    return {
        "mean_us": mean,
        "p50_us": _percentile(values, 0.50),
        "p95_us": _percentile(values, 0.95),
        "p99_us": _percentile(values, 0.99),
        "max_us": values[-1] if values else 0.0,
        "msgs_per_s": 1e6 / mean if mean else 0.0,
    }


def _timed_each(func: Callable[[int], object], count: int, repeats: int) -> list[list[int]]:
    """Per-item timings: ``result[r][i]`` is the ns of ``func(i)`` in repeat ``r``."""
    clock = time.perf_counter_ns
    runs: list[list[int]] = []
    for _ in range(repeats):
        gc.collect()
        timings = [0] * count
        for index in range(count):
            start = clock()
            func(index)
            timings[index] = clock() - start
        runs.append(timings)
    return runs


# --- a. the core --------------------------------------------------------------------------------


def bench_core(items: list[dict[str, Any]], policy: Policy, repeats: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    messages = [
        ChatMessage(
            platform="bench",
            chat_id="bench",
            message_id=str(item["id"]),
            author=Author(f"author-{item['id'] % 40}", "Bench", Role(item["role"])),
            text=item["text"],
            sent_at=now,
        )
        for item in items
    ]
    texts = [item["text"] for item in items]
    roles = [Role(item["role"]) for item in items]
    normalised = [normalise(text) for text in texts]
    history = AuthorHistory()
    model = ModelScores(scorer="bench:none")  # no labels: the core alone

    stages: dict[str, Callable[[int], object]] = {
        "normalise": lambda i: normalise(texts[i]),
        "personal data": lambda i: find_personal_data(texts[i]),
        "phrases": lambda i: find_phrases(normalised[i], policy, roles[i]),
        "assess (all)": lambda i: assess(messages[i], history, policy, now, model),
    }
    for func in stages.values():  # warm caches (compiled patterns, phonenumbers metadata)
        for index in range(min(50, len(items))):
            func(index)

    count = len(items)
    long_at = [i for i, text in enumerate(texts) if len(text.encode("utf-8")) >= LONG_BYTES]
    long_set = set(long_at)
    short_at = [i for i in range(count) if i not in long_set]
    results: dict[str, Any] = {"repeats": repeats, "stages": {}}
    for name, func in stages.items():
        runs = _timed_each(func, count, repeats)
        # Each message's time is its best of the repeats: that removes scheduler noise, not work.
        best = [min(run[i] for run in runs) for i in range(count)]
        summary: dict[str, Any] = dict(summarise_us(best))
        summary["long_mean_us"] = statistics.fmean(best[i] for i in long_at) / 1000 if long_at else 0.0
        summary["short_mean_us"] = statistics.fmean(best[i] for i in short_at) / 1000 if short_at else 0.0
        slowest = max(range(count), key=best.__getitem__)
        summary["slowest"] = {
            "id": items[slowest]["id"],
            "kind": items[slowest]["kind"],
            "chars": len(texts[slowest]),
            "us": best[slowest] / 1000,
        }
        results["stages"][name] = summary

    decisions = [assess(message, history, policy, now, model) for message in messages]
    planted = [item["kind"] != "ordinary" for item in items]
    flagged = [decision.is_flagged for decision in decisions]
    results["long_messages"] = len(long_at)
    results["flagged"] = sum(flagged)
    results["planted"] = sum(planted)
    results["missed"] = sorted(
        {
            item["kind"]
            for item, was_planted, hit in zip(items, planted, flagged, strict=True)
            if was_planted and not hit
        }
    )
    results["missed_count"] = sum(
        1 for was_planted, hit in zip(planted, flagged, strict=True) if was_planted and not hit
    )
    results["false_positives"] = sum(
        1 for was_planted, hit in zip(planted, flagged, strict=True) if hit and not was_planted
    )
    return results


# --- b. classmod check --json ---------------------------------------------------------------------


def _cli_env(model_dir: Path, scratch: Path, require_detoxify: bool, **extra: str) -> dict[str, str]:
    # No inherited CLASSMOD_* settings; the working directory (scratch) has no classmod.toml. The policy
    # heads are off unless asked for (bench/heads.py measures them): this bench compares Detoxify and
    # the fallback.
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLASSMOD_")}
    env.update(
        CLASSMOD_MODEL_DIR=str(model_dir),
        CLASSMOD_DATABASE_URL=f"sqlite:///{scratch / 'unused.db'}",
        CLASSMOD_REQUIRE_DETOXIFY="true" if require_detoxify else "false",
        CLASSMOD_HEADS="false",
    )
    env.update(extra)
    return env


def run_check(
    payload: str, env: dict[str, str], cwd: Path, expect_scorer: str, expect_lines: int
) -> dict[str, Any]:
    """Run ``classmod check --json`` once; time its first and last output lines and its exit."""
    command = [str(Path(sys.executable).with_name("classmod")), "check", "--json"]
    with tempfile.TemporaryFile() as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, env=env
        )
        assert process.stdin is not None and process.stdout is not None

        def feed() -> None:
            assert process.stdin is not None
            try:
                process.stdin.write(payload.encode("utf-8"))
            finally:
                process.stdin.close()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        stamps: list[float] = []
        lines: list[bytes] = []
        for line in process.stdout:
            stamps.append(time.perf_counter() - start)
            lines.append(line)
        code = process.wait()
        wall = time.perf_counter() - start
        writer.join()
        stderr.seek(0)
        errors = stderr.read().decode("utf-8", "replace")
    if code != 0:
        raise SystemExit(f"classmod check --json exited {code}:\n{errors[-2000:]}")
    if len(lines) != expect_lines:
        raise SystemExit(f"classmod check --json wrote {len(lines)} lines for {expect_lines} messages")
    decoded = [json.loads(line) for line in lines]
    bad = [item for item in decoded if "error" in item]
    if bad:
        raise SystemExit(f"classmod check --json reported errors, e.g. {bad[0]}")
    scorers = {item["scorer"] for item in decoded}
    # The Detoxify scorer names its engine too ("detoxify:unbiased-small (onnx)").
    if len(scorers) != 1 or not next(iter(scorers)).startswith(expect_scorer):
        raise SystemExit(f"classmod check --json used {sorted(scorers)}, expected {expect_scorer}")
    return {
        "scorer": next(iter(scorers)),
        "wall_s": wall,
        "first_line_s": stamps[0],
        "last_line_s": stamps[-1],
        "stamps": stamps,
        "flagged": sum(1 for item in decoded if item["action"] != "allow"),
    }


def bench_cli(
    items: list[dict[str, Any]],
    model_dir: Path,
    scratch: Path,
    *,
    expect_scorer: str,
    require_detoxify: bool,
    startup_runs: int,
    extra_env: dict[str, str] | None = None,
) -> dict[str, Any]:
    env = _cli_env(model_dir, scratch, require_detoxify, **(extra_env or {}))
    one = to_jsonl(items[:1])
    # Start-up: a run with one message, to its output line (the process's exit comes after).
    singles = [run_check(one, env, scratch, expect_scorer, 1) for _ in range(startup_runs)]
    startup = min(single["first_line_s"] for single in singles)
    full = run_check(to_jsonl(items), env, scratch, expect_scorer, len(items))
    count = len(items)
    from bot.cli.check import CHECK_BATCH

    stamps = full["stamps"]
    first_batch = min(CHECK_BATCH, count)
    steady = (stamps[-1] - stamps[0]) / (count - first_batch) if count > first_batch else 0.0
    # Batches arrive together: the gaps between the first lines of consecutive batches.
    batch_gaps = [stamps[i] - stamps[i - CHECK_BATCH] for i in range(CHECK_BATCH, count, CHECK_BATCH)]
    one_message = min(single["wall_s"] for single in singles)
    beyond_startup = max(full["wall_s"] - one_message, 1e-9)
    return {
        "scorer": full["scorer"],
        "messages": count,
        "wall_s": full["wall_s"],
        "startup_s": startup,
        "startup_runs_first_line_s": [single["first_line_s"] for single in singles],
        "one_message_wall_s": one_message,
        "first_line_s": full["first_line_s"],
        "exit_s": full["wall_s"] - full["last_line_s"],
        "msgs_per_s_overall": count / full["wall_s"],
        "msgs_per_s": (count - first_batch) / (stamps[-1] - stamps[0]) if steady else 0.0,
        "ms_per_msg": steady * 1000,
        # The same, estimated as (total - a one-message run's total) / (n - 1): noisier.
        "ms_per_msg_less_startup": beyond_startup * 1000 / (count - 1),
        "batch": CHECK_BATCH,
        "batch_p50_ms": _percentile(sorted(batch_gaps), 0.5) * 1000,
        "batch_p95_ms": _percentile(sorted(batch_gaps), 0.95) * 1000,
        "flagged": full["flagged"],
    }


# --- c. the scorers in process --------------------------------------------------------------------


def bench_scorer(scorer: Any, texts: Sequence[str], batch: int) -> dict[str, Any]:
    scorer.score_batch(texts[:batch])  # warm-up
    gc.collect()
    start = time.perf_counter()
    for begin in range(0, len(texts), batch):
        scorer.score_batch(texts[begin : begin + batch])
    elapsed = time.perf_counter() - start
    return {
        "batch": batch,
        "seconds": elapsed,
        "msgs_per_s": len(texts) / elapsed,
        "ms_per_msg": elapsed * 1000 / len(texts),
    }


def build_tiny_bundle(model_dir: Path, window: int) -> tuple[Path, float]:
    from tests.tinymodel import build_tiny_detoxify

    start = time.perf_counter()
    bundle = build_tiny_detoxify(model_dir, max_length=window, variant=VARIANT)
    return bundle, time.perf_counter() - start


def scorer_only(label: str, model_dir: Path, count: int, seed: int) -> dict[str, Any]:
    """Load one scorer and time it; runs in its own process (see ``bench_scorers``)."""
    from moderation.serving.loading import load_text_scorer

    required = label == "tiny"
    start = time.perf_counter()
    loaded = load_text_scorer(
        variant=VARIANT, bundle_dir=model_dir, device="cpu", threads=None, require_detoxify=required
    )
    load_s = time.perf_counter() - start
    if loaded.is_fallback == required:
        raise SystemExit(f"expected the {label} scorer, got {loaded.scorer.name} ({loaded.reason})")
    texts = [item["text"] for item in generate_messages(count, seed)]
    runs = [bench_scorer(loaded.scorer, texts, batch) for batch in (32, 1)]
    # The same batches of 32 without the long messages: shows what one long text costs its batch.
    short = bench_scorer(
        loaded.scorer, [text for text in texts if len(text.encode("utf-8")) < LONG_BYTES], 32
    )
    runs.append({**short, "batch": "32, <1 kB only"})
    return {"scorer": loaded.scorer.name, "load_s": load_s, "runs": runs}


def bench_scorers(model_dirs: dict[str, Path], count: int, seed: int) -> list[dict[str, Any]]:
    """Time each scorer in a fresh process of its own.

    One process holding both scorers is misleading: right after alt-profanity-check (scikit-learn)
    has run, the tiny model ran at under half its speed for seconds on this machine.
    """
    results: list[dict[str, Any]] = []
    for label, model_dir in model_dirs.items():
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--scorer-only",
            label,
            "--model-dir",
            str(model_dir),
            "--messages",
            str(count),
            "--seed",
            str(seed),
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"timing the {label} scorer failed ({done.returncode}):\n{done.stderr[-2000:]}")
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        for run in measured["runs"]:
            results.append({"scorer": measured["scorer"], "load_s": measured["load_s"], **run})
    return results


# --- output -------------------------------------------------------------------------------------


def render(console: Console, results: dict[str, Any]) -> None:
    machine = results["machine"]
    console.print(
        f"[bold]classmod benchmark[/bold] · {results['messages']} messages (seed {results['seed']}, "
        f"{results['core']['planted']} with a planted breach, {results['core']['long_messages']} of 1–3 kB, "
        f"mean {results['mean_chars']:.0f} chars)"
    )
    console.print(
        f"machine: {machine['cpu']} ({machine['vectors']}) · {machine['cores']} cores "
        f"({machine['usable_cores']} usable) · "
        f"Python {machine['python']} · torch {machine['torch']} ({machine['torch_threads']} threads) · "
        f"{machine['platform']}",
        highlight=False,
    )

    core = results["core"]
    table = Table(title=f"a. the core, no model (µs per message, best of {core['repeats']} per message)")
    for column in ("stage", "mean", "p50", "p95", "p99", "max", "msgs/s", "short mean", "long mean"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for name, stage in core["stages"].items():
        table.add_row(
            name,
            f"{stage['mean_us']:.1f}",
            f"{stage['p50_us']:.1f}",
            f"{stage['p95_us']:.1f}",
            f"{stage['p99_us']:.1f}",
            f"{stage['max_us']:.0f}",
            f"{stage['msgs_per_s']:,.0f}",
            f"{stage['short_mean_us']:.1f}",
            f"{stage['long_mean_us']:.1f}",
            style="bold" if name.startswith("assess") else None,
        )
    console.print(table)
    whole = core["stages"]["assess (all)"]
    parts = sum(core["stages"][name]["mean_us"] for name in ("normalise", "personal data", "phrases"))
    verdict = "[green]met[/green]" if whole["p95_us"] < CORE_TARGET_US else "[red]MISSED[/red]"
    long_verdict = "within" if whole["long_mean_us"] < CORE_TARGET_US else "[yellow]over[/yellow]"
    console.print(
        f"target, core under {CORE_TARGET_US:.0f} µs per message: {verdict} (mean {whole['mean_us']:.0f} µs, "
        f"p95 {whole['p95_us']:.0f} µs); messages of 1 kB or more average {whole['long_mean_us']:.0f} µs "
        f"({long_verdict} the target). The three detectors are {parts:.0f} µs of the mean, the engine's own "
        f"work about {max(whole['mean_us'] - parts, 0):.0f} µs. Slowest: #{whole['slowest']['id']} "
        f"({whole['slowest']['kind']}, {whole['slowest']['chars']} chars, {whole['slowest']['us']:.0f} µs).",
        highlight=False,
    )
    console.print(
        f"with no model the core flags {core['flagged']} of {results['messages']}: "
        f"{core['planted'] - core['missed_count']} of {core['planted']} planted breaches and "
        f"{core['false_positives']} ordinary messages; the {core['missed_count']} planted it misses "
        f"({', '.join(core['missed']) or 'none'}) are left to the model.",
        highlight=False,
    )

    cli = results["cli"]
    table = Table(title="b. classmod check --json: a subprocess, 1,000 JSON lines on stdin")
    for column in (
        "scorer",
        "total s",
        "start-up s",
        "exit s",
        "msgs/s overall",
        "msgs/s steady",
        "ms/msg steady",
        f"batch of {cli[0]['batch']} p50/p95 ms",
        "flagged",
    ):
        table.add_column(
            column, justify="left" if column == "scorer" else "right", no_wrap=column == "scorer"
        )
    for run in cli:
        table.add_row(
            run["scorer"],
            f"{run['wall_s']:.2f}",
            f"{run['startup_s']:.2f}",
            f"{run['exit_s']:.2f}",
            f"{run['msgs_per_s_overall']:,.0f}",
            f"{run['msgs_per_s']:,.0f}",
            f"{run['ms_per_msg']:.2f}",
            f"{run['batch_p50_ms']:.0f} / {run['batch_p95_ms']:.0f}",
            f"{run['flagged']}",
        )
    console.print(table)
    console.print(
        "start-up: launch to the output line of a one-message run (best of "
        f"{len(cli[0]['startup_runs_first_line_s'])}); exit: last output line to the process's exit; "
        "overall: 1,000 / total; steady (start-up excluded): first output line to last; batch: time between "
        "consecutive batches' lines. flagged: any action but allow (the tiny model's random weights flag at "
        "random).",
        highlight=False,
    )

    table = Table(title="c. the scorer alone (score_batch), each in a fresh process")
    for column in ("scorer", "load s", "batch", "msgs/s", "ms/msg"):
        table.add_column(
            column, justify="left" if column == "scorer" else "right", no_wrap=column == "scorer"
        )
    for run in results["scorers"]:
        table.add_row(
            run["scorer"],
            f"{run['load_s']:.2f}",
            str(run["batch"]),
            f"{run['msgs_per_s']:,.0f}",
            f"{run['ms_per_msg']:.3f}",
        )
    console.print(table)
    speedups = []
    for name in dict.fromkeys(run["scorer"] for run in results["scorers"]):
        rate = {str(run["batch"]): run["msgs_per_s"] for run in results["scorers"] if run["scorer"] == name}
        speedups.append(f"{name} ×{rate['32'] / rate['1']:.1f}")
    console.print(f"batches of 32 against batches of 1: {', '.join(speedups)}", highlight=False)
    tiny = results["tiny_model"]
    console.print(
        f"tiny model: BERT, 2 layers, hidden 32, random weights, {tiny['window']}-token window, "
        f"{tiny['checkpoint_kb']:.0f} kB checkpoint, as `{VARIANT}/` in a temporary models folder. Its "
        "scores mean nothing; its speed is the floor of the Detoxify path (tokenising, windowing, torch), "
        "far above the real model's.",
        highlight=False,
    )
    console.print(f"whole benchmark: {results['bench_seconds']:.0f} s", highlight=False)


def _strip_stamps(results: dict[str, Any]) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(results))
    for run in copy["cli"]:
        run.pop("stamps", None)
    return copy


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--messages", type=int, default=1000, help="how many messages (default 1000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the message generator's seed")
    parser.add_argument(
        "--repeats", type=int, default=3, help="passes over the messages for the core timings"
    )
    parser.add_argument("--startup-runs", type=int, default=2, help="one-message runs to time start-up")
    parser.add_argument(
        "--tiny-window",
        type=int,
        default=512,
        help="the tiny model's token window (default 512, as the real models; the tests use 32)",
    )
    parser.add_argument("--scorer-only", choices=("fallback", "tiny"), help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.scorer_only is not None:
        print(json.dumps(scorer_only(args.scorer_only, args.model_dir, args.messages, args.seed)))
        return 0
    if args.messages < 2 * 32:
        parser.error("--messages must be at least 64")

    began = time.perf_counter()
    console = Console(width=None if sys.stdout.isatty() else 130)
    items = generate_messages(args.messages, args.seed)
    texts = [item["text"] for item in items]
    results: dict[str, Any] = {
        "machine": machine_info(),
        "messages": len(items),
        "seed": args.seed,
        "mean_chars": statistics.fmean(len(text) for text in texts),
    }

    console.print("[dim]a. timing the core...[/dim]")
    results["core"] = bench_core(items, load_policy(None), args.repeats)

    with tempfile.TemporaryDirectory(prefix="classmod-bench-") as scratch_name:
        scratch = Path(scratch_name)
        empty_dir, model_dir = scratch / "no-models", scratch / "models"
        empty_dir.mkdir()
        bundle, build_s = build_tiny_bundle(model_dir, args.tiny_window)
        results["tiny_model"] = {
            "window": args.tiny_window,
            "build_s": build_s,
            "checkpoint_kb": (bundle / "checkpoint.ckpt").stat().st_size / 1024,
        }

        console.print("[dim]b. timing classmod check --json (fallback, then tiny Detoxify)...[/dim]")
        results["cli"] = [
            bench_cli(
                items,
                empty_dir,
                scratch,
                expect_scorer="fallback:alt-profanity-check",
                require_detoxify=False,
                startup_runs=args.startup_runs,
            ),
            bench_cli(
                items,
                model_dir,
                scratch,
                expect_scorer=f"detoxify:{VARIANT}",
                require_detoxify=True,
                startup_runs=args.startup_runs,
            ),
        ]

        console.print("[dim]c. timing the scorers in process...[/dim]")
        results["scorers"] = bench_scorers({"fallback": empty_dir, "tiny": model_dir}, len(items), args.seed)

    results["bench_seconds"] = time.perf_counter() - began
    render(console, results)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(_strip_stamps(results), indent=2) + "\n", encoding="utf-8")
        console.print(f"results written to {args.json}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
