"""The offline path against alt-profanity-check alone on public offensive-language sets (issue 12).

Nothing is trained here, and classmod's heads were never trained on these sets (the script counts any
text that also appears in ``policies/training/``). No package on PyPI, npm or Debian ships any of these
sets, so the files are read from where you put them, never downloaded:

- ``--tweeteval DIR``: a checkout of github.com/cardiffnlp/tweeteval (its ``datasets/`` folder).
  From it, ``offensive/test_*`` is the OLID test set of OffensEval 2019 sub-task A (860 tweets, 240
  offensive; TweetEval is "released without any restrictions", OLID itself states no licence, and the
  tweets stay under Twitter's terms) and ``hate/test_*`` the HatEval 2019 English test set (2,970
  tweets; hate against immigrants and women, so a tweet that is only rude counts as *not* hateful).
- ``--ethos CSV``: ``ethos/ethos_data/Ethos_Dataset_Binary.csv`` from
  github.com/intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset (998 comments, GPL-3.0); a comment
  counts as hate when its ``isHate`` share of annotators is 0.5 or more, as in the ETHOS paper.

Keep these files outside the repository: their licences do not fit classmod's MIT one.

For each set, on the same messages, it gives precision, recall, F1 and the false positive rate (on
the set's non-offensive messages) of:

a. alt-profanity-check alone (``profanity_check.predict_prob``) at its own 0.5 cut;
b. the offline bot, as ``classmod check`` decides (``bot.cli.check.deciding``: the scorer that
   ``bot.app.load_scorer`` loads, phrase detectors, personal data, engine), heads on and heads off
   (heads off is alt-profanity-check plus the phrase detectors), every author a learner. A message
   counts as found when the bot flags any abuse category (harassment, civility, extremism, sexual,
   incitement) or its action is anything but ``allow``; a second row counts the abuse flags alone;
c. the bot's highest abuse-category score (``Decision.scores``) with one shared cut placed at
   alt-profanity-check@0.5's FP rate. This is not the bot's own per-head thresholds: it says how well
   the bot's scores rank the messages, not what the bot does;
d. "flag everything", the F1 that any system must beat to mean anything.

Beside every row stands alt-profanity-check's F1 with its cut moved so that its FP rate comes as close
to the row's as it can without passing it: F1 at the same false positive rate; then the row's F1 minus
that one, with a 95% paired bootstrap interval over the set's messages (both cuts held fixed).

It prints Markdown tables and writes ``bench/results/public-eval-<date>.json``. Run it with
``make eval-public TWEETEVAL=DIR ETHOS=CSV`` or ``.venv/bin/python bench/public_eval.py --tweeteval DIR
--ethos CSV`` (either set alone is fine).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.heads import load_now, plain_model_dir, write_results  # noqa: E402
from bot.app import load_scorer, scoring_service  # noqa: E402
from bot.cli.check import CHECK_BATCH, deciding  # noqa: E402
from bot.config import Settings, load_settings  # noqa: E402
from moderation.heads.dataset import default_training_dir  # noqa: E402
from moderation.policy import Policy, load_policy  # noqa: E402
from moderation.scorers.base import TextScorer  # noqa: E402
from moderation.types import ActionKind, Category, Role  # noqa: E402

ABUSE = (Category.HARASSMENT, Category.CIVILITY, Category.EXTREMISM, Category.SEXUAL, Category.INCITEMENT)


@dataclass(frozen=True)
class PublicSet:
    name: str
    source: str
    licence: str
    texts: list[str]
    offensive: list[bool]


def read_tweeteval(root: Path, task: str, name: str, licence: str) -> PublicSet:
    folder = root / "datasets" / task if (root / "datasets").is_dir() else root / task
    texts = (folder / "test_text.txt").read_text(encoding="utf-8").splitlines()
    labels = (folder / "test_labels.txt").read_text(encoding="utf-8").split()
    if len(texts) != len(labels):
        raise SystemExit(f"{folder}: {len(texts)} texts but {len(labels)} labels")
    return PublicSet(name, f"{folder}/test_*", licence, texts, [label == "1" for label in labels])


def read_ethos(path: Path) -> PublicSet:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    return PublicSet(
        "ETHOS binary (isHate >= 0.5)",
        str(path),
        "GPL-3.0",
        [row["comment"] for row in rows],
        [float(row["isHate"]) >= 0.5 for row in rows],
    )


def training_texts() -> set[str]:
    texts: set[str] = set()
    for path in sorted(default_training_dir().rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.add(str(json.loads(line)["text"]).strip().casefold())
    return texts


@dataclass(frozen=True)
class BotRun:
    acts: list[bool]
    """The bot flags an abuse category or acts at all (what the issue counts as found)."""
    abuse: list[bool]
    """The bot flags an abuse category (defamation, safeguarding, personal data left out)."""
    scores: list[float]
    """The highest abuse-category score in the decision."""
    flagged: list[set[str]] = field(default_factory=list)
    """Every category the bot flags, each message's."""


