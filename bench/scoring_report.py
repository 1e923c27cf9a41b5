"""The benchmark's output: a table per variant against the issue's targets, and the machine it ran on."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.scoring_bundles import WINDOW_TOKENS
from bench.scoring_measurements import MAX_BATCH, RATES, WINDOW_MS
from moderation.serving.batching import DEFAULT_LONG_TEXT_CHARS

# The targets, for the bert-base shape on this 2-core machine.
TARGET_BURST_X = 10.0


TARGET_P95_MS_AT_20 = 60.0


TARGET_PEAK_MB = 500.0


TARGET_DRIFT = 0.02


BUSY_WARNING_CORES = 0.25


def _mb(value: float) -> str:
    return "n/a" if value != value else f"{value:,.0f}"


def _rss(run: dict[str, Any]) -> str:
    parts = ("imports_mb", "load_peak_mb", "after_load_mb", "serving_peak_mb")
    return " / ".join(_mb(run[part]) for part in parts)


def _latency(steady: dict[str, Any]) -> str:
    # A run stopped because the engine fell behind: unfinished messages count with their wait so far.
    mark = "≥" if steady["fell_behind"] else ""
    return f"{mark}{steady['p50_ms']:,.0f} / {mark}{steady['p95_ms']:,.0f}"


def _verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]NOT MET[/red]"


def render_variant(console: Console, result: dict[str, Any], primary: bool) -> None:
    baseline = result["baseline"]
    bundle = result["bundle"]
    tokens = result["tokens"]
    setup = result["setup"]
    console.print()
    console.print(
        f"[bold]{result['variant']}[/bold] · {result['shape']} · {bundle['parameters'] / 1e6:.1f} M "
        f"parameters, {bundle['outputs']} outputs, checkpoint {bundle['checkpoint_mb']:.0f} MB · tokens per "
        f"message: mean {tokens['mean']:.1f}, median {tokens['p50']:.0f}, max {tokens['max']}, "
        f"{tokens['over_window']} over the {WINDOW_TOKENS}-token window",
        highlight=False,
    )
    if setup["built"] or setup["export_s"]:
        console.print(
            f"built in this run: bundle(s) {setup['build_s']:.0f} s, ONNX export + int8 quantisation "
            f"{setup['export_s']:.0f} s",
            highlight=False,
        )
    table = Table(
        title=(
            f"{result['variant']}: plain Detoxify vs ScoringService(max_batch={MAX_BATCH}, "
            f"window_ms={WINDOW_MS:g}, long lane over {DEFAULT_LONG_TEXT_CHARS} chars, "
            f"cache_size={result['cache_size']}), "
            "each row a fresh process"
        )
    )
    columns = (
        "engine asked",
        "used (probe drift)",
        "load s",
        escape("burst msg/s [n]"),
        "× plain",
        "20/s p50 / p95 ms",
        "50/s p50 / p95 ms",
        "RSS MB: imports / load peak / after load / serving peak",
        "max drift",
    )
    for column in columns:
        table.add_column(column, justify="left" if column.startswith(("engine", "used")) else "right")
    table.add_row(
        escape("plain predict([text])"),
        "fp32 torch",
        f"{baseline['load_s']:.1f}",
        escape(f"{baseline['msgs_per_s']:.1f} [{baseline['messages']}]"),
        "1.0",
        f"{baseline['p50_ms']:.0f} / {baseline['p95_ms']:.0f} per call",
        "",
        _rss(baseline),
        f"{baseline['drift']:.1e}",
    )
    for run in result["runs"]:
        burst = run["burst"]
        used = run["used"] + (f" ({run['probe_drift']:.4f})" if run["probe_drift"] is not None else "")
        if run["used"] != run["engine"]:
            used = f"[yellow]{used}, fell back[/yellow]"
        sampled = "*" if burst["sampled"] else ""
        steady = {each["rate"]: each for each in run["steady"]}
        table.add_row(
            run["engine"],
            used,
            f"{run['load_s']:.1f}",
            escape(f"{burst['msgs_per_s']:.1f} [{burst['messages']}{sampled}]"),
            f"{burst['msgs_per_s'] / baseline['msgs_per_s']:.1f}",
            *(_latency(steady[rate]) for rate in RATES),
            _rss(run),
            f"{run['drift']:.4f}",
        )
    console.print(table)
    notes = [
        f"plain: the Detoxify object as loaded, fp32, {escape('predict([text])')} one message at a time, "
        "on a "
        f"stratified sample of {baseline['messages']} (the same share of 1-3 kB messages), messages/s scaled "
        f"from it; p50/p95 per call. Its max drift is against the service's fp32 torch engine, over the "
        f"{baseline['drift_messages']} sampled messages that fit one window.",
        "burst: messages submitted at once with asyncio.gather, the median of the bursts run (notes below); "
        "* = a stratified sample of "
        f"{result['burst_sample']} only (a stratified sample of the 1,000), because of --quick or because it "
        "projected more than the burst budget for all 1,000. 20/s, 50/s: seeded Poisson arrivals, "
        f"{result['steady_messages']} messages (stratified), latency from scheduled arrival to result; "
        "≥: the "
        "engine fell behind and the run was stopped (unfinished messages count with their wait so far).",
        "RSS: VmRSS after the imports (torch, transformers and detoxify for plain and the torch engines; "
        "the ONNX engines start as the bot does, from the engine cache without torch), ru_maxrss after "
        "loading (the load's peak), "
        "VmRSS after load, ru_maxrss of the measured runs (high-water mark reset after load). max drift: "
        f"largest |score - fp32 torch engine| over {result['runs'][-1]['drift_messages']} messages × all "
        "labels.",
    ]
    for run in result["runs"]:
        burst = run["burst"]
        line = (
            f"{run['engine']}: burst in {burst['batches']} batches of {burst['mean_batch']:.1f} on average, "
            f"{burst['batches_with_long']} of them holding a 1-3 kB message: "
            f"{burst['mean_s_with_long']:.2f} s "
            "each"
        )
        if burst["batches_with_long"] < burst["batches"]:
            line += f", the others {burst['mean_s_without_long']:.2f} s"
        if burst["sampled"]:
            line += f"; all 1,000 would take about {burst['projected_full_s']:.0f} s"
        elif len(burst.get("all_seconds", ())) > 1:
            runs = ", ".join(f"{seconds:.1f}" for seconds in burst["all_seconds"])
            line += f"; the median of {len(burst['all_seconds'])} bursts ({runs} s)"
        behind = [
            f"{each['rate']:.0f}/s stopped after {each['submitted']} of {each['messages']} arrivals"
            for each in run["steady"]
            if each["fell_behind"]
        ]
        if behind:
            line += "; fell behind at " + ", ".join(behind)
        batches = "/".join(f"{each['mean_batch']:.1f}" for each in run["steady"])
        line += f"; mean batch at 20/s / 50/s {batches}"
        reused = "/".join(str(each.get("reused", 0)) for each in (burst, *run["steady"]))
        notes.append(f"{line}; repeated texts answered without the model (burst / 20/s / 50/s) {reused}.")
        if run["note"]:
            notes.append(f"{run['engine']}: {run['note']}")
    others = [("plain", baseline), *((run["engine"], run) for run in result["runs"])]
    notes.append(
        "other processes kept busy, on average while each row ran (cores): "
        + ", ".join(f"{label} {each['other_cores']:.2f}" for label, each in others)
        + "; hypervisor steal: "
        + ", ".join(f"{each['steal_cores']:.2f}" for _, each in others)
        + "."
    )
    notes.append(
        "the machine's speed before / after each row (numpy fp32 matmul, GFLOP/s; a shared host drifts): "
        + ", ".join(
            f"{label} {each['speed_gflops'][0]:.0f}/{each['speed_gflops'][1]:.0f}"
            for label, each in others
            if "speed_gflops" in each
        )
        + "."
    )
    for note in notes:
        console.print(note, highlight=False)
    if "headcheck" in result:
        check = result["headcheck"]
        if check["used"] == check["asked"]:
            outcome = "used"
        else:
            outcome = f"[red]refused, scoring with {check['used']}[/red]"
        console.print(
            f"real head: Detoxify's unbiased checkpoints have {check['outputs']} outputs for "
            f"{check['labels']} labels (9 identity heads Detoxify ignores); such a checkpoint with engine "
            f"{check['asked']}: {outcome}" + (f" ({escape(check['note'])})" if check["note"] else ""),
            highlight=False,
        )

    title = "the issue's targets (bert-base shape)" if primary else "the same targets, for reference only"
    console.print(f"[bold]{title}[/bold]")
    for run in result["runs"]:
        burst_x = run["burst"]["msgs_per_s"] / baseline["msgs_per_s"]
        at_20 = next(each for each in run["steady"] if each["rate"] == RATES[0])
        p95 = at_20["p95_ms"]
        peak = max(run["load_peak_mb"], run["serving_peak_mb"])
        checks = [
            f"burst ≥{TARGET_BURST_X:.0f}× plain: {_verdict(burst_x >= TARGET_BURST_X)} ({burst_x:.1f}×)",
            f"p95 at 20/s <{TARGET_P95_MS_AT_20:.0f} ms: {_verdict(p95 < TARGET_P95_MS_AT_20)} "
            f"({'≥' if at_20['fell_behind'] else ''}{p95:,.0f} ms)",
            f"peak RSS <{TARGET_PEAK_MB:.0f} MB: {_verdict(peak < TARGET_PEAK_MB)} ({peak:,.0f})",
            f"drift ≤{TARGET_DRIFT}: {_verdict(run['drift'] <= TARGET_DRIFT)} ({run['drift']:.4f})",
        ]
        console.print(f"  {run['engine']:<10} " + " · ".join(checks), highlight=False)


def render(console: Console, results: dict[str, Any]) -> None:
    machine = results["machine"]
    versions = machine["versions"]
    threads = results["threads"]
    runs = [run for result in results["variants"] for run in result["runs"]]
    torch_threads = sorted({run["torch_threads"] for run in runs if run["torch_threads"] is not None})
    torch_note = "/".join(map(str, torch_threads)) or "?"
    console.print(
        f"[bold]classmod scoring benchmark[/bold] · {results['messages']} messages (seed {results['seed']}, "
        f"{results['long_messages']} of 1–3 kB, mean {results['mean_chars']:.0f} chars)"
        + (" · QUICK smoke run" if results["quick"] else "")
    )
    console.print(
        f"machine: {machine['cpu']} · {machine['physical_cores']} physical / {machine['logical_cores']} "
        f"logical cores ({machine['usable_cores']} usable) · int8: {machine.get('int8_units', '?')}"
        + (" (AMX refused: --refuse-amx)" if results.get("amx_refused") else "")
        + f" · {machine['memory_gb']:.0f} GB · Python "
        f"{machine['python']} · torch {versions['torch']} ({torch_note} threads) · "
        f"onnxruntime {versions['onnxruntime']} (intra-op {threads or 'default = physical cores'}, "
        f"inter-op 1) · transformers {versions['transformers']} · detoxify {versions['detoxify']} · "
        f"{machine['platform']}" + (f" · device cuda: {machine['gpu']}" if machine.get("gpu") else ""),
        highlight=False,
    )
    code = results["code"]
    console.print(
        f"code measured: moderation/serving/*.py + moderation/scorers/*.py, sha256 {code['sha256']}, "
        f"last changed {code['newest_change']}"
        + (
            f" [red](changed during the run, now {code['changed_during_run']['sha256']}: rerun)[/red]"
            if "changed_during_run" in code
            else ""
        ),
        highlight=False,
    )
    for result in results["variants"]:
        render_variant(console, result, primary=result["variant"] == "original")
    spent = results["bench_seconds"]
    setup = sum(each["setup"]["build_s"] + each["setup"]["export_s"] for each in results["variants"])
    console.print()
    timings = ", ".join(f"{each['variant']} {each['seconds']:.0f} s" for each in results["variants"])
    cached = f"of which building and exporting {setup:.0f} s, skipped when cached" if setup else "all cached"
    console.print(f"whole benchmark: {spent:.0f} s ({timings}; {cached})", highlight=False)
    busy = [
        f"{result['variant']} {label}"
        for result in results["variants"]
        for label, each in [("plain", result["baseline"]), *((run["engine"], run) for run in result["runs"])]
        if each["other_cores"] + each["steal_cores"] > BUSY_WARNING_CORES
    ]
    if busy:
        console.print(
            f"[yellow]warning: other work took more than {BUSY_WARNING_CORES} cores during: "
            f"{', '.join(busy)}; those numbers are pessimistic, rerun on a quiet machine[/yellow]",
            highlight=False,
        )
