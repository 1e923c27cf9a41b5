"""Measuring heads on examples they were not trained on: precision, false positives and recall."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from moderation.heads.dataset import HEAD_CATEGORIES, Example
from moderation.scorers.base import hits_of
from moderation.scorers.semantic import SemanticScorer
from moderation.types import Category, Role

__all__ = ["HeadScore", "evaluate", "format_table"]

_BATCH = 64


@dataclass(frozen=True, slots=True)
class HeadScore:
    """One head measured at its threshold on a set of examples."""

    category: Category
    threshold: float
    positives: int
    ordinary: int
    true_positives: int
    flagged: int
    false_positives_on_ordinary: int

    @property
    def precision(self) -> float:
        """Of the messages flagged, the share that breach the category."""
        return self.true_positives / self.flagged if self.flagged else 1.0

    @property
    def recall(self) -> float:
        """Of the messages that breach the category, the share flagged."""
        return self.true_positives / self.positives if self.positives else 0.0

    @property
    def false_positive_rate(self) -> float:
        """Of the ordinary messages (label ``none``), the share flagged."""
        return self.false_positives_on_ordinary / self.ordinary if self.ordinary else 0.0


def evaluate(scorer: SemanticScorer, examples: Sequence[Example]) -> list[HeadScore]:
    """Score every example as the bot would (sentence by sentence) and measure each head."""
    flagged: list[set[Category]] = []
    for start in range(0, len(examples), _BATCH):
        batch = examples[start : start + _BATCH]
        for result in scorer.score_batch([example.text for example in batch]):
            flagged.append({hit.category for hit in hits_of(result) if hit.score >= hit.threshold})
    scores = []
    for category in HEAD_CATEGORIES:
        if category not in scorer.heads.categories:
            continue
        roles = scorer.heads.applies_to(category)
        pairs = [
            (example, found)
            for example, found in zip(examples, flagged, strict=True)
            if roles is None or Role(example.role) in roles
        ]
        scores.append(
            HeadScore(
                category=category,
                threshold=scorer.thresholds[category],
                positives=sum(1 for example, _ in pairs if example.has(category)),
                ordinary=sum(1 for example, _ in pairs if not example.categories),
                true_positives=sum(
                    1 for example, found in pairs if example.has(category) and category in found
                ),
                flagged=sum(1 for _, found in pairs if category in found),
                false_positives_on_ordinary=sum(
                    1 for example, found in pairs if not example.categories and category in found
                ),
            )
        )
    return scores


def format_table(scores: Sequence[HeadScore]) -> str:
    """A Markdown table of the scores, for the model card, the README and the issue note."""
    lines = [
        "| category | threshold | precision | recall | false positives on ordinary messages | positives |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {score.category.value} | {score.threshold:.2f} | {score.precision:.3f} | {score.recall:.3f} | "
        f"{score.false_positive_rate:.3f} ({score.false_positives_on_ordinary}/{score.ordinary}) | "
        f"{score.positives} |"
        for score in scores
    ]
    return "\n".join(lines)
