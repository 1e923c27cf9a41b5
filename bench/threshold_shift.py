"""Do the heads' thresholds carry to a writer they have not seen? (issue 12; a benchmark, not a test)

Run it with ``.venv/bin/python bench/threshold_shift.py [--test round7]``. Every training file whose name
starts with the prefix is held apart, as in ``bench/writer_shift.py``; the heads (logistic + parts, as
``classmod model train`` fits them) are trained on the rest, and each category's cut is chosen by the
policy's target (safeguarding: precision 0.90; the others: 3% of ordinary messages, tutors' for staff
conduct) on out-of-fold margins, two ways:

- stratified 5-fold cross-validation, as training does;
- 5 folds that never split a writer's round (``GroupKFold`` over the file names' ``roundN``).

Each cut is applied to the held-apart round, whose recall, false positive rate on its ordinary messages
and precision are printed beside the recall at that round's own cut (what its curve allows). Margins, not
probabilities: Platt scaling is monotone, so the cut is the same either way. The held-out split is never
read here. About 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sklearn.model_selection import GroupKFold  # noqa: E402

from bench.writer_shift import split  # noqa: E402
from bot.app import encoder_folder  # noqa: E402
from bot.config import load_settings  # noqa: E402
from moderation.heads import training  # noqa: E402
from moderation.heads.dataset import HEAD_CATEGORIES  # noqa: E402
from moderation.heads.features import Features, FeatureSpec  # noqa: E402
from moderation.heads.model import blended_margins  # noqa: E402
from moderation.serving.sentence_encoder import SentenceEncoder  # noqa: E402
from moderation.types import Category  # noqa: E402


def cut(score: np.ndarray, target: np.ndarray, ordinary: np.ndarray, category: Category) -> float:
    """The margin the policy's target picks on these scores."""
    if category is Category.SAFEGUARDING:
        order = np.argsort(-score)
        precise = np.flatnonzero(np.cumsum(target[order]) / np.arange(1, len(score) + 1) >= 0.90)
        return float(score[order][precise.max()]) if len(precise) else float("inf")
    return float(np.quantile(score[ordinary], 0.97))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--test", default="round7", help="the writer's round held apart (a file-name prefix)")
    args = parser.parse_args(argv)
    train, test = split(args.test)
    settings = load_settings(require_detoxify=False)
    encoder = SentenceEncoder.load(encoder_folder(settings), threads=settings.model_threads)
    train_texts, test_texts = [e.text for e in train], [e.text for e in test]
    features = Features(FeatureSpec())
    features.fit_idf(train_texts)
    rows = features.matrix(encoder.encode(train_texts), train_texts)
    test_rows = features.matrix(encoder.encode(test_texts), test_texts)
    labels = np.array([[e.has(c) for c in HEAD_CATEGORIES] for e in train])
    truth = np.array([[e.has(c) for c in HEAD_CATEGORIES] for e in test])
    ordinary, test_ordinary = ~labels.any(axis=1), ~truth.any(axis=1)
    strata = np.array([training._stratum(e) for e in train])
    rounds = np.array([e.source.split("_")[0] if e.source.startswith("round") else "base" for e in train])
    print(f"Thresholds from training without `{args.test}*`, measured on it ({len(test)} lines)\n")
    print("| category | rule | recall | FPR | precision |\n|---|---|---|---|---|")
    for column, category in enumerate(HEAD_CATEGORIES):
        # What the head learns from, as training has it (training.learns_from).
        learns = training.learns_from(category, train)
        judged = training.judged_by(category, test)
        target = labels[learns, column]
        parts = [(name, part[learns]) for name, part in training._parts(train, category, labels[:, column])]
        some = training._some(rows, learns)
        head, *models = training._fit_all(some, training._jobs(np.arange(len(learns)), target, parts))
        part_margins = np.column_stack(
            [m.decision_function(test_rows) for m in models] or [np.zeros(len(test))]
        )
        final = blended_margins(
            head.decision_function(test_rows)[:, None],
            part_margins[:, : len(models)],
            np.zeros(len(models), np.int32),
        )[:, 0][judged]
        y, negatives = truth[judged, column], test_ordinary[judged]
        rules = {
            "stratified 5 folds (shipped)": None,
            "rounds never split": list(GroupKFold(5).split(learns, groups=rounds[learns])),
        }
        for name, folds in rules.items():
            oof = training._out_of_fold(some, target, strata[learns], parts, folds)
            # Chosen on staff's messages for staff conduct, as training chooses it.
            staff = training.judged_by(category, train)[learns]
            flagged = final >= cut(oof[staff], target[staff], ordinary[learns][staff], category)
            print(
                f"| {category.value} | {name} | {(flagged & y).sum() / max(1, y.sum()):.3f} | "
                f"{(flagged & negatives).sum() / max(1, negatives.sum()):.3f} | "
                f"{(flagged & y).sum() / max(1, flagged.sum()):.3f} |",
                flush=True,
            )
        own = final >= cut(final, y, negatives, category)
        print(
            f"| {category.value} | the round's own cut | {(own & y).sum() / max(1, y.sum()):.3f} | "
            f"{(own & negatives).sum() / max(1, negatives.sum()):.3f} | |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
