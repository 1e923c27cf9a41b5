"""How well the policy heads and the whole bot do on the held-out split (issue 12): nothing is trained here.

Run it with ``.venv/bin/python bench/heads_eval.py`` (or ``make eval``). On
``policies/training/heldout/heldout.jsonl`` (written apart from the training data; see the DATASHEET):

a. the heads alone, at the thresholds the policy's targets choose (``moderation.heads.evaluation``);
b. the whole bot's decision, as ``classmod check`` makes it (``bot.cli.check.deciding``: the scorer that
   ``bot.app.load_scorer`` loads, then ``assess`` with the phrase detectors and personal data), per
   category: precision, recall and the false positive rate on ordinary (label ``none``) messages; heads
   on (no Detoxify here: the heads are the model) and heads off (the profanity fallback and the phrases).
   Each message's author has the example's role (staff conduct is written by tutors);
c. the whole bot's safeguarding recall per sub-kind (the ``kind`` field);
d. threshold-free, the heads' recall where the issue sets its targets on this split's own curve (how
   well they rank it; the thresholds are never set here).

It prints Markdown tables and writes ``bench/results/heads-eval-<date>.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.heads import load_now, plain_model_dir, write_results  # noqa: E402
from bench.writer_shift import recall_at_target  # noqa: E402
from bot.app import load_scorer, load_semantic, scoring_service  # noqa: E402
from bot.cli.check import CHECK_BATCH, deciding  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from moderation.heads.dataset import HEAD_CATEGORIES, Example, default_training_dir, read_examples  # noqa: E402
from moderation.heads.evaluation import evaluate, format_table  # noqa: E402
from moderation.policy import Policy, load_policy  # noqa: E402
from moderation.scorers.semantic import LABEL_PREFIX, SemanticScorer  # noqa: E402
from moderation.types import Category, Role  # noqa: E402

HELDOUT = default_training_dir() / "heldout" / "heldout.jsonl"


def decide_all(examples: Sequence[Example], settings: Settings, policy: Policy) -> tuple[str, list[set[str]]]:
    """Each example's flagged categories, as ``classmod check`` decides them."""
    scorer = load_scorer(settings, policy).scorer
    flagged: list[set[str]] = []
    with deciding(scoring_service(settings, scorer, max_batch=CHECK_BATCH), policy) as decide:
        for begin in range(0, len(examples), CHECK_BATCH):
            batch = examples[begin : begin + CHECK_BATCH]
            decisions = decide([(example.text, Role(example.role)) for example in batch])
            flagged += [{category.value for category in decision.flagged} for decision in decisions]
    return scorer.name, flagged


def measure(examples: Sequence[Example], flagged: Sequence[set[str]]) -> list[dict[str, Any]]:
    ordinary = [found for example, found in zip(examples, flagged, strict=True) if not example.categories]
    rows = []
    for category in (*HEAD_CATEGORIES, None):
        name = category.value if category else "any category"

        def breaches(example: Example, category: Category | None = category) -> bool:
            return example.has(category) if category else bool(example.categories)

        def fired(found: set[str], name: str = name) -> bool:
            return name in found if name != "any category" else bool(found)

        pairs = list(zip(examples, flagged, strict=True))
        positives = sum(1 for example, _ in pairs if breaches(example))
        hits = sum(1 for found in flagged if fired(found))
        true_positives = sum(1 for example, found in pairs if breaches(example) and fired(found))
        false_positives = sum(1 for found in ordinary if fired(found))
        rows.append(
            {
                "category": name,
                "positives": positives,
                "flagged": hits,
                "true_positives": true_positives,
                "precision": true_positives / hits if hits else 1.0,
                "recall": true_positives / positives if positives else 0.0,
                "false_positives_on_ordinary": false_positives,
                "ordinary": len(ordinary),
                "false_positive_rate": false_positives / len(ordinary) if ordinary else 0.0,
            }
        )
    return rows


def by_subkind(examples: Sequence[Example], runs: dict[str, list[set[str]]]) -> list[dict[str, Any]]:
    kinds = sorted({example.kind for example in examples if example.has(Category.SAFEGUARDING)})
    rows = []
    for kind in kinds:
        chosen = [
            i
            for i, example in enumerate(examples)
            if example.has(Category.SAFEGUARDING) and example.kind == kind
        ]
        row: dict[str, Any] = {"kind": kind, "positives": len(chosen)}
        for label, flagged in runs.items():
            row[label] = sum(1 for i in chosen if "safeguarding" in flagged[i]) / len(chosen)
        rows.append(row)
    return sorted(rows, key=lambda row: (row["heads on"], row["kind"]))


