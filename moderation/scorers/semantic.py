"""The semantic scorer: the sentence encoder and the trained policy heads, sentence by sentence.

Each message is encoded whole and, when it has several sentences, sentence by sentence; each head
keeps its highest probability over those pieces, and the piece that gave it is the evidence shown to
moderators, with the two training examples most like it ("similar to: …"). A message too long for the
encoder to read whole (256 tokens, about 1 kB) is read sentence by sentence only: the encoder would see
just its start, cut mid-sentence, which is no text the heads were trained on (no training line is that
long) and which its sentences cover; leaving it out saves a quarter of the encoder's time on chat with
3% long messages (``bench/encoder_batches.py``). The threshold of each
head comes from the policy's targets (:func:`head_thresholds`), never from a number in the code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from moderation.errors import ScorerError
from moderation.heads.features import sentence_spans
from moderation.heads.model import HeadTarget, PolicyHeads
from moderation.policy import Policy
from moderation.scorers.base import ScoredText
from moderation.types import Category, SemanticHit

__all__ = ["LABEL_PREFIX", "SemanticScorer", "TextEncoder", "head_thresholds"]

LABEL_PREFIX = "head:"
_DEFAULT_TARGET = HeadTarget(false_positive_rate=0.03)
_MAX_ENCODED_CHARS = 4000  # the encoder reads 256 tokens; tokenising a megabyte would cost seconds


class TextEncoder(Protocol):
    """A sentence encoder: texts in, L2-normalised embeddings out."""

    @property
    def name(self) -> str:
        """The encoder's name, e.g. ``all-MiniLM-L6-v2``."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One unit-length row per text, in order (the encoder batches by length as it sees fit)."""
        ...

    def reads_whole(self, text: str) -> bool:
        """Whether the encoder reads all of a text, rather than its start up to a length limit."""
        ...


def head_thresholds(heads: PolicyHeads, policy: Policy) -> dict[Category, float]:
    """Each head's threshold, chosen by the policy's precision or false-positive target."""
    thresholds = {}
    for category in heads.categories:
        rule = policy.categories[category]
        has_target = rule.head_precision is not None or rule.head_false_positive_rate is not None
        target = (
            HeadTarget(rule.head_precision, rule.head_false_positive_rate) if has_target else _DEFAULT_TARGET
        )
        thresholds[category] = heads.threshold(category, target)
    return thresholds


class SemanticScorer:
    """A :class:`~moderation.scorers.base.TextScorer` whose results carry the heads' findings."""

    def __init__(
        self, encoder: TextEncoder, heads: PolicyHeads, thresholds: Mapping[Category, float]
    ) -> None:
        missing = [category.value for category in heads.categories if category not in thresholds]
        if missing:
            raise ScorerError(f"no threshold for the heads of {', '.join(missing)}")
        self.encoder = encoder
        self.heads = heads
        self.thresholds = dict(thresholds)

    @property
    def name(self) -> str:
        """``heads:<encoder>``, shown to moderators."""
        return f"heads:{self.encoder.name}"

    @property
    def labels(self) -> tuple[str, ...]:
        """One label per head, e.g. ``head:safeguarding``."""
        return tuple(LABEL_PREFIX + category.value for category in self.heads.categories)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Score texts; each result is a :class:`ScoredText` with one hit per head.

        Raises:
            ScorerError: the encoder or the heads failed.
        """
        pieces: list[tuple[int, int | None, int | None]] = []
        for index, text in enumerate(texts):
            if text.strip():
                sentences = sentence_spans(text)
                if not sentences or self.encoder.reads_whole(text[:_MAX_ENCODED_CHARS]):
                    pieces.append((index, None, None))
                pieces.extend((index, start, end) for start, end in sentences)
        if not pieces:
            return [ScoredText(self._zeros()) for _ in texts]
        piece_texts = [
            (texts[index] if start is None else texts[index][start:end])[:_MAX_ENCODED_CHARS]
            for index, start, end in pieces
        ]
        try:
            embeddings = np.asarray(self.encoder.encode(piece_texts), dtype=np.float32)
            probabilities = self.heads.probabilities(embeddings, piece_texts)
        except ScorerError:
            raise
        except Exception as exc:
            raise ScorerError(
                f"the policy heads failed on {len(texts)} text(s) ({type(exc).__name__}): "
                "`classmod status` checks the encoder and heads"
            ) from exc
        owner = np.array([index for index, _, _ in pieces])
        results: list[dict[str, float]] = []
        for index in range(len(texts)):
            rows = np.flatnonzero(owner == index)
            if not len(rows):
                results.append(ScoredText(self._zeros()))
                continue
            hits = tuple(
                self._hit(category, rows, column, probabilities, embeddings, pieces)
                for column, category in enumerate(self.heads.categories)
            )
            labels = {LABEL_PREFIX + hit.category.value: hit.score for hit in hits}
            results.append(ScoredText(labels, hits))
        return results

    def _hit(
        self,
        category: Category,
        rows: np.ndarray,
        column: int,
        probabilities: np.ndarray,
        embeddings: np.ndarray,
        pieces: Sequence[tuple[int, int | None, int | None]],
    ) -> SemanticHit:
        best = int(rows[np.argmax(probabilities[rows, column])])
        score = round(float(probabilities[best, column]), 4)
        threshold = self.thresholds[category]
        _, start, end = pieces[best]
        fired = score >= threshold
        kind = category.value
        if fired and category is Category.SAFEGUARDING:
            kind = self.heads.subkind(embeddings[best])
        return SemanticHit(
            category=category,
            kind=kind,
            score=score,
            threshold=threshold,
            start=start,
            end=end,
            similar=self.heads.nearest(category, embeddings[best]) if fired else (),
        )

    def _zeros(self) -> dict[str, float]:
        return dict.fromkeys(self.labels, 0.0)
