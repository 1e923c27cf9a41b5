"""Start-up: build the policy, store and scorer from the settings, once, and report what was chosen."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from adapters.base import Adapter
from bot.config import Settings
from bot.pipeline import Pipeline
from bot.store import Store
from bot.transcript import TranscriptError, demo_transcript_path, read_transcript
from moderation.batching import ScoringService
from moderation.policy import Policy, load_policy
from moderation.scorers.detoxify_scorer import LoadedScorer, load_text_scorer
from moderation.scorers.engines import DEFAULT_PROBE_TEXTS

__all__ = ["Services", "load_scorer", "make_pipeline", "open_services"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Services:
    """What every command that moderates needs."""

    settings: Settings
    policy: Policy
    store: Store
    loaded: LoadedScorer
    scoring: ScoringService | None = None
    """The micro-batcher every pipeline of this process shares (one is made when ``None``)."""


def load_scorer(settings: Settings) -> LoadedScorer:
    """Load Detoxify as configured, or the fallback with the reason, and say so loudly.

    Raises:
        ScorerError: Detoxify could not be loaded and ``require_detoxify`` is set.
    """
    loaded = load_text_scorer(
        variant=settings.model_variant,
        bundle_dir=settings.model_dir,
        device=settings.model_device,
        threads=settings.model_threads,
        require_detoxify=settings.require_detoxify,
        engine=settings.model_engine,
        engine_cache=settings.model_engine_cache,
        max_drift=settings.model_max_drift,
        probe_texts=_probe_texts(),
    )
    if loaded.is_fallback:
        logger.warning(
            "DETOXIFY NOT LOADED: scoring with %s instead (%s). "
            "Set CLASSMOD_REQUIRE_DETOXIFY=true to refuse to start instead.",
            loaded.scorer.name,
            loaded.reason,
        )
    else:
        logger.info("scoring with %s", loaded.scorer.name)
        note = getattr(loaded.scorer, "engine_note", None)
        if note:
            logger.warning("inference engine: %s", note)
    return loaded


def _probe_texts() -> list[str]:
    """The engines' equivalence probes: the built-in set plus the demo class chat."""
    texts = list(DEFAULT_PROBE_TEXTS)
    try:
        texts += [line.message.text for line in read_transcript(demo_transcript_path()) if line.message.text]
    except (OSError, TranscriptError) as exc:  # the probes still work without the demo
        logger.warning("demo transcript not used as engine probes: %s", exc)
    return texts


def open_services(
    settings: Settings, *, database_url: str | None = None, policy: Policy | None = None
) -> Services:
    """Load the policy, open the store and load the scorer.

    Raises:
        PolicyError: the policy file is invalid.
        StorageError: the database cannot be opened.
        ScorerError: Detoxify is required but cannot be loaded.
    """
    policy = policy or load_policy(settings.policy_file)
    store = Store.open(database_url or settings.database_url)
    loaded = load_scorer(settings)
    scoring = ScoringService(
        loaded.scorer,
        max_batch=settings.scoring_batch_size,
        window_ms=settings.scoring_window_ms,
        long_text_chars=settings.scoring_long_text_chars or None,
        cache_size=settings.scoring_cache_size,
    )
    return Services(settings=settings, policy=policy, store=store, loaded=loaded, scoring=scoring)


def make_pipeline(services: Services, adapter: Adapter) -> Pipeline:
    """The pipeline for one adapter, sharing the process's policy, store, scorer and micro-batcher."""
    return Pipeline(
        policy=services.policy,
        store=services.store,
        scorer=services.loaded.scorer,
        adapter=adapter,
        scoring=services.scoring,
    )
