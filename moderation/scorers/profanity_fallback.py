"""The fallback text scorer: alt-profanity-check, used when Detoxify cannot load."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from moderation.errors import ScorerError

__all__ = ["ProfanityFallbackScorer"]


class ProfanityFallbackScorer:
    """Scores texts for profanity only, with the small linear model of alt-profanity-check.

    It needs no model files or network, so the bot can still moderate obvious abuse while the
    Detoxify bundle is missing; it cannot see threats, insults without swear words or identity
    attacks.

    Raises:
        ScorerError: alt-profanity-check (or scikit-learn behind it) cannot be imported.

    """

    def __init__(self) -> None:
        try:
            module = importlib.import_module("profanity_check")
        except Exception as exc:
            raise ScorerError(
                f"alt-profanity-check cannot be imported ({type(exc).__name__}: {exc}): reinstall classmod's "
                "dependencies (pip install -e .) in this environment"
            ) from exc
        self._predict_prob: Callable[[list[str]], Any] = module.predict_prob

    @property
    def name(self) -> str:
        """``fallback:alt-profanity-check``, shown to moderators."""
        return "fallback:alt-profanity-check"

    @property
    def labels(self) -> tuple[str, ...]:
        """The one label, ``profanity``."""
        return ("profanity",)

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Score texts for profanity, one mapping per text, in order.

        Raises:
            ScorerError: the model failed while scoring.

        """
        if not texts:
            return []
        try:
            probabilities = self._predict_prob(list(texts))
            return [{"profanity": float(probability)} for probability in probabilities]
        except Exception as exc:
            raise ScorerError(
                f"alt-profanity-check failed while scoring {len(texts)} text(s) ({type(exc).__name__}): "
                "reinstall alt-profanity-check and a scikit-learn version it supports"
            ) from exc