def decide(texts: Sequence[str], settings: Settings, scorer: TextScorer, policy: Policy) -> BotRun:
    """The bot's decision on each text, as ``classmod check`` makes it for a learner."""
    run = BotRun([], [], [])
    with deciding(scoring_service(settings, scorer, max_batch=CHECK_BATCH), policy) as decide_batch:
        for begin in range(0, len(texts), CHECK_BATCH):
            batch = texts[begin : begin + CHECK_BATCH]
            for decision in decide_batch([(text, Role.LEARNER) for text in batch]):
                abuse = any(category in ABUSE for category in decision.flagged)
                run.abuse.append(abuse)
                run.acts.append(abuse or decision.action is not ActionKind.ALLOW)
                run.scores.append(max(decision.scores.get(category, 0.0) for category in ABUSE))
                run.flagged.append({category.value for category in decision.flagged})
    return run


def confusion(truth: Sequence[bool], found: Sequence[bool]) -> dict[str, Any]:
    tp = sum(1 for t, f in zip(truth, found, strict=True) if t and f)
    fp = sum(1 for t, f in zip(truth, found, strict=True) if not t and f)
    positives = sum(truth)
    negatives = len(truth) - positives
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "true_positives": tp,
        "false_positives": fp,
        "positives": positives,
        "negatives": negatives,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "false_positive_rate": fp / negatives if negatives else 0.0,
    }


def at_fpr(truth: Sequence[bool], scores: Sequence[float], target: float) -> dict[str, Any]:
    """The lowest cut on ``scores`` whose FP rate does not pass ``target``, and what it scores there."""
    negatives = sorted((s for s, t in zip(scores, truth, strict=True) if not t), reverse=True)
    allowed = int(target * len(negatives) + 1e-9)  # false positives the target allows
    # Flag s >= cut. Every negative at or above the cut is a false positive, so the cut must sit above
    # the (allowed + 1)-th highest negative score.
    if allowed >= len(negatives):
        cut = min(scores)
    else:
        ceiling = negatives[allowed]
        above = sorted({s for s in scores if s > ceiling})
        cut = above[0] if above else ceiling + 1.0
    row = confusion(truth, [s >= cut for s in scores])
    row["cut"] = cut
    row["target_false_positive_rate"] = target
    return row


def f1_gap_interval(
    truth: Sequence[bool], ours: Sequence[bool], theirs: Sequence[bool], rounds: int = 2000
) -> list[float]:
    """A 95% paired bootstrap interval of F1(ours) - F1(theirs), both systems' cuts held fixed."""
    rng = np.random.default_rng(12)
    t, a, b = (np.asarray(x, dtype=bool) for x in (truth, ours, theirs))
    picks = rng.integers(0, len(t), size=(rounds, len(t)))
    tt, aa, bb = t[picks], a[picks], b[picks]

    def f1(found: Any) -> Any:
        tp = (tt & found).sum(axis=1)
        return 2 * tp / np.maximum(tt.sum(axis=1) + found.sum(axis=1), 1)

    gaps = f1(aa) - f1(bb)
    return [float(np.quantile(gaps, 0.025)), float(np.quantile(gaps, 0.975))]


def evaluate(
    public: PublicSet, bots: dict[str, tuple[str, Callable[[Sequence[str]], BotRun]]], trained_on: set[str]
) -> dict[str, Any]:
    """Every system's precision, recall, F1 and FP rate on one set, each beside alt-profanity-check's
    F1 at the same FP rate."""
    from profanity_check import predict_prob

    truth = public.offensive
    apc = [float(p) for p in predict_prob(public.texts)]

    def system(name: str, found: Sequence[bool], cut: str) -> dict[str, Any]:
        row = confusion(truth, found)
        row["system"], row["cut"] = name, cut
        matched = at_fpr(truth, apc, row["false_positive_rate"])
        row["alt-profanity-check at this FP rate"] = matched
        row["f1_gap_95"] = f1_gap_interval(truth, found, [p >= matched["cut"] for p in apc])
        return row

    baseline = system("alt-profanity-check alone", [p >= 0.5 for p in apc], "0.5")
    systems = [system("flag everything (reference)", [True] * len(truth), "-"), baseline]
    ordinary_flags: dict[str, dict[str, int]] = {}
    for label, (scorer, run) in bots.items():
        bot = run(public.texts)
        ordinary = [found for found, offensive in zip(bot.flagged, truth, strict=True) if not offensive]
        ordinary_flags[label] = dict(Counter(name for found in ordinary for name in found).most_common())
        systems.append(system(f"bot, {label} ({scorer})", bot.acts, "the policy's"))
        if bot.abuse != bot.acts:
            systems.append(system(f"bot, {label}, abuse flags only", bot.abuse, "the policy's"))
        ranked = at_fpr(truth, bot.scores, baseline["false_positive_rate"])
        systems.append(
            system(
                f"bot, {label}: top abuse score, cut at alt-profanity-check@0.5's FP rate",
                [score >= ranked["cut"] for score in bot.scores],
                f"{ranked['cut']:.3f}",
            )
        )
    return {
        "set": public.name,
        "source": public.source,
        "licence": public.licence,
        "messages": len(truth),
        "offensive": sum(truth),
        "also_in_training": sum(1 for text in public.texts if text.strip().casefold() in trained_on),
        "systems": systems,
        "ordinary_flagged_by_category": ordinary_flags,
    }


