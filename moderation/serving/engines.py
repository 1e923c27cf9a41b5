"""Inference engines for the Detoxify scorer: plain torch, torch int8, ONNX Runtime fp32 and int8.

An engine is only the model's forward pass: it takes texts that already fit the model's window,
tokenizes them with the bundle's tokenizer and returns sigmoid probabilities. Windowing
(:mod:`moderation.serving.windowing`), batching and the per-label maximum stay with
:class:`~moderation.serving.detoxify_scorer.DetoxifyScorer`.
Every engine other than plain fp32 torch is checked against it on probe texts before it is used.
"""

from __future__ import annotations

import copy
import importlib
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from moderation.errors import ScorerError
from moderation.serving._onnx_engines import build_onnx_engine
from moderation.serving._probe_texts import DEFAULT_PROBE_TEXTS, PROBE_BATCH

__all__ = [
    "AUTO",
    "DEFAULT_MAX_DRIFT",
    "DEFAULT_PROBE_TEXTS",
    "ENGINES",
    "Engine",
    "ModelSource",
    "PreparedEngine",
    "build_engine",
    "drift_from",
    "measure_drift",
    "prepare_engine",
    "reference_scores",
]

logger = logging.getLogger(__name__)

ENGINES = ("torch", "torch-int8", "onnx", "onnx-int8")
"""The engines by name; ``torch`` is Detoxify as loaded, in fp32, and the reference for the others."""
AUTO = "auto"
"""Asks for the fastest engine that passes the equivalence check."""
DEFAULT_MAX_DRIFT = 0.02

# Fastest first, as measured on a 2-core CPU with the bert-base shape (issue 5).
_AUTO_ORDER_CPU = ("onnx-int8", "onnx", "torch-int8")
# int8 dynamic quantisation runs on the CPU only; on a GPU only ONNX Runtime's CUDA provider competes.
_AUTO_ORDER_CUDA = ("onnx",)

Scores = npt.NDArray[np.float32]


class Engine(Protocol):
    """A model forward pass: texts that fit the window in, sigmoid probabilities out."""

    @property
    def name(self) -> str:
        """One of :data:`ENGINES`."""
        ...

    def predict(self, texts: list[str]) -> Scores:
        """Score texts; returns shape ``(len(texts), labels)`` in the scorer's label order."""
        ...


@dataclass(frozen=True, slots=True)
class ModelSource:
    """The loaded Detoxify model that engines are built from, and where exports are cached.

    Args:
        detoxify: a loaded ``detoxify.Detoxify`` whose tokenizer already truncates to the window.
        labels: its labels, in the model's output order.
        device: ``cpu`` or ``cuda``, as the model was loaded.
        checkpoint_sha256: the checkpoint's sha256 (from ``bundle.json``); keys the export cache.
        cache_dir: where exported and quantised files are kept; ``None`` exports on each start.
    """

    detoxify: Any
    labels: tuple[str, ...]
    device: str = "cpu"
    checkpoint_sha256: str | None = None
    cache_dir: Path | None = None


@dataclass(frozen=True, slots=True)
class PreparedEngine:
    """The engine to score with, its measured drift from fp32 torch, and why it is not the one asked.

    ``drift`` is the largest absolute score difference from plain fp32 torch on the probe texts
    (0.0 for torch itself). ``reason`` says why a requested engine was refused (``fell_back``) or,
    for ``auto``, why faster engines were skipped; it is ``None`` when the first choice is used.
    """

    engine: Engine
    drift: float
    reason: str | None
    fell_back: bool
    reference_scores: Scores | None = None
    """fp32 torch's scores for the probe texts, in order, when the check computed them."""


class _DetoxifyEngine:
    """Detoxify's own ``predict``, fp32, on the device it was loaded to."""

    name = "torch"

    def __init__(self, detoxify: Any, labels: tuple[str, ...]) -> None:
        self._detoxify = detoxify
        self._labels = labels

    def predict(self, texts: list[str]) -> Scores:
        if not texts:
            return np.zeros((0, len(self._labels)), dtype=np.float32)
        raw = self._detoxify.predict(texts)
        # Detoxify squeezes a batch of one into plain floats instead of one-element lists.
        columns = [np.atleast_1d(np.asarray(raw[label], dtype=np.float32)) for label in self._labels]
        return np.stack(columns, axis=1)


