"""Trained policy heads, loaded for scoring: calibrated probabilities, thresholds and neighbours.

A heads folder holds ``heads.json`` (what was trained on what, with which encoder, the calibration and
the precision and false-positive curves measured by cross-validation) and ``heads.npz`` (numbers only,
loaded with ``allow_pickle=False``: a heads file can never run code). :func:`load_heads` refuses heads
trained over another encoder than the one loaded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit, logit

from moderation.errors import ScorerError
from moderation.heads.dataset import HEAD_CATEGORIES
from moderation.heads.features import Features, FeatureSpec
from moderation.types import Category, Role

__all__ = [
    "FORMAT",
    "HEADS_FILE",
    "MANIFEST_FILE",
    "PART_WEIGHT",
    "CurvePoint",
    "HeadTarget",
    "PolicyHeads",
    "blended_margins",
    "default_heads_dir",
    "load_heads",
]

FORMAT = 2
"""Format 2 added parts (``part_of``); heads of format 1, with none, still load."""
_READABLE_FORMATS = (1, FORMAT)
MANIFEST_FILE = "heads.json"
HEADS_FILE = "heads.npz"
PART_WEIGHT = 0.5
"""How much of a parted category's score comes from its best part; chosen by writer shift (see
``moderation.heads.training``)."""


def blended_margins(
    margins: np.ndarray, part_margins: np.ndarray, part_of: np.ndarray, weight: float = PART_WEIGHT
) -> np.ndarray:
    """Each category's margin, with its best part blended in where it has parts.

    Args:
        margins: one column per category, the heads' margins.
        part_margins: one column per part, the parts' margins.
        part_of: for each part, the column of its category.
        weight: the best part's share of the blended probability.

    Returns:
        The margins of ``(1 - weight) · σ(head) + weight · σ(best part)`` (unchanged without parts).
    """
    blended = np.array(margins, dtype=np.float64)
    for column in np.unique(part_of):
        best = part_margins[:, part_of == column].max(axis=1)
        probability = (1 - weight) * expit(margins[:, column]) + weight * expit(best)
        blended[:, column] = logit(np.clip(probability, 1e-12, 1 - 1e-12))
    return blended


def default_heads_dir() -> Path:
    """The heads shipped with classmod, trained on the project's own data."""
    return Path(__file__).resolve().parents[2] / "policies" / "heads"


