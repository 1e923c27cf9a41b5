"""The model stack: the text model (Detoxify or its fallback) and the policy heads as one scorer.

Both run in the same pass of the scoring service (one micro-batch, one cache entry per text), so a
message is scored once whichever models are loaded. Their labels are merged; the heads' findings
ride along as :class:`~moderation.scorers.base.ScoredText` hits.
"""

from __future__ import annotations

from collections.abc import Sequence

from moderation.scorers.base import ScoredText, TextScorer, hits_of

__all__ = ["ModelStack"]


class ModelStack:
    """Runs each scorer on the same texts and merges their results, in order."""

    def __init__(self, scorers: Sequence[TextScorer]) -> None:
        if not scorers:
            raise ValueError("a model stack needs at least one scorer")
        self.scorers = tuple(scorers)

    @property
    def name(self) -> str:
        """The scorers' names joined with ``+``, e.g. ``detoxify:unbiased-small+heads:all-MiniLM-L6-v2``."""
        return "+".join(scorer.name for scorer in self.scorers)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every scorer's labels."""
        return tuple(label for scorer in self.scorers for label in scorer.labels)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Score texts with every scorer; a failure of any raises ``ScorerError`` (held for review)."""
        merged: list[dict[str, float]] = [ScoredText({}) for _ in texts]
        for scorer in self.scorers:
            for index, result in enumerate(scorer.score_batch(texts)):
                merged[index] = ScoredText(
                    {**merged[index], **result}, hits_of(merged[index]) + hits_of(result)
                )
        return merged
