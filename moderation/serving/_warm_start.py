"""A low-memory warm start for the ONNX engines: no torch, no Detoxify, no fp32 model.

The first start of a checkpoint loads Detoxify, exports the ONNX file and checks it against fp32 torch;
it also stores fp32 torch's scores for the probe texts in the engine cache (``fp32-reference-*.json``),
keyed by the checkpoint's sha256 and a hash of the probe texts. A later start whose ONNX file and
reference scores are both cached builds only the tokenizer (from the bundle's ``hf/`` files) and an
ONNX Runtime session, and checks the engine against those stored scores under the same drift rule.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from moderation.serving import _onnx_engines
from moderation.serving._serial_tokenizer import SerialTokenizer
from moderation.serving.engines import drift_from

__all__ = ["WarmStart", "load_reference", "probes_digest", "reference_file", "save_reference", "warm_start"]

logger = logging.getLogger("moderation.serving.engines")

_FORMAT = 1
_WARM_ENGINES = ("onnx-int8", "onnx")  # auto's CPU order, less torch-int8 (which needs torch)

Scores = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Reference:
    """fp32 torch's probe scores, and what a warm start needs to rebuild the tokenizer and key the file."""

    labels: tuple[str, ...]
    tokenizer_class: str
    window: int
    input_names: tuple[str, ...]
    scores: Scores


@dataclass(frozen=True, slots=True)
class WarmStart:
    """What a warm start found: an accepted engine (with its tokenizer), or a refusal to fall back on."""

    engine: Any | None
    tokenizer: Any | None
    labels: tuple[str, ...]
    drift: float
    refusal: str | None


def probes_digest(probes: Sequence[str]) -> str:
    """A hash of the probe texts, in order."""
    return hashlib.sha256(json.dumps(list(probes), ensure_ascii=False).encode()).hexdigest()


def reference_file(cache_dir: Path, checkpoint_sha256: str, probes: Sequence[str]) -> Path:
    """Where fp32 torch's scores for these probes and this checkpoint are kept."""
    return cache_dir / f"fp32-reference-{checkpoint_sha256[:16]}-{probes_digest(probes)[:12]}.json"


def save_reference(
    cache_dir: Path,
    checkpoint_sha256: str,
    probes: Sequence[str],
    *,
    labels: Sequence[str],
    tokenizer: Any,
    window: int,
    input_names: Sequence[str],
    scores: Scores,
) -> None:
    """Store fp32 torch's probe scores beside the engine files; a failure only costs the warm start."""
    record = {
        "format": _FORMAT,
        "checkpoint_sha256": checkpoint_sha256,
        "probes_sha256": probes_digest(probes),
        "labels": list(labels),
        "tokenizer_class": f"{type(tokenizer).__module__}:{type(tokenizer).__qualname__}",
        "window": int(window),
        "input_names": list(input_names),
        "scores": np.asarray(scores, dtype=np.float64).tolist(),
    }
    target = reference_file(cache_dir, checkpoint_sha256, probes)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        logger.info("cannot store the fp32 reference scores in %s (%s): no warm start", cache_dir, exc)


def load_reference(cache_dir: Path, checkpoint_sha256: str, probes: Sequence[str]) -> Reference | None:
    """The stored reference for this checkpoint and these probes, or ``None`` if missing or unsound."""
    path = reference_file(cache_dir, checkpoint_sha256, probes)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        labels = tuple(str(label) for label in record["labels"])
        scores = np.asarray(record["scores"], dtype=np.float32)
        reference = Reference(
            labels=labels,
            tokenizer_class=str(record["tokenizer_class"]),
            window=int(record["window"]),
            input_names=tuple(str(each) for each in record["input_names"]),
            scores=scores,
        )
        sound = (
            record["format"] == _FORMAT
            and record["checkpoint_sha256"] == checkpoint_sha256
            and record["probes_sha256"] == probes_digest(probes)
            and scores.shape == (len(probes), len(labels))
            and bool(np.all(np.isfinite(scores)))
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning(
            "the fp32 reference scores %s are unreadable (%s): loading the model to rebuild them",
            path,
            type(exc).__name__,
        )
        return None
    if not sound:
        logger.warning(
            "the fp32 reference scores %s do not match this checkpoint: loading the model to rebuild them",
            path,
        )
        return None
    return reference


def warm_start(
    name: str,
    *,
    hf_dir: Path,
    cache_dir: Path,
    checkpoint_sha256: str,
    probes: Sequence[str],
    max_drift: float,
    threads: int | None,
    max_window: int,
) -> WarmStart | None:
    """Start ``onnx``, ``onnx-int8`` or ``auto`` from the cache without torch; ``None``: take the cold path.

    ``auto`` is warm only while its candidates are cached in its own order (onnx-int8, then onnx),
    so it picks what the cold path would; an ``auto`` whose candidates all drift takes the cold path.
    A named engine that drifts gives a refusal: the caller falls back to fp32 torch with the reason.
    """
    candidates = _WARM_ENGINES if name == "auto" else (name,)
    if name != "auto" and name not in _WARM_ENGINES:
        return None
    reference = load_reference(cache_dir, checkpoint_sha256, probes)
    if reference is None:
        return None
    try:
        tokenizer = _tokenizer(reference.tokenizer_class, hf_dir, max_window)
    except Exception as exc:  # the cold path loads the tokenizer its own way and says what is wrong
        logger.info("warm start skipped: the tokenizer did not load (%s)", type(exc).__name__)
        return None
    if int(tokenizer.model_max_length) != reference.window:
        return None
    refusals: list[str] = []
    for candidate in candidates:
        path = _onnx_engines.cached_model_file(candidate, checkpoint_sha256, reference.input_names, cache_dir)
        if path is None:
            return None
        try:
            engine = _onnx_engines.load_onnx_engine(
                candidate,
                path,
                tokenizer,
                reference.input_names,
                device="cpu",
                threads=threads,
                columns=len(reference.labels),
            )
            drift = drift_from(engine, probes, reference.scores)
        except Exception as exc:
            logger.info("warm start skipped: %s failed to load or run (%s)", candidate, type(exc).__name__)
            return None
        if drift <= max_drift:
            logger.info(
                "scoring engine %s accepted (warm start): drift %.4f <= %.4f", candidate, drift, max_drift
            )
            reason = f"auto skipped {'; '.join(refusals)}" if refusals else None
            return WarmStart(
                engine=engine, tokenizer=tokenizer, labels=reference.labels, drift=drift, refusal=reason
            )
        refusal = f"{candidate} drifted {drift:.4f} from fp32 torch, over the allowed {max_drift:.4f}"
        logger.warning("scoring engine refused: %s", refusal)
        refusals.append(refusal)
    if name == "auto":
        return None
    return WarmStart(
        engine=None, tokenizer=None, labels=reference.labels, drift=0.0, refusal="; ".join(refusals)
    )


def _tokenizer(class_path: str, hf_dir: Path, max_window: int) -> Any:
    # The class Detoxify loaded, imported from its own module: transformers' AutoTokenizer imports torch.
    module_name, _, qualname = class_path.partition(":")
    tokenizer_class: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        tokenizer_class = getattr(tokenizer_class, part)
    importlib.import_module("transformers").utils.logging.disable_progress_bar()
    tokenizer = tokenizer_class.from_pretrained(str(hf_dir.resolve()), local_files_only=True)
    tokenizer.model_max_length = min(int(tokenizer.model_max_length), max_window)
    return SerialTokenizer(tokenizer)
