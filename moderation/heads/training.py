"""Training the policy heads: reproducible, minutes on two cores, measured by cross-validation.

For each category a logistic regression is fitted over :class:`Features` (class-weighted, since
breaches are rarer than ordinary chat). Safeguarding is many kinds of harm that share few words, so
beside its head one *part* is fitted for each sub-kind (that kind's disclosures against every message
that is no disclosure), and its score blends the head with its best part (:func:`blended_margins`).
Five-fold cross-validation gives every training example a score from a model that never saw it;
those out-of-fold scores calibrate the head (Platt scaling) and give the curve of precision, false
positives on ordinary messages and recall at each threshold, from which the policy's targets choose
the threshold. The fits run on every core. Training never reads the held-out split.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from moderation.errors import PolicyError
from moderation.heads.dataset import HEAD_CATEGORIES, Example
from moderation.heads.features import Features, FeatureSpec
from moderation.heads.model import FORMAT, HEADS_FILE, MANIFEST_FILE, PART_WEIGHT, blended_margins
from moderation.types import Category, Role

__all__ = ["Encoder", "TrainingReport", "judged_by", "learns_from", "train_heads"]

Encoder = Callable[[Sequence[str]], np.ndarray]
"""Texts in, unit embeddings out (``SentenceEncoder.encode`` or a test's tiny encoder)."""

_FOLDS = 5
_REGULARISATION = 16.0
# Chosen by writer shift, never by the held-out split: trained on the first two rounds of data and
# measured on the third (another writer), mean recall at the targets was 0.67 for C=1, 0.69 for C=4,
# 0.71 for C=16 and C=64; weighting the embedding 2-3x over the n-grams lost 0.03-0.04.
_PARTED = (Category.SAFEGUARDING,)
"""Categories whose sub-kinds get parts of their own. Chosen by writer shift (``bench/writer_shift.py``):
safeguarding recall at precision 0.90 on another writer's round rose from 0.64 to 0.75-0.77 (round 7)
and from 0.92 to 0.96-0.97 (round 10); parts over k-means clusters of the other categories' breaches
gained 0.01 on average, so they have none."""
_MIN_PART = 30
"""A sub-kind with fewer training examples than this gets no part (its disclosures still train the head)."""
_STAFF_ONLY = {Category.STAFF_CONDUCT: (Role.TUTOR, Role.STAFF, Role.MODERATOR)}
"""Heads that judge only staff (the engine never applies them to learners). They learn from staff's
messages and from anyone's ordinary ones, not from learners' breaches: a learner's insult is civility, the
same words from a tutor are staff conduct. Chosen by writer shift (``bench/writer_shift.py``, threshold-free
recall at 3% of a held-apart round's staff ordinary messages, rounds 13 / 12 / 7): learning from every
message, 0.48 / 0.57 / 0.54; without learners' breaches, 0.55 / 0.72 / 0.69. Staff's messages alone found
0.74 / 0.87 / 0.77 but would flag 25-50% of learners' ordinary messages had a tutor written them ("I could
murder a coffee", "lol I'm dead"); this way 1.3-3.9%, within the 3% the threshold allows."""
_EVERY_BREACH_A_NEGATIVE = (Category.SAFEGUARDING,)
"""Heads that learn from other categories' breaches as negatives. The others do not: many messages breach
several categories (an insult aimed at a person is civility and harassment, a sexual comment about a
classmate sexual and harassment) and the writers seldom named more than one, so a head learnt that half of
what it should find is no breach. Disclosures stay negatives for every head, so none learns to call one a
breach of its own. Chosen by writer shift (``bench/writer_shift.py``'s measure, threshold-free recall at 3%
of the held-apart round's ordinary messages; rounds 13 / 12, each held apart from training): with every
breach a negative, civility 0.54 / 0.65, harassment 0.72 / 0.76, sexual 0.92 / 0.82, incitement 0.96 /
0.89, defamation 1.00 / 0.96; with only disclosures, civility 0.72 / 0.72, harassment 0.83 / 0.78, sexual
0.94 / 0.84, incitement 0.96 / 0.87, defamation 1.00 / 0.99 (extremism 0.97 both ways on round 12).
With no breach a negative it was 0.01-0.04 higher again, but a disclosure missed by the safeguarding head
would then more often reach moderators as harassment. Safeguarding keeps every breach a negative: its
target is precision, and a threat or an insult sent to the safeguarding officer is a false alarm there."""
_THRESHOLDS = np.round(np.arange(0.05, 0.991, 0.01), 2)


@dataclass(frozen=True, slots=True)
class TrainingReport:
    """What a training run produced: where, from how many examples, and the cross-validated curves."""

    path: Path
    examples: int
    positives: dict[str, int]
    seconds: float


def train_heads(
    examples: Sequence[Example],
    encode: Encoder,
    *,
    encoder_name: str,
    encoder_sha256: str,
    out_dir: Path,
    origin: str = "shipped",
    spec: FeatureSpec | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> TrainingReport:
    """Train, calibrate and write heads for every category into ``out_dir`` (replacing it whole).

    Args:
        examples: the labelled training examples (never the held-out split).
        encode: the sentence encoder the heads will run over.
        encoder_name: its name, recorded in the manifest.
        encoder_sha256: its weights' hash; the heads refuse to load over any other encoder.
        out_dir: where the heads are written.
        origin: ``shipped`` for the project's data, ``learned`` when moderators' verdicts are included.
        spec: the feature settings (defaults suit chat messages).
        progress: told each step, for the command line.
    """
    started = datetime.now(UTC)
    spec = spec or FeatureSpec()
    texts = [example.text for example in examples]
    progress(f"encoding {len(texts)} examples")
    embeddings = np.asarray(encode(texts), dtype=np.float32)
    features = Features(spec)
    features.fit_idf(texts)
    rows = features.matrix(embeddings, texts)
    labels = np.array([[example.has(category) for category in HEAD_CATEGORIES] for example in examples])
    ordinary = np.asarray(~labels.any(axis=1), dtype=bool)
    strata = np.array([_stratum(example) for example in examples])

    coefs, intercepts, platts, heads = [], [], [], {}
    part_coefs, part_intercepts, part_of, part_names = [], [], [], {}
    for column, category in enumerate(HEAD_CATEGORIES):
        target = labels[:, column]
        parts = _parts(examples, category, target)
        progress(f"training the {category.value} head" + (f" and its {len(parts)} parts" if parts else ""))
        # What each head learns from (see learns_from); a head that judges only staff is measured, and
        # its threshold chosen, on staff's messages among them.
        allowed = _STAFF_ONLY.get(category)
        judged = learns_from(category, examples)
        measured = judged_by(category, examples)[judged]
        if len(np.unique(target[judged][measured])) < 2:
            raise PolicyError(
                f"cannot train the {category.value} head: it needs breaches and ordinary messages"
                + (" written by staff" if allowed else "")
                + " among the training examples"
            )
        margins = _out_of_fold(
            _some(rows, judged),
            target[judged],
            strata[judged],
            [(name, part[judged]) for name, part in parts],
        )
        platt = _calibration(margins, target[judged])
        probability = expit(platt[0] * margins + platt[1])
        heads[category.value] = {
            "roles": [role.value for role in allowed] if allowed else None,
            "curve": _curve(probability[measured], target[judged][measured], ordinary[judged][measured]),
            "trained_on": {"examples": len(judged), "positives": int(target[judged].sum())},
        }
        model, *part_models = _fit_all(rows, _jobs(judged, target, parts))
        coefs.append(model.coef_.ravel().astype(np.float32))
        intercepts.append(float(model.intercept_[0]))
        platts.append(platt)
        for part_model in part_models:
            part_coefs.append(part_model.coef_.ravel().astype(np.float32))
            part_intercepts.append(float(part_model.intercept_[0]))
            part_of.append(column)
        if parts:
            part_names[category.value] = [name for name, _ in parts]

    progress("training the safeguarding sub-kinds and the neighbours")
    subkinds, subkind_coef, subkind_intercept = _subkinds(
        examples, embeddings, part_names.get(Category.SAFEGUARDING.value, [])
    )
    # A moderator's case is learnt from but never kept as a neighbour: its text would outlive a purge
    # in the heads' files and be shown as evidence on other learners' cases.
    from_case = np.array([example.source.startswith("case:") for example in examples], dtype=bool)
    positive = np.asarray(labels.any(axis=1), dtype=bool) & ~from_case
    mask_bits = (labels[positive] * (1 << np.arange(len(HEAD_CATEGORIES)))).sum(axis=1)
    weights = np.vstack(coefs + part_coefs)
    columns = np.flatnonzero(np.abs(weights).sum(axis=0) > 0)
    active_idf = np.flatnonzero(features.idf)
    arrays = {
        "embedding_width": np.array(embeddings.shape[1]),
        "idf_index": active_idf.astype(np.int32),
        "idf_value": features.idf[active_idf],
        "coef_columns": columns.astype(np.int32),
        # Half precision: probabilities move by 0.0001 at most, and the file shrinks by a quarter.
        "coef": weights[:, columns].T.astype(np.float16),
        "intercept": np.array(intercepts + part_intercepts),
        "part_of": np.array(part_of, dtype=np.int32),
        "platt": np.array(platts),
        "subkind_coef": subkind_coef,
        "subkind_intercept": subkind_intercept,
        "neighbour_vectors": embeddings[positive].astype(np.float16),
        "neighbour_mask": mask_bits.astype(np.int32),
    }
    manifest = {
        "format": FORMAT,
        "created": started.isoformat(timespec="seconds"),
        "origin": origin,
        "encoder": {"name": encoder_name, "sha256": encoder_sha256},
        "features": spec.as_dict(),
        "categories": [category.value for category in HEAD_CATEGORIES],
        "heads": heads,
        "parts": {"weight": PART_WEIGHT, "names": part_names},
        "subkinds": subkinds,
        "data": {
            "examples": len(examples),
            "sources": sorted(
                {example.source for example in examples if not example.source.startswith("case:")}
            ),
            "cases": sum(1 for example in examples if example.source.startswith("case:")),
        },
        "neighbour_texts": [example.text for example, flag in zip(examples, positive, strict=True) if flag],
    }
    _write(out_dir, manifest, arrays)
    return TrainingReport(
        path=out_dir,
        examples=len(examples),
        positives={c.value: int(labels[:, i].sum()) for i, c in enumerate(HEAD_CATEGORIES)},
        seconds=(datetime.now(UTC) - started).total_seconds(),
    )


def _classifier() -> LogisticRegression:
    # The dual problem: far fewer examples than n-gram columns, so it reaches the same fit (margins
    # within 0.006) three times faster than the primal.
    return LogisticRegression(
        C=_REGULARISATION,
        class_weight="balanced",
        solver="liblinear",
        dual=True,
        max_iter=5000,
        random_state=0,  # liblinear's dual solver visits examples in a random order: the same each run
    )


def _fit_all(rows: Any, jobs: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[LogisticRegression]:
    """Fit one classifier per job (the rows' indices, their targets), on every core.

    liblinear lets go of the GIL, so threads fit in parallel; each job's rows are cut out in its own
    thread, so no more copies of them are alive than there are cores.
    """

    def fit(job: tuple[np.ndarray, np.ndarray]) -> LogisticRegression:
        index, target = job
        return _classifier().fit(rows[index], target)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(fit, jobs))


def learns_from(category: Category, examples: Sequence[Example]) -> np.ndarray:
    """The indices of the examples ``category``'s head learns from (and is measured on).

    For a head that judges only staff (see ``_STAFF_ONLY``), staff's messages and anyone's ordinary ones,
    not learners' breaches; it is measured on staff's messages among them. For every head but those in
    ``_EVERY_BREACH_A_NEGATIVE``, not a message that breaches another category but not this one (see
    there); a disclosure stays, so no head learns to call one a breach of its own.
    """
    allowed = _STAFF_ONLY.get(category)
    roles = {role.value for role in allowed} if allowed else None
    others = category not in _EVERY_BREACH_A_NEGATIVE
    return np.array(
        [
            index
            for index, example in enumerate(examples)
            if not (roles is not None and example.role not in roles and example.categories)
            and not (
                others
                and example.categories
                and not example.has(category)
                and not example.has(Category.SAFEGUARDING)
            )
        ],
        dtype=int,
    )


def judged_by(category: Category, examples: Sequence[Example]) -> np.ndarray:
    """Which examples ``category``'s head judges (the engine applies it to): staff's for a staff-only head."""
    allowed = _STAFF_ONLY.get(category)
    if not allowed:
        return np.ones(len(examples), dtype=bool)
    return np.isin([example.role for example in examples], [role.value for role in allowed])


def _some(rows: Any, index: np.ndarray) -> Any:
    """The rows at ``index``; all of them without a copy (the n-gram matrix is the run's largest)."""
    return rows if len(index) == rows.shape[0] else rows[index]


def _stratum(example: Example) -> str:
    return next((category.value for category in HEAD_CATEGORIES if example.has(category)), "none")


def _parts(
    examples: Sequence[Example], category: Category, target: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """The sub-kinds of ``category`` that get a part of their own, each with its examples' mask."""
    if category not in _PARTED:
        return []
    kinds = np.array([example.kind for example in examples])
    counts = Counter(kinds[target & (kinds != "")])
    return [(kind, target & (kinds == kind)) for kind, count in sorted(counts.items()) if count >= _MIN_PART]


def _jobs(
    index: np.ndarray, target: np.ndarray, parts: Sequence[tuple[str, np.ndarray]]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The head's fitting job over the examples ``index``, then each part's.

    A part learns its sub-kind against every message that breaches nothing of its category.
    """
    jobs = [(index, target[index])]
    for _, part in parts:
        keep = index[part[index] | ~target[index]]
        jobs.append((keep, part[keep]))
    return jobs


def _out_of_fold(
    rows: Any,
    target: np.ndarray,
    strata: np.ndarray,
    parts: Sequence[tuple[str, np.ndarray]] = (),
    folds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> np.ndarray:
    """Each example's margin from a head (and parts) fitted on the other folds, parts blended in.

    ``folds`` (each fold's fitting and held indices) default to stratified folds over ``strata``.
    """
    if folds is None:
        folds = list(StratifiedKFold(_FOLDS, shuffle=True, random_state=0).split(rows, _mergeable(strata)))
    jobs = [job for train, _ in folds for job in _jobs(train, target, parts)]
    models = iter(_fit_all(rows, jobs))
    margins = np.zeros((len(target), 1))
    part_margins = np.zeros((len(target), len(parts)))
    for _, test in folds:
        margins[test, 0] = next(models).decision_function(rows[test])
        for index in range(len(parts)):
            part_margins[test, index] = next(models).decision_function(rows[test])
    part_of = np.zeros(len(parts), dtype=np.int32)
    return blended_margins(margins, part_margins, part_of)[:, 0]


def _mergeable(strata: np.ndarray) -> np.ndarray:
    """Strata with fewer members than folds are merged, so stratification never fails."""
    values, counts = np.unique(strata, return_counts=True)
    rare = set(values[counts < _FOLDS])
    # Too few even together (a head that learns from part of the data sees few of the other strata):
    # they join the largest.
    merged = "rare" if counts[counts < _FOLDS].sum() >= _FOLDS else values[np.argmax(counts)]
    return np.array([merged if value in rare else value for value in strata])


def _calibration(margins: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Platt scaling of out-of-fold margins: probability = sigmoid(a · margin + b)."""
    scaler = LogisticRegression(C=1e6, solver="lbfgs").fit(margins.reshape(-1, 1), target)
    return float(scaler.coef_[0, 0]), float(scaler.intercept_[0])


def _curve(probability: np.ndarray, target: np.ndarray, ordinary: np.ndarray) -> list[list[float]]:
    points = []
    for threshold in _THRESHOLDS:
        flagged = probability >= threshold
        true_positives = int((flagged & target).sum())
        precision = true_positives / flagged.sum() if flagged.any() else 1.0
        false_positive_rate = (flagged & ordinary).sum() / max(1, ordinary.sum())
        recall = true_positives / max(1, target.sum())
        points.append(
            [float(threshold), round(precision, 4), round(float(false_positive_rate), 4), round(recall, 4)]
        )
    return points


def _subkinds(
    examples: Sequence[Example], embeddings: np.ndarray, kinds: Sequence[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The namer of a disclosure's sub-kind, over ``kinds``: those with parts.

    A line that is mainly another breach names its own kind ("weapons", "drug_dealing") even where it
    is also a disclosure; such kinds are too rare for a part, so they never name a disclosure.
    """
    kinds = list(kinds)
    index = [
        i
        for i, example in enumerate(examples)
        if example.has(Category.SAFEGUARDING) and example.kind in kinds
    ]
    if len(kinds) < 2:
        width = embeddings.shape[1]
        return kinds, np.zeros((len(kinds), width), np.float32), np.zeros(len(kinds), np.float32)
    model = LogisticRegression(C=10.0, max_iter=3000).fit(
        embeddings[index], [examples[i].kind for i in index]
    )
    return list(model.classes_), model.coef_.astype(np.float32), model.intercept_.astype(np.float32)


def _write(out_dir: Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write beside the target and swap in, so a crash never leaves half a set of heads."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".heads-", dir=out_dir.parent))
    try:
        (staging / MANIFEST_FILE).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", "utf-8"
        )
        np.savez_compressed(staging / HEADS_FILE, **arrays)  # type: ignore[arg-type]
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.replace(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
