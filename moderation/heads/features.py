"""What a head sees of a text: the encoder's embedding beside weighted word and character n-grams.

The embedding carries meaning ("my mum's boyfriend gets angry and I end up with bruises" is near
"he hits me"); the n-grams carry the exact words and misspellings learners use ("bruize", "county
lines", "send pic"). N-grams are hashed into a fixed number of columns, so no vocabulary is shipped,
and weighted by how rare each column was in the training data (TF-IDF); columns seen in fewer than two
training texts carry no weight, so one-off words do not decide anything.

A long message is scored sentence by sentence as well as whole, so a disclosure in the middle of an
ordinary paragraph is not diluted; :func:`sentence_spans` says where each sentence is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from moderation.normalise import normalise

__all__ = ["FeatureSpec", "Features", "sentence_spans"]

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_MAX_SENTENCES = 24
"""At most this many sentences of one message are scored apart (the whole text is always scored)."""
_MIN_SENTENCE_CHARS = 12
_SPLIT_ABOVE_CHARS = 200
"""A shorter message is scored whole only: about 45 tokens, short enough that no sentence is diluted."""
_MAX_CHARS = 2000
"""Text beyond this many characters is not read by the n-grams (the encoder reads 256 tokens)."""
_MIN_DOCUMENTS = 2


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences worth scoring apart: empty for a short or one-sentence message.

    Short fragments are joined to the sentence before them, and at most ``_MAX_SENTENCES`` spans are
    returned, so the work per message is bounded whatever its length.
    """
    if len(text) <= _SPLIT_ABOVE_CHARS:
        return []
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text[: _MAX_CHARS * 4]):
        _add_span(spans, text, start, match.start())
        start = match.end()
        if len(spans) >= _MAX_SENTENCES:
            return spans
    _add_span(spans, text, start, min(len(text), _MAX_CHARS * 4))
    return spans if len(spans) > 1 else []


def _add_span(spans: list[tuple[int, int]], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped:
        return
    start += len(piece) - len(piece.lstrip())
    end = start + len(stripped)
    if spans and end - start < _MIN_SENTENCE_CHARS:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """How features are built; stored with the heads so training and scoring always agree."""

    word_features: int = 2**18
    char_features: int = 2**18
    embedding_weight: float = 1.0

    def as_dict(self) -> dict[str, float]:
        """The spec as plain JSON values."""
        return {
            "word_features": self.word_features,
            "char_features": self.char_features,
            "embedding_weight": self.embedding_weight,
        }

    @classmethod
    def from_dict(cls, values: dict[str, object]) -> FeatureSpec:
        """Read a spec written by :meth:`as_dict`."""
        return cls(
            word_features=int(str(values["word_features"])),
            char_features=int(str(values["char_features"])),
            embedding_weight=float(str(values["embedding_weight"])),
        )


class Features:
    """Builds a head's input rows: ``[embedding · weight | word n-grams | char n-grams]``.

    ``idf`` holds one weight per n-gram column (word columns first), learnt by :meth:`fit_idf`.
    """

    def __init__(self, spec: FeatureSpec, idf: np.ndarray | None = None) -> None:
        self.spec = spec
        common = {"alternate_sign": False, "norm": None, "lowercase": False, "dtype": np.float32}
        self._words = HashingVectorizer(
            analyzer="word",
            ngram_range=(1, 2),
            token_pattern=r"(?u)\b\w+\b",
            n_features=spec.word_features,
            **common,
        )
        self._chars = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 5), n_features=spec.char_features, **common
        )
        self.idf = idf if idf is not None else np.ones(self.ngram_width, dtype=np.float32)
        if self.idf.shape != (self.ngram_width,):
            raise ValueError(f"idf has {self.idf.shape} weights, expected {self.ngram_width}")

    @property
    def ngram_width(self) -> int:
        """How many n-gram columns follow the embedding."""
        return self.spec.word_features + self.spec.char_features

    def fit_idf(self, texts: Sequence[str]) -> None:
        """Learn the n-gram weights from training texts (columns in fewer than two get none)."""
        counts = self._counts(texts)
        documents = np.bincount(counts.indices, minlength=self.ngram_width).astype(np.float64)
        total = len(texts)
        idf = np.log((1 + total) / (1 + documents)) + 1.0
        idf[documents < _MIN_DOCUMENTS] = 0.0
        self.idf = idf.astype(np.float32)

    def matrix(self, embeddings: np.ndarray, texts: Sequence[str]) -> sparse.csr_matrix:
        """The input rows for texts whose embeddings are given, in order."""
        counts = self._counts(texts)
        counts.data = 1.0 + np.log(counts.data)  # sublinear term frequency
        weighted = counts @ sparse.diags(self.idf)
        words = _unit_rows(weighted[:, : self.spec.word_features])
        chars = _unit_rows(weighted[:, self.spec.word_features :])
        dense = sparse.csr_matrix(embeddings.astype(np.float32) * self.spec.embedding_weight)
        return sparse.hstack([dense, words, chars], format="csr", dtype=np.float32)

    def _counts(self, texts: Sequence[str]) -> sparse.csr_matrix:
        cleaned = [normalise(text[:_MAX_CHARS]).text.casefold() for text in texts]
        return sparse.hstack(
            [self._words.transform(cleaned), self._chars.transform(cleaned)], format="csr", dtype=np.float32
        )


def _unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)
