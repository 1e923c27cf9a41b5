"""How the heads' model was chosen (issue 12): trained on other writers' rounds, measured on a new one's.

Run it with ``.venv/bin/python bench/writer_shift.py [--test round7]``. Every training file whose name
starts with the prefix is held apart; the candidates are trained on the rest and scored on it, so the
measure is how far each generalises to wording another writer chose, which is what the held-out split
and real learners ask of it. The held-out split is never read here.

Candidates, each over the sentence encoder's embeddings:

- ``logistic + parts``: what ``classmod model train`` ships (a logistic regression per category over
  the embedding beside hashed, TF-IDF-weighted word and character n-grams, ``C`` as in training, the
  staff-conduct head on staff's messages alone; for safeguarding one more per sub-kind, blended with the
  head as ``PolicyHeads`` does);
- ``logistic``: the same without the parts;
- ``logistic, embedding only``: the same without the n-grams;
- ``mlp``: a small multi-label network over the embedding (384 → 256 → 8, dropout, class-weighted);
- ``logistic + mlp``: the two standardised and summed;
- ``nearest``: the mean cosine of the five nearest positives less that of the five nearest negatives.

Measure per category, threshold-free so the candidates are compared by ranking alone: recall at 3%
false positives on the test round's ordinary messages (tutors' messages for staff conduct), and for
safeguarding recall at precision 0.90 (the policy's targets). Prints a Markdown table; a benchmark, not
a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.app import encoder_folder  # noqa: E402
from bot.config import load_settings  # noqa: E402
from moderation.heads.dataset import HEAD_CATEGORIES, Example, default_training_dir, read_examples  # noqa: E402
from moderation.heads.features import Features, FeatureSpec  # noqa: E402
from moderation.heads.model import blended_margins  # noqa: E402
from moderation.heads.names import NameSwap  # noqa: E402
from moderation.heads.training import (  # noqa: E402
    _classifier,
    _fit_all,
    _jobs,
    _parts,
    judged_by,
    learns_from,
)
from moderation.serving.sentence_encoder import SentenceEncoder  # noqa: E402
from moderation.types import Category  # noqa: E402

Scores = Callable[[int], np.ndarray]
"""A candidate: a category's column in, the test round's scores out."""


def split(prefix: str) -> tuple[list[Example], list[Example]]:
    train, test = [], []
    for path in sorted((default_training_dir() / "train").glob("*.jsonl")):
        (test if path.name.startswith(prefix) else train).extend(read_examples(path))
    if not test:
        raise SystemExit(f"no training file starts with {prefix!r}")
    return NameSwap.shipped().examples(train), test  # trained as `make train` trains


def recall_at_target(
    score: np.ndarray, target: np.ndarray, ordinary: np.ndarray, category: Category
) -> float:
    if not target.any():
        return float("nan")
    if category is Category.SAFEGUARDING:
        order = np.argsort(-score)
        true_positives = np.cumsum(target[order])
        precise = np.flatnonzero(true_positives / np.arange(1, len(score) + 1) >= 0.90)
        return float(true_positives[precise.max()] / target.sum()) if len(precise) else 0.0
    threshold = np.quantile(score[ordinary], 0.97)
    return float((score[target] > threshold).mean())


def mlp_scores(train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
    import torch

    torch.manual_seed(0)
    inputs, targets = torch.tensor(train), torch.tensor(labels, dtype=torch.float32)
    share = targets.mean(0)
    net = torch.nn.Sequential(
        torch.nn.Dropout(0.1),
        torch.nn.Linear(train.shape[1], 256),
        torch.nn.GELU(),
        torch.nn.Dropout(0.3),
        torch.nn.Linear(256, labels.shape[1]),
    )
    optimiser = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-2)
    loss = torch.nn.BCEWithLogitsLoss(pos_weight=((1 - share) / share).clamp(max=20))
    for _ in range(40):
        order = torch.randperm(len(inputs))
        for begin in range(0, len(inputs), 128):
            batch = order[begin : begin + 128]
            optimiser.zero_grad()
            loss(net(inputs[batch]), targets[batch]).backward()
            optimiser.step()
    net.eval()
    with torch.no_grad():
        return net(torch.tensor(test)).numpy()


def candidates(
    train: Sequence[Example], test: Sequence[Example], encoder: SentenceEncoder
) -> dict[str, Scores]:
    train_texts, test_texts = [e.text for e in train], [e.text for e in test]
    train_vectors, test_vectors = encoder.encode(train_texts), encoder.encode(test_texts)
    labels = np.array([[e.has(c) for c in HEAD_CATEGORIES] for e in train])
    features = Features(FeatureSpec())
    features.fit_idf(train_texts)
    train_rows = features.matrix(train_vectors, train_texts)
    test_rows = features.matrix(test_vectors, test_texts)

    def logistic(column: int) -> np.ndarray:
        learns = learns_from(HEAD_CATEGORIES[column], train)  # staff's messages alone for staff conduct
        model = _classifier().fit(train_rows[learns], labels[learns, column])
        return model.decision_function(test_rows)

    def with_parts(column: int) -> np.ndarray:
        target = labels[:, column]
        parts = _parts(train, HEAD_CATEGORIES[column], target)
        head, *models = _fit_all(
            train_rows, _jobs(learns_from(HEAD_CATEGORIES[column], train), target, parts)
        )
        part_margins = np.zeros((len(test), len(models)))
        for index, model in enumerate(models):
            part_margins[:, index] = model.decision_function(test_rows)
        margins = head.decision_function(test_rows)[:, None]
        return blended_margins(margins, part_margins, np.zeros(len(models), np.int32))[:, 0]

    def embedding_only(column: int) -> np.ndarray:
        return _classifier().fit(train_vectors, labels[:, column]).decision_function(test_vectors)

    network = mlp_scores(train_vectors, labels, test_vectors)

    def blend(column: int) -> np.ndarray:
        a, b = logistic(column), network[:, column]
        return (a - a.mean()) / a.std() + (b - b.mean()) / b.std()

    cosines = test_vectors @ train_vectors.T

    def nearest(column: int) -> np.ndarray:
        positive = labels[:, column]
        near = np.sort(cosines[:, positive], axis=1)[:, -5:].mean(axis=1)
        far = np.sort(cosines[:, ~positive], axis=1)[:, -5:].mean(axis=1)
        return near - far

    return {
        "logistic + parts (shipped)": with_parts,
        "logistic": logistic,
        "logistic, embedding only": embedding_only,
        "mlp": lambda column: network[:, column],
        "logistic + mlp": blend,
        "nearest": nearest,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--test", default="round7", help="the writer's round held apart (a file-name prefix)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    train, test = split(args.test)
    settings = load_settings(require_detoxify=False)
    encoder = SentenceEncoder.load(encoder_folder(settings), threads=settings.model_threads)
    truth = np.array([[e.has(c) for c in HEAD_CATEGORIES] for e in test])
    ordinary = ~truth.any(axis=1)
    positives = ", ".join(f"{c.value} {int(n)}" for c, n in zip(HEAD_CATEGORIES, truth.sum(0), strict=True))
    print(
        f"Writer shift: trained on {len(train)} lines, measured on {len(test)} lines of `{args.test}*` "
        f"(positives: {positives})\n"
    )
    print("| candidate | " + " | ".join(c.value for c in HEAD_CATEGORIES) + " | mean |")
    print("|---" * (len(HEAD_CATEGORIES) + 2) + "|")
    for name, scores in candidates(train, test, encoder).items():
        cells = []
        for column, category in enumerate(HEAD_CATEGORIES):
            judged = judged_by(category, test)
            score = scores(column)
            cells.append(recall_at_target(score[judged], truth[judged, column], ordinary[judged], category))
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in cells) + f" | {np.nanmean(cells):.3f} |")
    print(f"\n{time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
