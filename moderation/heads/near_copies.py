"""Near copies: how close a text comes to any of a set of others, by character n-grams.

The training data is kept apart from the held-out split with it (a training line that nearly repeats a
held-out line would let the held-out figures measure memory, not generalisation), and a new round of
written examples is kept apart from the data already there (see ``bench/new_round.py``). Texts are
compared as TF-IDF vectors of character 2- to 4-grams within words (sublinear counts), so a changed
name, a typo or an emoji does not hide a copy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

__all__ = ["NEAR_COPY", "among", "closest"]

NEAR_COPY = 0.72
"""The cosine at and above which two texts count as copies of each other."""
_CHUNK = 2000


def _vectoriser(texts: Sequence[str]) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True).fit(texts)


def closest(texts: Sequence[str], others: Sequence[str]) -> np.ndarray:
    """For each text, its highest cosine to any of ``others`` (0 when there are none)."""
    if not texts or not others:
        return np.zeros(len(texts))
    vectoriser = _vectoriser([*texts, *others])
    mine, theirs = vectoriser.transform(texts), vectoriser.transform(others)
    best = np.zeros(len(texts))
    for start in range(0, len(texts), _CHUNK):
        best[start : start + _CHUNK] = cosine_similarity(mine[start : start + _CHUNK], theirs).max(axis=1)
    return best


def among(texts: Sequence[str]) -> np.ndarray:
    """Every pair's cosine within ``texts`` (a square matrix; for a round of a few thousand lines)."""
    if not texts:
        return np.zeros((0, 0))
    vectors = _vectoriser(texts).transform(texts)
    return np.asarray(cosine_similarity(vectors))