class _TorchModelEngine:
    """A torch model called directly: used for the dynamically quantised copy."""

    def __init__(self, name: str, model: Any, tokenizer: Any, labels: tuple[str, ...]) -> None:
        self.name = name
        self._model = model
        self._tokenizer = tokenizer
        self._labels = labels
        self._torch: Any = importlib.import_module("torch")

    def predict(self, texts: list[str]) -> Scores:
        if not texts:
            return np.zeros((0, len(self._labels)), dtype=np.float32)
        inputs = self._tokenizer(texts, return_tensors="pt", truncation=True, padding=True)
        with self._torch.inference_mode():
            logits = self._model(**inputs)[0][:, : len(self._labels)]  # labels come first
            scores: Scores = self._torch.sigmoid(logits).float().numpy()
        return scores


def build_engine(name: str, source: ModelSource, *, threads: int | None = None) -> Engine:
    """Build one engine from a loaded model, exporting or quantising it (cached) as needed.

    Args:
        name: one of :data:`ENGINES`.
        source: the loaded model and the export cache.
        threads: torch CPU threads / ONNX Runtime intra-op threads; ``None`` keeps each library's
            default, the machine's physical cores.

    Raises:
        ScorerError: the name is unknown, the engine does not run on the device, or it failed to build.

    """
    _check_name(name, allow_auto=False)
    if threads is not None:
        if threads < 1:
            raise ScorerError(f"the scoring thread count must be at least 1, not {threads}: fix it")
        importlib.import_module("torch").set_num_threads(threads)
    if name == "torch":
        return _DetoxifyEngine(source.detoxify, source.labels)
    if name in ("torch-int8", "onnx-int8") and source.device != "cpu":
        raise ScorerError(
            f"the {name} engine runs on the CPU only, and the device is {source.device!r}: "
            "use the torch or onnx engine on a GPU, or set the device to 'cpu'"
        )
    if name == "torch-int8":
        return _quantised_torch_engine(source)
    return build_onnx_engine(
        name,
        source.detoxify.model,
        source.detoxify.tokenizer,
        device=source.device,
        checkpoint_sha256=source.checkpoint_sha256,
        cache_dir=source.cache_dir,
        threads=threads,
        columns=len(source.labels),
    )


def measure_drift(engine: Engine, reference: Engine, probe_texts: Sequence[str]) -> float:
    """Return the largest absolute score difference between two engines over texts and labels.

    Texts are scored in mixed-length batches, so padding is exercised too. A wrong shape or a
    non-finite score counts as infinite drift.
    """
    return drift_from(engine, probe_texts, reference_scores(reference, probe_texts))


def drift_from(engine: Engine, probe_texts: Sequence[str], expected: Scores) -> float:
    """:func:`measure_drift` against reference scores already known (a warm start's saved ones)."""
    largest = 0.0
    texts = list(probe_texts)
    for begin in range(0, len(texts), PROBE_BATCH):
        found = engine.predict(texts[begin : begin + PROBE_BATCH])
        wanted = expected[begin : begin + PROBE_BATCH]
        if found.shape != wanted.shape or not np.all(np.isfinite(found)):
            return math.inf
        largest = max(largest, float(np.max(np.abs(found.astype(np.float64) - wanted), initial=0.0)))
    return largest


