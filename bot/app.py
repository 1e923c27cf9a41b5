"""Start-up: build the policy, store and scorer from the settings, once, and report what was chosen."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from adapters.base import Adapter, Platform
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.desk import Desk
from bot.pipeline import Pipeline
from bot.rota import staff_from
from bot.scheduler import Scheduler, scheduler_for
from bot.sealing import Sealer
from bot.store import Store
from bot.transcript import TranscriptError, demo_transcript_path, read_transcript
from bot.web.auth import issue_link
from moderation.errors import ScorerError
from moderation.heads.model import default_heads_dir, load_heads
from moderation.language_detection import covered_languages
from moderation.policy import Policy, load_policy
from moderation.scorers.base import TextScorer
from moderation.scorers.semantic import SemanticScorer, head_thresholds
from moderation.scorers.stack import ModelStack
from moderation.serving.batching import ScoringService
from moderation.serving.detoxify_bundle import ENGINE_CACHE_DIR
from moderation.serving.encoder_engines import PreparedEncoder, load_encoder
from moderation.serving.engines import DEFAULT_PROBE_TEXTS
from moderation.serving.loading import LoadedScorer, load_text_scorer
from moderation.serving.sentence_encoder import (
    DEFAULT_ENCODER,
    encoder_path,
    pinned_sha256,
    unpack_default_encoder,
)

__all__ = [
    "Services",
    "encoder_folder",
    "heads_folder",
    "load_scorer",
    "load_semantic",
    "make_pipeline",
    "open_services",
    "open_store",
    "scoring_service",
]

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
    clock: Clock = field(default_factory=SystemClock)
    """The time for the rota, reminders and digest (a test's turns by hand)."""


def desk_and_scheduler(services: Services, platform: Platform) -> tuple[Desk, Scheduler]:
    """What a platform's bot runs beside its pipeline: its front desk and its scheduler.

    The desk answers commands, buttons, notes and ``/console``; the scheduler carries out the console's
    decisions and runs the safeguarding rota, the reminders and the digest.
    """
    settings = services.settings
    staff = staff_from(settings, platform.name)
    desk = Desk(
        platform=platform.name,
        store=services.store,
        policy=services.policy,
        staff=staff,
        console_links=partial(issue_link, services.store, settings, platform.name),
    )
    scheduler = scheduler_for(
        settings=settings,
        policy=services.policy,
        store=services.store,
        platform=platform,
        staff=staff,
        clock=services.clock,
    )
    return desk, scheduler


def load_scorer(settings: Settings, policy: Policy) -> LoadedScorer:
    """Load the text model and the policy heads as configured, and say loudly what is missing.

    With Detoxify, the heads score beside it; without it, the heads are the main scorer and the
    profanity fallback is used only when the heads cannot load either.

    Raises:
        ScorerError: Detoxify could not be loaded and ``require_detoxify`` is set.
    """
    loaded = _load_text_model(settings)
    if not settings.heads:
        return replace(loaded, heads_reason="turned off (CLASSMOD_HEADS=false)")
    try:
        semantic, prepared = _load_semantic(settings, policy)
    except ScorerError as exc:
        logger.warning("POLICY HEADS NOT LOADED: %s", exc)
        return replace(loaded, heads_reason=str(exc))
    logger.info("policy heads: %s over %s", semantic.heads.description, semantic.encoder.name)
    if prepared.note:
        logger.warning("encoder engine: %s", prepared.note)
    scorers: list[TextScorer] = [semantic] if loaded.is_fallback else [loaded.scorer, semantic]
    return replace(
        loaded,
        scorer=ModelStack(scorers),
        text_model=None if loaded.is_fallback else loaded.scorer,
        heads=f"{semantic.heads.description} over {semantic.encoder.name}, from {semantic.heads.path}",
        heads_engine=_describe(prepared),
    )


def load_semantic(settings: Settings, policy: Policy) -> SemanticScorer:
    """The sentence encoder and the policy heads, verified, with thresholds from the policy.

    Raises:
        ScorerError: the encoder or the heads are missing, damaged, or do not belong together.
    """
    return _load_semantic(settings, policy)[0]


def _load_semantic(settings: Settings, policy: Policy) -> tuple[SemanticScorer, PreparedEncoder]:
    folder = encoder_folder(settings)
    # The heads first, against the pinned weights: the encoder's engine is checked through them.
    # load_encoder then hashes the weights themselves and refuses any that are not the pinned ones.
    heads = load_heads(heads_folder(settings), encoder_sha256=pinned_sha256(folder))
    prepared = load_encoder(
        folder,
        engine=settings.encoder_engine,
        heads=heads,
        probe_texts=_probe_texts(),
        max_drift=settings.model_max_drift,
        cache_dir=settings.model_engine_cache or folder / ENGINE_CACHE_DIR,
        threads=settings.model_threads,
    )
    return SemanticScorer(prepared.encoder, heads, head_thresholds(heads, policy)), prepared


def _describe(prepared: PreparedEncoder) -> str:
    engine = prepared.encoder.engine
    measured = f" (drift from fp32 {prepared.drift:.4f} on the probes)" if prepared.drift is not None else ""
    return f"{engine}{measured}" + (f"\n{prepared.note}" if prepared.note else "")


def heads_folder(settings: Settings) -> Path:
    """The heads in use: as configured, else those `classmod learn` wrote, else the shipped ones."""
    if settings.heads_dir is not None:
        return settings.heads_dir
    learned = settings.model_dir / "heads"
    return learned if learned.is_dir() else default_heads_dir()


def encoder_folder(settings: Settings) -> Path:
    """The configured sentence encoder's folder, unpacking the default one where it is missing.

    An encoder already in place is not hashed here: loading it verifies its weights (once per start),
    and refuses weights that are not the pinned ones (`classmod model fetch` installs them again).
    """
    if settings.encoder == DEFAULT_ENCODER:
        installed = encoder_path(settings.model_dir)
        return installed if installed.is_dir() else unpack_default_encoder(settings.model_dir)
    configured = Path(settings.encoder)
    return configured if configured.is_dir() else encoder_path(settings.model_dir, settings.encoder)


def _load_text_model(settings: Settings) -> LoadedScorer:
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
        note = getattr(loaded.model, "engine_note", None)
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


def open_store(settings: Settings, *, database_url: str | None = None) -> Store:
    """Open the case store the settings name, sealing with their data keys (if any).

    Raises:
        StorageError: the database cannot be opened, or it holds sealed texts no configured key opens.
    """
    keys = settings.data_keys.get_secret_value() if settings.data_keys is not None else None
    return Store.open(database_url or settings.database_url, sealer=Sealer.of(keys))


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
    store = open_store(settings, database_url=database_url)
    loaded = load_scorer(settings, policy)
    scoring = scoring_service(settings, loaded.scorer)
    return Services(settings=settings, policy=policy, store=store, loaded=loaded, scoring=scoring)


def scoring_service(
    settings: Settings, scorer: TextScorer, *, max_batch: int | None = None
) -> ScoringService:
    """The micro-batcher in front of the scorer, as configured: the one way this process scores text.

    The running bot, ``replay`` and ``check`` all score through one of these, so a message gets the
    same batching lanes, the same digest cache and the same handling of a failed batch everywhere.

    Args:
        settings: the scoring settings (window, long-text lane, cache size, batch size).
        scorer: the model.
        max_batch: the most short texts scored together, where a caller that keeps nobody waiting
            (``check --json``) wants bigger batches than the chat's ``scoring_batch_size``.
    """
    return ScoringService(
        scorer,
        max_batch=max_batch or settings.scoring_batch_size,
        window_ms=settings.scoring_window_ms,
        long_text_chars=settings.scoring_long_text_chars or None,
        cache_size=settings.scoring_cache_size,
    )


def make_pipeline(services: Services, adapter: Adapter) -> Pipeline:
    """The pipeline for one adapter, sharing the process's policy, store, scorer and micro-batcher."""
    return Pipeline(
        policy=services.policy,
        store=services.store,
        scorer=services.loaded.scorer,
        adapter=adapter,
        scoring=services.scoring,
        assess_budget_seconds=services.settings.assess_budget_seconds,
        languages=covered_languages(services.loaded.scorer.name, services.settings.encoder_languages),
    )
