"""Hostile input, at scale, and the worst cases timed (issue 13): nothing here is a test's pass mark.

Run it with ``.venv/bin/python bench/hostile.py`` (or ``make bench-hostile``):

a. **fuzz**: ``--lines`` (default 20,000) seeded hostile lines (``tests/hostile_lines.py``: bad UTF-8,
   lone surrogates, control and invisible characters, wrong JSON shapes and types, NaN and huge
   numbers, nesting 100,000 deep, 20 kB texts, truncated lines) piped through ``classmod check --json``
   in a child process; every line that is not blank must get one answer, in order, with an id and
   either an error or an action, and the process must exit 0;
b. **worst cases**: adversarial messages of 4 kB, 64 kB and 1 MB judged by ``assess`` (the phrase
   detectors on RE2, personal data, the ladder) with the real policy, and through ``check --json``;
c. **policy bombs**: how long loading a hostile policy file takes before it is refused.

It prints Markdown tables and writes ``bench/results/hostile-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.heads import write_results  # noqa: E402
from moderation.engine import assess  # noqa: E402
from moderation.errors import PolicyError  # noqa: E402
from moderation.policy import default_policy_path, load_policy, parse_policy  # noqa: E402
from moderation.types import AuthorHistory, ModelScores  # noqa: E402
from tests.factories import NOW, make_message  # noqa: E402
from tests.hostile_lines import answers_are_sound, hostile_lines  # noqa: E402

SIZES = {"4 kB": 4 << 10, "64 kB": 64 << 10, "1 MB": 1 << 20}
UNITS = {
    "threat and joke (the old cubic pattern)": "lol kill ",
    "insults": "you idiot ",
    "phone numbers": "call 07700 900123 ",
    "one letter": "a",
    "zero-width spaces": "\u200b",
    "emoji": "😀",
    "Cyrillic look-alikes": "\u0456d\u0456\u043e\u0442 ",
}


def fuzz(lines: int, seed: int, heads: bool) -> dict[str, Any]:
    sent = hostile_lines(lines, seed)
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", "from bot.cli import app; app()", "check", "--json"],
        input=b"\n".join(sent) + b"\n",
        capture_output=True,
        env=_environment(heads),
        cwd=ROOT,
        check=False,
    )
    seconds = time.perf_counter() - started
    answers, unreadable = [], 0
    for line in child.stdout.splitlines():
        try:
            answers.append(json.loads(line))
        except ValueError:
            unreadable += 1
    problems = answers_are_sound(sent, answers)
    if unreadable:
        problems.append(f"{unreadable} answers are not JSON")
    if child.returncode != 0:
        problems.append(f"exit status {child.returncode}: {child.stderr.decode(errors='replace')[-500:]}")
    return {
        "lines": lines,
        "seed": seed,
        "answered": len(answers),
        "errors": sum(1 for answer in answers if "error" in answer),
        "seconds": round(seconds, 1),
        "problems": problems,
    }


def worst_cases(heads: bool) -> list[dict[str, Any]]:
    policy = load_policy()
    quiet = ModelScores(scorer="none", labels={})
    rows = []
    for name, unit in UNITS.items():
        for size_name, size in SIZES.items():
            text = "i will hurt you " + unit * (size // len(unit.encode("utf-8")))
            started = time.perf_counter()
            assess(make_message(text), AuthorHistory(), policy, NOW, quiet)
            judged = time.perf_counter() - started
            line = json.dumps({"id": 1, "text": text}, ensure_ascii=False).encode("utf-8") + b"\n"
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", "from bot.cli import app; app()", "check", "--json"],
                input=line,
                capture_output=True,
                env=_environment(heads),
                cwd=ROOT,
                check=True,
            )
            rows.append(
                {
                    "message": name,
                    "size": size_name,
                    "assess_s": round(judged, 3),
                    "check_json_s": round(time.perf_counter() - started, 2),
                }
            )
            print(f"  {name}, {size_name}: assess {judged:.3f} s", flush=True)
    return rows


def policy_bombs() -> list[dict[str, Any]]:
    source = default_policy_path().read_text(encoding="utf-8")
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bombs = {
        "alias bomb, 9 levels of 9": "\n".join(levels) + "\n",
        "a list nested 5,000 deep": "id: " + "[" * 5000 + "]" * 5000 + "\n",
        "a 2 MB file": source + "#" * (2 << 20),
        "pattern (a+)+b": source.replace("      - '\\b(?:cunt|", "      - '(a+)+b'\n      - '\\b(?:cunt|", 1),
        "a look-ahead pattern": source.replace(
            "      - '\\b(?:cunt|", "      - 'a(?!b)'\n      - '\\b(?:cunt|", 1
        ),
    }
    rows = []
    for name, text in bombs.items():
        started = time.perf_counter()
        try:
            parse_policy(text, name="bomb.yaml")
            outcome = "loaded (linear-time on RE2)"
        except PolicyError as exc:
            outcome = str(exc).splitlines()[0][:120]
        rows.append({"policy": name, "seconds": round(time.perf_counter() - started, 3), "outcome": outcome})
    return rows


def _with_pattern(source: str, pattern: str) -> str:
    anchor = "      - '\\b(?:cunt|"
    return source.replace(anchor, f"      - '{pattern}'\n{anchor}", 1)


def _environment(heads: bool) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("CLASSMOD_")}
    environment.update(
        PYTHONPATH=str(ROOT),
        CLASSMOD_HEADS="true" if heads else "false",
        CLASSMOD_MODEL_DIR=os.environ.get("CLASSMOD_MODEL_DIR", str(ROOT / "models")),
        CLASSMOD_LOG_LEVEL="ERROR",
    )
    return environment


def render(results: dict[str, Any]) -> str:
    fuzzed = results["fuzz"]
    lines = [
        "## Fuzz: `classmod check --json`",
        "",
        "| lines | seed | answered | errors | seconds | problems |",
        "|---|---|---|---|---|---|",
        f"| {fuzzed['lines']:,} | {fuzzed['seed']} | {fuzzed['answered']:,} | {fuzzed['errors']:,} "
        f"| {fuzzed['seconds']} | {'; '.join(fuzzed['problems']) or 'none'} |",
        "",
        "## Worst cases: one adversarial message",
        "",
        "| message | size | assess (s) | check --json, whole process (s) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row['message']} | {row['size']} | {row['assess_s']} | {row['check_json_s']} |"
        for row in results["worst_cases"]
    ]
    lines += ["", "## Policy bombs", "", "| policy | seconds | outcome |", "|---|---|---|"]
    lines += [f"| {row['policy']} | {row['seconds']} | {row['outcome']} |" for row in results["policy_bombs"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--heads", action="store_true", help="score with the policy heads as well")
    parser.add_argument("--json", type=Path, help="where to write the results")
    args = parser.parse_args(argv)
    print("policy bombs ...", flush=True)
    bombs = policy_bombs()
    print("worst cases ...", flush=True)
    worst = worst_cases(args.heads)
    print(f"fuzz: {args.lines:,} lines ...", flush=True)
    results = {
        "fuzz": fuzz(args.lines, args.seed, args.heads),
        "worst_cases": worst,
        "policy_bombs": bombs,
        "heads": args.heads,
    }
    print(render(results))
    write_results(results, args.json, "hostile")
    return 1 if results["fuzz"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