def reference_scores(reference: Engine, probe_texts: Sequence[str]) -> Scores:
    """Score the probe texts with the reference in the same batches :func:`measure_drift` uses."""
    texts = list(probe_texts)
    chunks = [
        reference.predict(texts[begin : begin + PROBE_BATCH]) for begin in range(0, len(texts), PROBE_BATCH)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


class _MemoReference:
    """The reference engine, scoring each probe batch once however many candidates are checked."""

    def __init__(self, inner: Engine) -> None:
        self.name = inner.name
        self._inner = inner
        self._seen: dict[tuple[str, ...], Scores] = {}

    def predict(self, texts: list[str]) -> Scores:
        key = tuple(texts)
        if key not in self._seen:
            self._seen[key] = self._inner.predict(texts)
        return self._seen[key]

    def scores(self, probe_texts: list[str]) -> Scores | None:
        chunks = [
            tuple(probe_texts[begin : begin + PROBE_BATCH])
            for begin in range(0, len(probe_texts), PROBE_BATCH)
        ]
        if not chunks or any(chunk not in self._seen for chunk in chunks):
            return None
        return np.concatenate([self._seen[chunk] for chunk in chunks])


def prepare_engine(
    name: str,
    source: ModelSource,
    probe_texts: Sequence[str] = DEFAULT_PROBE_TEXTS,
    *,
    max_drift: float = DEFAULT_MAX_DRIFT,
    threads: int | None = None,
) -> PreparedEngine:
    """Build the requested engine and check it against fp32 torch, falling back to torch if it differs.

    ``auto`` tries the fastest engines first and takes the first that passes. A refused engine
    (it failed to build or run, or drifted more than ``max_drift``) is logged at WARNING with the
    reason; the scores themselves and the probe texts are never logged.

    Args:
        name: one of :data:`ENGINES`, or ``auto``.
        source: the loaded model and the export cache.
        probe_texts: texts scored by both engines; empty uses :data:`DEFAULT_PROBE_TEXTS`.
        max_drift: the largest absolute score difference accepted.
        threads: see :func:`build_engine`.

    Raises:
        ScorerError: the name is unknown, ``max_drift`` is negative, or plain torch itself fails.

    """
    _check_name(name, allow_auto=True)
    if not max_drift >= 0.0:
        raise ScorerError(f"the engine's max drift must be 0 or more, not {max_drift}: fix the setting")
    probes = list(probe_texts) or list(DEFAULT_PROBE_TEXTS)
    reference = build_engine("torch", source, threads=threads)
    if name == "torch":
        return PreparedEngine(engine=reference, drift=0.0, reason=None, fell_back=False)
    candidates: tuple[str, ...] = (name,)
    if name == AUTO:
        candidates = _AUTO_ORDER_CPU if source.device == "cpu" else _AUTO_ORDER_CUDA
    refusals: list[str] = []
    memo = _MemoReference(reference)
    for candidate in candidates:
        try:
            engine = build_engine(candidate, source, threads=threads)
            drift = measure_drift(engine, memo, probes)
        except Exception as exc:  # any failure to build or run refuses the engine, never the scorer
            refusal = f"{candidate} failed to build or run ({type(exc).__name__}: {_first_line(exc)})"
        else:
            if drift <= max_drift:
                reason = f"auto skipped {'; '.join(refusals)}" if refusals else None
                logger.info("scoring engine %s accepted: drift %.4f <= %.4f", candidate, drift, max_drift)
                return PreparedEngine(
                    engine=engine,
                    drift=drift,
                    reason=reason,
                    fell_back=False,
                    reference_scores=memo.scores(probes),
                )
            refusal = f"{candidate} drifted {drift:.4f} from fp32 torch, over the allowed {max_drift:.4f}"
        logger.warning("scoring engine refused: %s", refusal)
        refusals.append(refusal)
    reason = f"using fp32 torch: {'; '.join(refusals) or 'no faster engine runs on ' + source.device}"
    logger.warning("scoring engine %s not used: %s", name, reason)
    return PreparedEngine(
        engine=reference, drift=0.0, reason=reason, fell_back=True, reference_scores=memo.scores(probes)
    )


def _quantised_torch_engine(source: ModelSource) -> Engine:
    torch: Any = importlib.import_module("torch")
    model = copy.deepcopy(source.detoxify.model).cpu().eval()
    with warnings.catch_warnings():
        # torch 2.13 deprecates torch.ao.quantization in favour of torchao, which classmod does not use.
        warnings.filterwarnings("ignore", "torch.ao.quantization is deprecated", DeprecationWarning)
        warnings.filterwarnings("ignore", "torch.quantize_per_tensor, ", UserWarning)
        quantised = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return _TorchModelEngine("torch-int8", quantised, source.detoxify.tokenizer, source.labels)


def _check_name(name: str, *, allow_auto: bool) -> None:
    known = (*ENGINES, AUTO) if allow_auto else ENGINES
    if name not in known:
        raise ScorerError(f"unknown scoring engine {name!r}: choose one of {', '.join(known)}")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else "no message"
