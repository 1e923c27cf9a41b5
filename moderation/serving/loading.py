"""The text scorer chosen at start-up: Detoxify from its offline bundle, or the profanity fallback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from moderation.errors import ScorerError
from moderation.scorers.base import TextScorer
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.detoxify_bundle import BUNDLE_FIX, CHECKPOINT_FILE, verify_bundle
from moderation.serving.detoxify_scorer import DetoxifyScorer
from moderation.serving.engines import DEFAULT_MAX_DRIFT

__all__ = ["LoadedScorer", "load_text_scorer"]


@dataclass(frozen=True, slots=True)
class LoadedScorer:
    """The text scorer chosen at start-up, and why it is the fallback when it is."""

    scorer: TextScorer
    is_fallback: bool
    reason: str | None = None
    text_model: TextScorer | None = None
    """Detoxify or the fallback, when ``scorer`` stacks it with the policy heads."""
    heads: str | None = None
    """The policy heads in use (name, date, where from), or ``None``."""
    heads_reason: str | None = None
    """Why the policy heads are not in use, when they are not."""
    heads_engine: str | None = None
    """The sentence encoder's engine, its drift from fp32 torch, and why it is not the one asked."""

    @property
    def model(self) -> TextScorer:
        """The text model itself (Detoxify or the fallback), for its engine and device."""
        return self.text_model or self.scorer


def load_text_scorer(
    *,
    variant: str,
    bundle_dir: Path | None,
    device: str,
    threads: int | None,
    require_detoxify: bool,
    engine: str = "torch",
    engine_cache: Path | None = None,
    max_drift: float = DEFAULT_MAX_DRIFT,
    probe_texts: Sequence[str] = (),
) -> LoadedScorer:
    """Load Detoxify from the offline bundle for ``variant``, or the profanity fallback.

    Never downloads: a missing or broken bundle gives the fallback, with ``reason`` saying why and
    how to fix it. ``engine`` and the parameters after it go to :class:`DetoxifyScorer`; an engine
    that fails its check falls back to fp32 torch (see the scorer's ``engine_note``), not to the
    profanity scorer.

    Raises:
        ScorerError: Detoxify could not load and ``require_detoxify`` is set (same message as the
            reason), or not even the fallback could load.

    """
    try:
        if bundle_dir is None:
            raise ScorerError(
                f"no model bundle directory is set, so Detoxify {variant} cannot load: set it to the folder "
                f"holding `{variant}/` and {BUNDLE_FIX}"
            )
        bundle = bundle_dir / variant
        if not (bundle / CHECKPOINT_FILE).is_file():
            raise ScorerError(f"no Detoxify weights at {bundle}: {BUNDLE_FIX}")
        verify_bundle(bundle, variant)
        detoxify_scorer = DetoxifyScorer(
            variant,
            bundle=bundle,
            device=device,
            threads=threads,
            engine=engine,
            engine_cache=engine_cache,
            max_drift=max_drift,
            probe_texts=probe_texts,
        )
    except ScorerError as exc:
        if require_detoxify:
            raise
        try:
            fallback = ProfanityFallbackScorer()
        except ScorerError as fallback_exc:
            raise ScorerError(f"{exc}; and the fallback could not load either: {fallback_exc}") from exc
        return LoadedScorer(scorer=fallback, is_fallback=True, reason=str(exc))
    return LoadedScorer(scorer=detoxify_scorer, is_fallback=False)