def render(results: dict[str, Any]) -> str:
    lines = [
        f"Public sets, {results['when']}; nothing trained on them; load average (1, 5, 15 min) "
        f"{results['load_before']} before, {results['load_after']} after; {results['seconds']:.0f} s.",
        "Found: the bot flags harassment, civility, extremism, sexual or incitement, or acts at all (every "
        "author a learner). FPR: on the set's non-offensive messages. Last column: alt-profanity-check with "
        "its cut moved to the row's FP rate (or just under it).",
        "",
    ]
    for each in results["sets"]:
        lines += [
            f"{each['set']}: {each['messages']} messages, {each['offensive']} offensive; {each['licence']}; "
            f"{each['also_in_training']} also in classmod's training data",
            "",
            "| system | cut | precision | recall | F1 | FPR | alt-profanity-check F1 at this FPR (cut) "
            "| F1 gap, 95% bootstrap |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in each["systems"]:
            matched = row["alt-profanity-check at this FP rate"]
            lines.append(
                f"| {row['system']} | {row['cut']} | {row['precision']:.3f} | {row['recall']:.3f} | "
                f"**{row['f1']:.3f}** | {row['false_positive_rate']:.3f} "
                f"({row['false_positives']}/{row['negatives']}) | "
                f"{matched['f1']:.3f} ({matched['cut']:.3f}) | "
                f"{row['f1'] - matched['f1']:+.3f} [{row['f1_gap_95'][0]:+.3f}, {row['f1_gap_95'][1]:+.3f}] |"
            )
        negatives = each["messages"] - each["offensive"]
        for label, counts in each.get("ordinary_flagged_by_category", {}).items():
            listed = ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"
            lines.append(f"\nThe {negatives} non-offensive messages' flags, bot {label}: {listed}.")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tweeteval", type=Path, help="a cardiffnlp/tweeteval checkout (or its datasets/)")
    parser.add_argument("--ethos", type=Path, help="ETHOS's Ethos_Dataset_Binary.csv")
    parser.add_argument(
        "--no-hateval", action="store_true", help="with --tweeteval, only OLID (skip the HatEval test set)"
    )
    parser.add_argument("--json", type=Path, help="default bench/results/public-eval-<date>.json")
    args = parser.parse_args(argv)
    if args.tweeteval is None and args.ethos is None:
        parser.error(
            "give --tweeteval DIR and/or --ethos CSV (see this script's docstring for where to get them)"
        )
    began = time.perf_counter()
    load_before = load_now()
    sets: list[PublicSet] = []
    if args.tweeteval is not None:
        sets.append(
            read_tweeteval(
                args.tweeteval,
                "offensive",
                "OLID test A (OffensEval 2019, via TweetEval)",
                "OLID: none stated; TweetEval: no restrictions; Twitter's terms",
            )
        )
        if not args.no_hateval:
            sets.append(
                read_tweeteval(
                    args.tweeteval,
                    "hate",
                    "HatEval 2019 English test (via TweetEval)",
                    "HatEval: research use; TweetEval: no restrictions; Twitter's terms",
                )
            )
    if args.ethos is not None:
        sets.append(read_ethos(args.ethos))

    model_dir = plain_model_dir()
    settings = {
        label: load_settings(model_dir=model_dir, heads=heads, require_detoxify=False)
        for label, heads in (("heads on", True), ("heads off", False))
    }
    policy = load_policy(settings["heads on"].policy_file)
    bots: dict[str, tuple[str, Callable[[Sequence[str]], BotRun]]] = {}
    for label, each in settings.items():
        scorer = load_scorer(each, policy).scorer

        def run(texts: Sequence[str], each: Settings = each, scorer: TextScorer = scorer) -> BotRun:
            return decide(texts, each, scorer, policy)

        bots[label] = (scorer.name, run)
    trained_on = training_texts()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": [evaluate(public, bots, trained_on) for public in sets],
    }
    results["load_before"] = load_before
    results["load_after"] = load_now()
    results["seconds"] = time.perf_counter() - began
    print(render(results))
    write_results(results, args.json, "public-eval")
    return 0


if __name__ == "__main__":
    sys.exit(main())
