"""The Detoxify text scorer: a Detoxify model, loaded offline from a bundle, on its fastest checked engine.

The bundle's format is in :mod:`moderation.serving.detoxify_bundle`, the model's loading in
:mod:`moderation.serving.detoxify_model`, long texts' windows in :mod:`moderation.serving.windowing`.
The forward pass is an engine from :mod:`moderation.serving.engines`, whose exported files are cached
in ``.engines/`` inside the bundle unless another folder is given.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moderation.errors import ScorerError
from moderation.serving import _warm_start, detoxify_model
from moderation.serving._onnx_engines import model_input_names
from moderation.serving._probe_texts import DEFAULT_PROBE_TEXTS
from moderation.serving._serial_tokenizer import SerialTokenizer, unwrap
from moderation.serving.detoxify_bundle import (
    BUNDLE_FIX,
    CHECKPOINT_FILE,
    ENGINE_CACHE_DIR,
    HF_DIR,
    MANIFEST_FILE,
    read_checkpoint_sha256,
)
from moderation.serving.engines import (
    DEFAULT_MAX_DRIFT,
    Engine,
    ModelSource,
    build_engine,
    prepare_engine,
    reference_scores,
)
from moderation.serving.windowing import MAX_WINDOW_TOKENS, padded_batches, pass_cost_tokens, window_spans

__all__ = ["DEFAULT_VARIANT", "DetoxifyScorer"]

DEFAULT_VARIANT = "unbiased-small"

logger = logging.getLogger(__name__)


class DetoxifyScorer:
    """Scores texts with a Detoxify model, loaded once through ``detoxify.Detoxify``.

    Texts longer than the model's window are split into overlapping token windows and each label
    is the maximum over the windows, so abuse at the end of a long message is not truncated away.

    Args:
        variant: the Detoxify variant, e.g. ``unbiased-small``; names the scorer. With no bundle,
            Detoxify downloads it (needs internet). ``None`` takes the variant from the bundle.
        bundle: an offline bundle directory (``checkpoint.ckpt``, ``hf/``); loads with no network.
        device: ``cpu``, ``cuda`` (only when torch sees a CUDA GPU) or ``auto`` (``cuda`` when
            torch sees one, else ``cpu``; see :func:`~moderation.serving.detoxify_model.resolve_device`).
        threads: torch CPU threads and ONNX Runtime intra-op threads, or ``None`` for each
            library's default (the machine's physical cores).
        batch_size: the most texts (windows) handed to the model at once.
        engine: the forward pass, one of ``moderation.serving.engines.ENGINES`` or ``auto`` (the
            fastest that passes the equivalence check against fp32 torch; see ``prepare_engine``).
        engine_cache: where exported engine files are kept; ``None`` is ``<bundle>/.engines``.
        max_drift: the largest score difference from fp32 torch an engine may show on the probes.
        probe_texts: texts for the equivalence check; empty uses a built-in set of chat messages.

    Raises:
        ScorerError: the model could not be loaded, or the engine name is unknown; the message
            says why and what to do. An engine that fails or drifts falls back to fp32 torch instead.

    """

    def __init__(
        self,
        variant: str | None = DEFAULT_VARIANT,
        *,
        bundle: Path | None = None,
        device: str = "cpu",
        threads: int | None = None,
        batch_size: int = 32,
        engine: str = "torch",
        engine_cache: Path | None = None,
        max_drift: float = DEFAULT_MAX_DRIFT,
        probe_texts: Sequence[str] = (),
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if variant is None and bundle is None:
            raise ScorerError("DetoxifyScorer needs a variant or a bundle directory: set one of them")
        if threads is not None and threads < 1:
            raise ScorerError(f"the torch thread count must be at least 1, not {threads}: fix it")
        self._name = _scorer_name(variant, bundle)
        self._batch_size = batch_size
        device = detoxify_model.resolve_device(device)
        self._device = device
        probes = list(probe_texts) or list(DEFAULT_PROBE_TEXTS)
        checkpoint_sha256 = read_checkpoint_sha256(bundle)
        cache_dir = engine_cache or (bundle / ENGINE_CACHE_DIR if bundle is not None else None)
        warm: _warm_start.WarmStart | None = None
        if (
            bundle is not None
            and checkpoint_sha256
            and cache_dir is not None
            and device == "cpu"
            and max_drift >= 0
        ):
            warm = _warm_start.warm_start(
                engine,
                hf_dir=bundle / HF_DIR,
                cache_dir=cache_dir,
                checkpoint_sha256=checkpoint_sha256,
                probes=probes,
                max_drift=max_drift,
                threads=threads,
                max_window=MAX_WINDOW_TOKENS,
            )
        if warm is not None and warm.engine is not None:
            # The warm start: the ONNX file and fp32's probe scores are cached; torch is never loaded.
            self._detoxify: Any = None
            self._labels = warm.labels
            self._set_tokenizer(warm.tokenizer)
            self._engine: Engine = warm.engine
            self._engine_drift: float | None = warm.drift
            self._engine_note: str | None = warm.refusal
            self._name = f"{self._name} ({self._engine.name})"
            return
        detoxify, torch = detoxify_model.import_libraries()
        detoxify_model.check_device(torch, device)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            if bundle is None:
                self._detoxify = detoxify.Detoxify(model_type=variant, device=device)
            else:
                self._detoxify = detoxify_model.load_from_bundle(detoxify, torch, bundle, device, cache_dir)
            self._labels = tuple(str(label) for label in self._detoxify.class_names)
            # score_batch may run in two threads at once (the scoring lanes); so may the engines.
            self._detoxify.tokenizer = SerialTokenizer(self._detoxify.tokenizer)
            self._set_tokenizer(self._detoxify.tokenizer)
        except ScorerError:
            raise
        except Exception as exc:
            where = f"from {bundle}" if bundle is not None else "by download"
            raise ScorerError(
                f"Detoxify could not load {self._name} {where} ({type(exc).__name__}: {exc}): {BUNDLE_FIX}"
            ) from exc
        source = ModelSource(
            detoxify=self._detoxify,
            labels=self._labels,
            device=device,
            checkpoint_sha256=checkpoint_sha256,
            cache_dir=cache_dir,
        )
        if warm is not None:
            # The cached engine drifted from the stored fp32 scores: fp32 torch, as a refusal would.
            reason = f"using fp32 torch: {warm.refusal}"
            logger.warning("scoring engine %s not used: %s", engine, reason)
            self._engine = build_engine("torch", source, threads=threads)
            self._engine_drift, self._engine_note = None, reason
            self._store_reference(source, probes, _engines_reference(self._engine, probes))
            return
        prepared = prepare_engine(engine, source, probes, max_drift=max_drift, threads=threads)
        self._store_reference(source, probes, prepared.reference_scores)
        self._engine = prepared.engine
        self._engine_drift = None if prepared.engine.name == "torch" else prepared.drift
        self._engine_note = prepared.reason
        if self._engine.name != "torch":
            self._name = f"{self._name} ({self._engine.name})"
            # The fp32 model was only the reference for the check: free its memory.
            self._detoxify = None
            del source
            detoxify_model.return_freed_memory()

    def _set_tokenizer(self, tokenizer: Any) -> None:
        self._tokenizer: Any = tokenizer
        window = min(int(tokenizer.model_max_length), MAX_WINDOW_TOKENS)
        # Detoxify truncates to model_max_length; an unset one (a huge sentinel) would not truncate.
        tokenizer.model_max_length = window
        self._specials = int(tokenizer.num_special_tokens_to_add(pair=False))
        self._body = max(1, window - self._specials)
        self._overlap = self._body // 4

    def _store_reference(self, source: ModelSource, probes: list[str], scores: Any) -> None:
        # fp32's probe scores, so the next start of an ONNX engine can check it without loading torch.
        if (
            scores is None
            or source.device != "cpu"
            or not source.checkpoint_sha256
            or source.cache_dir is None
        ):
            return
        try:
            input_names = model_input_names(source.detoxify.model, self._tokenizer)
        except Exception:  # a model the exporter cannot describe gets no warm start
            return
        _warm_start.save_reference(
            source.cache_dir,
            source.checkpoint_sha256,
            probes,
            labels=self._labels,
            tokenizer=unwrap(self._tokenizer),
            window=int(self._tokenizer.model_max_length),
            input_names=input_names,
            scores=scores,
        )

    @property
    def name(self) -> str:
        """Which model this is, e.g. ``detoxify:unbiased-small``."""
        return self._name

    @property
    def labels(self) -> tuple[str, ...]:
        """The labels of the checkpoint, with Detoxify's standard names."""
        return self._labels

    @property
    def device(self) -> str:
        """Where the model runs: ``cpu`` or ``cuda`` (``auto`` resolved)."""
        return self._device

    @property
    def engine(self) -> str:
        """The engine scoring, e.g. ``torch`` or ``onnx-int8`` (after any fallback)."""
        return self._engine.name

    @property
    def engine_drift(self) -> float | None:
        """The engine's largest score difference from fp32 torch on the probes; ``None`` for torch."""
        return self._engine_drift

    @property
    def engine_note(self) -> str | None:
        """Why the engine is not the one asked for (a refusal, or engines ``auto`` skipped), if so."""
        return self._engine_note

    def score_batch(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Score texts, one label mapping per text, in order; long texts take the max over windows.

        Raises:
            ScorerError: the model failed while scoring.

        """
        segments: list[str] = []
        owners: list[int] = []
        tokens: list[int] = []
        for index, text in enumerate(texts):
            for start, end, count in self._window_spans(text):
                segments.append(text[start:end])
                owners.append(index)
                tokens.append(count + self._specials)
        results: list[dict[str, float]] = [dict.fromkeys(self._labels, 0.0) for _ in texts]
        # A pass pads every text to its longest: batch similar lengths, so short messages do not
        # pay for a long one's padding.
        pass_cost = pass_cost_tokens(self._device)
        for positions in padded_batches(tokens, self._batch_size, pass_cost):
            chunk = [segments[position] for position in positions]
            chunk_owners = [owners[position] for position in positions]
            for owner, scores in zip(chunk_owners, self._predict(chunk), strict=True):
                result = results[owner]
                for label in self._labels:
                    result[label] = max(result[label], scores[label])
        return results

    def _window_spans(self, text: str) -> list[tuple[int, int, int]]:
        # Character spans of the token windows of the text, with their token counts (special tokens
        # aside): the whole text when it fits one window.
        try:
            encoding = self._tokenizer(
                text,
                add_special_tokens=False,
                return_offsets_mapping=True,
                truncation=False,
                verbose=False,
            )
        except Exception as exc:
            raise ScorerError(
                f"{self._name} could not tokenize a text ({type(exc).__name__}); the message is held for "
                "review: check the bundle's hf/ tokenizer files"
            ) from exc
        return window_spans(text, encoding, self._body, self._overlap)

    def _predict(self, chunk: list[str]) -> list[dict[str, float]]:
        try:
            scores = self._engine.predict(chunk)
            if scores.shape != (len(chunk), len(self._labels)):
                raise ValueError(f"the engine returned shape {scores.shape}")
        except Exception as exc:
            raise ScorerError(
                f"{self._name} failed while scoring {len(chunk)} text(s) ({type(exc).__name__}); "
                "the message is held for review: check the model bundle and the device setting"
            ) from exc
        return [dict(zip(self._labels, map(float, row), strict=True)) for row in scores.tolist()]


def _scorer_name(variant: str | None, bundle: Path | None) -> str:
    if variant is None and bundle is not None:
        try:
            variant = str(json.loads((bundle / MANIFEST_FILE).read_text(encoding="utf-8"))["variant"])
        except (OSError, ValueError, KeyError, TypeError):
            return f"detoxify:checkpoint {bundle.name}/{CHECKPOINT_FILE}"
    return f"detoxify:{variant}"


def _engines_reference(engine: Engine, probes: list[str]) -> Any:
    try:
        return reference_scores(engine, probes)
    except Exception:  # the scorer still works; only the next warm start is lost
        return None