@dataclass(frozen=True, slots=True)
class HeadTarget:
    """What a category's threshold must achieve, from the policy file.

    ``precision``: of the messages flagged, at least this share truly breach the category.
    ``false_positive_rate``: at most this share of ordinary messages (hard negatives) are flagged.
    The threshold is the lowest one meeting every target given, so recall is as high as they allow.
    """

    precision: float | None = None
    false_positive_rate: float | None = None


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One threshold and what cross-validation measured at it."""

    threshold: float
    precision: float
    false_positive_rate: float
    recall: float


class PolicyHeads:
    """One calibrated linear classifier per category over :class:`Features`, some with parts."""

    def __init__(
        self,
        path: Path,
        manifest: Mapping[str, Any],
        arrays: Mapping[str, np.ndarray],
        *,
        digest: str | None = None,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.digest = digest
        """The SHA-256 of the heads' files as loaded (``None`` where they were not read from files)."""
        self.categories = tuple(Category(name) for name in manifest["categories"])
        spec = FeatureSpec.from_dict(manifest["features"])
        idf = np.zeros(spec.word_features + spec.char_features, dtype=np.float32)
        idf[arrays["idf_index"]] = arrays["idf_value"]
        self.features = Features(spec, idf)
        width = arrays["embedding_width"].item() + self.features.ngram_width
        self._embedding_width = int(arrays["embedding_width"].item())
        self._part_of = arrays["part_of"] if "part_of" in arrays else np.zeros(0, dtype=np.int32)
        self._part_weight = float(manifest.get("parts", {}).get("weight", PART_WEIGHT))
        models = len(self.categories) + len(self._part_of)
        # The features a head weighs (every model weighs the same ones), each with one row of weights,
        # kept in half precision as stored: a batch's rows pick out the features they use and only
        # those weights are widened, so nothing as wide as the hashed n-gram space is held, and
        # loading builds no triplets (a sparse matrix of them peaked at four times this).
        self._columns = arrays["coef_columns"].astype(np.int64)
        self._weights = np.ascontiguousarray(arrays["coef"])
        if self._weights.shape != (len(self._columns), models):
            raise ValueError(f"weights of shape {self._weights.shape} for {len(self._columns)} features")
        if len(self._columns) and not (0 <= self._columns.min() and self._columns.max() < width):
            raise ValueError(f"weighted features outside the {width} the heads compute")
        self._intercept = arrays["intercept"].astype(np.float64)
        if len(self._intercept) != models:
            raise ValueError(f"{len(self._intercept)} intercepts for {models} heads and parts")
        if not np.all((self._part_of >= 0) & (self._part_of < len(self.categories))):
            raise ValueError(f"parts of categories {sorted(set(self._part_of.tolist()))}, not all heads")
        self._platt = arrays["platt"].astype(np.float64)
        self.subkinds: tuple[str, ...] = tuple(manifest["subkinds"])
        self._subkind_coef = arrays["subkind_coef"].astype(np.float32)
        self._subkind_intercept = arrays["subkind_intercept"].astype(np.float32)
        self._neighbour_codes = _int8_codes(arrays["neighbour_vectors"])
        self._neighbour_mask = arrays["neighbour_mask"]
        self._neighbour_texts: list[str] = list(manifest["neighbour_texts"])
        self.curves = {
            Category(name): tuple(CurvePoint(*map(float, point)) for point in entry["curve"])
            for name, entry in manifest["heads"].items()
        }
        self._roles = {
            Category(name): frozenset(Role(role) for role in entry["roles"])
            for name, entry in manifest["heads"].items()
            if entry.get("roles")
        }

    @property
    def encoder_sha256(self) -> str:
        """The weights of the encoder the heads were trained over."""
        return str(self.manifest["encoder"]["sha256"])

    @property
    def trained_at(self) -> str:
        """When the heads were trained (ISO date)."""
        return str(self.manifest["created"])

    @property
    def description(self) -> str:
        """How the heads are named in status and on decisions, e.g. ``heads 2026-12-05 (shipped)``."""
        return f"heads {self.trained_at[:10]} ({self.manifest.get('origin', 'shipped')})"

    def applies_to(self, category: Category) -> frozenset[Role] | None:
        """The roles a head was trained for (``None``: every role)."""
        return self._roles.get(category)

    def probabilities(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, one row per text, one column per category (``self.categories``)."""
        if not texts:
            return np.zeros((0, len(self.categories)))
        if embeddings.shape[1] != self._embedding_width:
            raise ScorerError(
                f"the heads at {self.path} expect {self._embedding_width}-number embeddings, "
                f"the encoder gives {embeddings.shape[1]}: `classmod model train` trains heads for it"
            )
        rows = self.features.matrix(embeddings, texts)
        weighed = sparse.csr_matrix(rows[:, self._columns])
        used = np.zeros(len(self._columns), dtype=bool)
        used[weighed.indices] = True
        used = np.flatnonzero(used)
        products = weighed[:, used] @ self._weights[used].astype(np.float32)
        every = np.asarray(products, dtype=np.float64) + self._intercept
        heads = len(self.categories)
        margins = blended_margins(every[:, :heads], every[:, heads:], self._part_of, self._part_weight)
        return np.asarray(expit(self._platt[:, 0] * margins + self._platt[:, 1]), dtype=np.float64)

    def subkind(self, embedding: np.ndarray) -> str:
        """The most likely safeguarding sub-kind of a text (``domestic_abuse``, ``suicidal`` …)."""
        if not self.subkinds:
            return Category.SAFEGUARDING.value
        return self.subkinds[int(np.argmax(self._subkind_coef @ embedding + self._subkind_intercept))]

    def nearest(self, category: Category, embedding: np.ndarray, count: int = 2) -> tuple[str, ...]:
        """The training examples of ``category`` most similar to a text, most similar first."""
        bit = 1 << self.categories.index(category)
        candidates = np.flatnonzero(self._neighbour_mask & bit)
        if not len(candidates):
            return ()
        similarity = self._neighbour_codes[candidates].astype(np.float32) @ embedding
        best = candidates[np.argsort(-similarity)[:count]]
        return tuple(self._neighbour_texts[index] for index in best)

    def threshold(self, category: Category, target: HeadTarget) -> float:
        """The lowest threshold meeting ``target`` in cross-validation (else the highest measured)."""
        curve = self.curves[category]
        meeting = [
            point
            for point in curve
            if (target.precision is None or point.precision >= target.precision)
            and (
                target.false_positive_rate is None or point.false_positive_rate <= target.false_positive_rate
            )
        ]
        return min(point.threshold for point in meeting) if meeting else max(p.threshold for p in curve)


def _int8_codes(vectors: np.ndarray, rows_at_once: int = 4096) -> np.ndarray:
    """Unit vectors as int8 codes on one scale, to rank by cosine ("similar to: …" on a card).

    A quarter of float32's memory (6 MB for the shipped heads), and widened for a product ten times
    faster than half precision (which numpy converts slowly). The two nearest training examples agree
    with float32's for 97% of texts; the rest are near-ties. Converted a slice at a time, so loading
    never holds the whole matrix in float32.
    """
    largest = float(np.abs(vectors).max()) if vectors.size else 0.0
    scale = 127.0 / largest if largest > 0 else 1.0
    codes = np.empty(vectors.shape, dtype=np.int8)
    for start in range(0, len(vectors), rows_at_once):
        part = vectors[start : start + rows_at_once].astype(np.float32)
        codes[start : start + rows_at_once] = np.round(part * scale)
    return codes


def load_heads(path: Path, *, encoder_sha256: str | None = None) -> PolicyHeads:
    """Load heads from a folder, refusing heads trained over another encoder.

    Raises:
        ScorerError: a file is missing or unreadable, the format is unknown, or the encoder differs.
    """
    try:
        manifest_bytes = (path / MANIFEST_FILE).read_bytes()
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        with (path / HEADS_FILE).open("rb") as stream:
            digest = hashlib.file_digest(stream, "sha256")
            digest.update(manifest_bytes)
            stream.seek(0)
            with np.load(stream, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError) as exc:
        raise ScorerError(
            f"cannot read the policy heads at {path}: {exc}; `classmod model train` rebuilds them"
        ) from exc
    if manifest.get("format") not in _READABLE_FORMATS:
        raise ScorerError(
            f"the policy heads at {path} have format {manifest.get('format')!r}, expected one of "
            f"{', '.join(map(str, _READABLE_FORMATS))}"
        )
    if encoder_sha256 is not None and manifest["encoder"]["sha256"] != encoder_sha256:
        raise ScorerError(
            f"the policy heads at {path} were trained over another encoder "
            f"({manifest['encoder']['name']}): `classmod model train` trains heads for the encoder configured"
        )
    try:
        heads = PolicyHeads(path, manifest, arrays, digest=digest.hexdigest())
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise ScorerError(f"the policy heads at {path} are damaged ({type(exc).__name__}: {exc})") from exc
    unknown = set(heads.categories) - set(HEAD_CATEGORIES)
    if unknown:
        raise ScorerError(f"the policy heads at {path} score unknown categories: {sorted(unknown)}")
    return heads
