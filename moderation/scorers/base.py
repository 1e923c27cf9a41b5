"""The contract a text model satisfies, whatever sits behind it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["TextScorer"]


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