def operating_points(semantic: SemanticScorer, examples: Sequence[Example]) -> list[dict[str, Any]]:
    """Threshold-free: each head's recall where the issue sets its targets, on this split's own curve.

    Safeguarding's recall at the lowest cut where 0.90 of its flags are disclosures, the others' at the
    cut that flags 3% of this split's ordinary messages (tutors' for staff conduct), as
    ``bench/writer_shift.py`` measures a writer's round. It says how well the heads rank this split; the
    bot's thresholds come from cross-validation on the training data and are never moved by it.
    """
    texts = [example.text for example in examples]
    scored = [
        result
        for begin in range(0, len(texts), 64)
        for result in semantic.score_batch(texts[begin : begin + 64])
    ]
    truth = np.array([[example.has(category) for category in HEAD_CATEGORIES] for example in examples])
    ordinary = ~truth.any(axis=1)
    tutors = np.array([example.role == Role.TUTOR.value for example in examples])
    rows = []
    for column, category in enumerate(HEAD_CATEGORIES):
        score = np.array([result.get(LABEL_PREFIX + category.value, 0.0) for result in scored])
        judged = tutors if category is Category.STAFF_CONDUCT else np.ones(len(examples), bool)
        recall = recall_at_target(score[judged], truth[judged, column], ordinary[judged], category)
        rows.append({"category": category.value, "recall": recall})
    return rows


def render(results: dict[str, Any]) -> str:
    lines = [
        f"Held-out evaluation, {results['when']}: {results['examples']} examples "
        f"({results['ordinary']} ordinary) from {results['heldout']}; load average (1, 5, 15 min) "
        f"{results['load_before']} before, {results['load_after']} after; {results['seconds']:.0f} s.",
        "",
        f"a. The heads alone ({results['heads']})",
        "",
        results["heads_table"],
        "",
        "b. The whole bot's decision (`classmod check`: scorer + phrase detectors + personal data + engine); "
        f"heads on: {results['scorers']['heads on']}; heads off: {results['scorers']['heads off']}",
        "",
        "| category | positives | on: precision | on: recall | on: FPR ordinary | off: precision | "
        "off: recall | off: FPR ordinary |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for on, off in zip(results["bot"]["heads on"], results["bot"]["heads off"], strict=True):
        cells = [
            f"{row['precision']:.3f} | {row['recall']:.3f} | {row['false_positive_rate']:.3f} "
            f"({row['false_positives_on_ordinary']}/{row['ordinary']})"
            for row in (on, off)
        ]
        lines.append(f"| {on['category']} | {on['positives']} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        "c. Safeguarding recall per sub-kind, whole bot (weakest first)",
        "",
        "| kind | positives | heads on | heads off |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row['kind']} | {row['positives']} | {row['heads on']:.2f} | {row['heads off']:.2f} |"
        for row in results["subkinds"]
    ]
    lines += [
        "",
        "d. Threshold-free, the heads alone: recall where the issue sets its targets, on this split's own "
        "curve (safeguarding at precision 0.90, the others at 3% of this split's ordinary messages flagged). "
        "How well the heads rank this split, not what the bot does: its thresholds come from the training "
        "data's cross-validation and are never set here.",
        "",
        "| category | recall | target |",
        "|---|---|---|",
    ]
    lines += [
        f"| {row['category']} | {row['recall']:.3f} | {0.95 if row['category'] == 'safeguarding' else 0.85} |"
        for row in results["operating_points"]
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--heldout", type=Path, default=HELDOUT, help="the held-out JSON lines")
    parser.add_argument("--json", type=Path, help="default bench/results/heads-eval-<date>.json")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    load_before = load_now()
    examples = read_examples(args.heldout)
    model_dir = plain_model_dir()
    settings = {
        label: load_settings(model_dir=model_dir, heads=heads, require_detoxify=False)
        for label, heads in (("heads on", True), ("heads off", False))
    }
    policy = load_policy(settings["heads on"].policy_file)
    semantic = load_semantic(settings["heads on"], policy)
    head_scores = evaluate(semantic, examples)
    scorers, runs = {}, {}
    for label, each in settings.items():
        scorers[label], runs[label] = decide_all(examples, each, policy)
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "heldout": str(args.heldout.relative_to(ROOT) if args.heldout.is_relative_to(ROOT) else args.heldout),
        "examples": len(examples),
        "ordinary": sum(1 for example in examples if not example.categories),
        "heads": f"{semantic.heads.description} over {semantic.encoder.name}",
        "heads_table": format_table(head_scores),
        "heads_scores": [
            {
                "category": score.category.value,
                "threshold": score.threshold,
                "precision": score.precision,
                "recall": score.recall,
                "false_positive_rate": score.false_positive_rate,
                "positives": score.positives,
            }
            for score in head_scores
        ],
        "scorers": scorers,
        "bot": {label: measure(examples, flagged) for label, flagged in runs.items()},
        "subkinds": by_subkind(examples, runs),
        "operating_points": operating_points(semantic, examples),
        "load_before": load_before,
        "load_after": load_now(),
        "seconds": time.perf_counter() - began,
    }
    print(render(results))
    write_results(results, args.json, "heads-eval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
