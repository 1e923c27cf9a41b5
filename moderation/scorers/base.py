"""The contract a text model satisfies, whatever sits behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from moderation.types import SemanticHit

__all__ = ["ScoredText", "TextScorer", "hits_of"]


@runtime_checkable
class TextScorer(Protocol):
    """A model that scores texts with named labels between 0 and 1.

    ``name`` appears in every decision's ``scorer`` field, e.g. ``detoxify:unbiased-small``, so a
    moderator always knows which model judged a message. ``score_batch`` is synchronous and may be
    slow: callers on an event loop run it in a worker thread (the scoring service's two lanes may
    call it from two threads at once). It returns one mapping per input text, in the same order,
    and raises ``ScorerError`` when it cannot score.
    """

    @property
    def name(self) -> str:
        """Which model this is, shown to moderators."""
        ...

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels each score mapping carries."""
        ...

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Score texts, one label mapping per text, in order."""
        ...


class ScoredText(dict[str, float]):
    """A text's label scores that also carry what the trained heads found in it.

    It is a plain label mapping to everything that passes scores along (the scoring service, its
    cache), and the pipeline reads :attr:`hits` back with :func:`hits_of`.
    """

    __slots__ = ("hits",)

    def __init__(self, labels: dict[str, float], hits: tuple[SemanticHit, ...] = ()) -> None:
        super().__init__(labels)
        self.hits = hits

    def copy(self) -> ScoredText:
        """A copy of the labels that keeps the hits (they are immutable, so they are shared)."""
        return ScoredText(dict(self), self.hits)


def hits_of(labels: object) -> tuple[SemanticHit, ...]:
    """The heads' findings carried by a scorer's result (none for a plain mapping)."""
    return labels.hits if isinstance(labels, ScoredText) else ()
