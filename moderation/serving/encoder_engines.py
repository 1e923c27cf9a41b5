"""The sentence encoder on ONNX Runtime (fp32 or int8), checked against fp32 torch before it is used.

The export, quantisation and on-disk cache are Detoxify's (:mod:`moderation.serving._onnx_engines`),
keyed by the encoder's weights' SHA-256. An engine is accepted only while its **drift** on the probe
texts is at most the configured maximum: the larger of the policy heads' largest probability difference
from fp32 torch and ``1 - `` the lowest cosine between its embeddings and torch's. A refused engine is
logged with the reason, which ``classmod status`` shows, and the encoder stays on torch.

The first start exports the model and stores torch's probe embeddings beside the files
(``encoder-reference-*.json``). A later start whose files are all cached and sound checks the engine
against those embeddings with ``tokenizers`` and ONNX Runtime alone: torch is never imported, which
saves seconds of start-up and hundreds of megabytes.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from moderation.errors import ScorerError
from moderation.heads.model import PolicyHeads
from moderation.serving import _onnx_engines
from moderation.serving._probe_texts import DEFAULT_PROBE_TEXTS
from moderation.serving._warm_start import probes_digest
from moderation.serving.engines import AUTO, DEFAULT_MAX_DRIFT, _first_line
from moderation.serving.sentence_encoder import (
    SentenceEncoder,
    TorchForward,
    load_tokenizer,
    verify_encoder,
)

__all__ = [
    "ENCODER_ENGINES",
    "OnnxForward",
    "PreparedEncoder",
    "embedding_drift",
    "load_encoder",
    "session_threads",
]

logger = logging.getLogger(__name__)

ENCODER_ENGINES = ("torch", "onnx", "onnx-int8")
"""The encoder's engines; ``torch`` (fp32) is the reference for the others."""
_AUTO_ORDER = ("onnx-int8", "onnx")  # fastest first, measured by bench/heads.py on 2 cores
_REFERENCE_FORMAT = 1


class OnnxForward:
    """The encoder's forward pass in an ONNX Runtime session.

    ``callers``: how many passes the session is built to run at once (see :func:`session_threads`).
    """

    def __init__(self, name: str, session: Any, input_names: Sequence[str], callers: int = 1) -> None:
        self.name = name
        self._session = session
        self.input_names = tuple(input_names)
        self.callers = callers

    def __call__(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """The last hidden states (the export's first output)."""
        inputs = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": np.zeros_like(input_ids),
        }
        feeds = {name: inputs[name] for name in self.input_names}
        return np.asarray(self._session.run(None, feeds)[0], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class PreparedEncoder:
    """The encoder to score with, its engine's drift from fp32 torch, and why it is not the one asked.

    ``drift`` is ``None`` for torch itself. ``note`` says why a requested engine was refused
    (``fell_back``) or, for ``auto``, which faster engines were skipped and why.
    """

    encoder: SentenceEncoder
    drift: float | None
    note: str | None
    fell_back: bool


@dataclass(frozen=True, slots=True)
class _Reference:
    input_names: tuple[str, ...]
    embeddings: np.ndarray


def session_threads(threads: int | None) -> tuple[int, int]:
    """ONNX Runtime's intra-op threads for the encoder's session, and how many passes run at once.

    Unset (``None``), every usable core runs passes of its own on one thread each: a chat message's pass
    is too small to share between cores, and on 2 cores two one-thread passes at once encode the
    generated chat about 15% faster than one two-thread pass at a time (``bench/encoder_batches.py``).
    Set, that many threads share each pass, one pass at a time, as before.
    """
    if threads:
        return threads, 1
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    return 1, max(1, len(usable))


def embedding_drift(
    found: np.ndarray, expected: np.ndarray, texts: Sequence[str], heads: PolicyHeads | None
) -> float:
    """The larger of the heads' largest probability difference and ``1 -`` the lowest cosine.

    Both sets of embeddings are unit rows for ``texts``; a wrong shape or a non-finite number is
    infinite drift. Without heads only the cosine counts.
    """
    if found.shape != expected.shape or not np.all(np.isfinite(found)):
        return math.inf
    if not len(texts):
        return 0.0
    cosines = np.sum(found.astype(np.float64) * expected.astype(np.float64), axis=1)
    drift = float(1.0 - np.min(cosines))
    if heads is not None:
        difference = heads.probabilities(found, texts) - heads.probabilities(expected, texts)
        drift = max(drift, float(np.max(np.abs(difference))))
    return max(drift, 0.0)


def load_encoder(
    path: Path,
    *,
    engine: str = AUTO,
    heads: PolicyHeads | None = None,
    probe_texts: Sequence[str] = DEFAULT_PROBE_TEXTS,
    max_drift: float = DEFAULT_MAX_DRIFT,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> PreparedEncoder:
    """Verify and load an encoder on the engine asked (``auto``: the fastest that passes the check).

    Args:
        path: the encoder's directory.
        engine: one of :data:`ENCODER_ENGINES`, or ``auto``.
        heads: the heads that will score its embeddings; their probabilities are compared.
        probe_texts: texts both engines encode; empty uses the built-in probes.
        max_drift: the largest drift accepted (see :func:`embedding_drift`).
        cache_dir: where exported files and torch's probe embeddings are kept; ``None`` exports to a
            scratch folder on every start (and never starts without torch).
        threads: torch threads / ONNX Runtime intra-op threads; ``None``: each library's default.

    Raises:
        ScorerError: the engine is unknown, ``max_drift`` negative, or the encoder fails verification
            or cannot be loaded with torch. An ONNX engine that fails or drifts falls back to torch.
    """
    if engine not in (*ENCODER_ENGINES, AUTO):
        raise ScorerError(
            f"unknown encoder engine {engine!r}: choose one of {', '.join((*ENCODER_ENGINES, AUTO))}"
        )
    if not max_drift >= 0.0:
        raise ScorerError(f"the encoder's max drift must be 0 or more, not {max_drift}: fix the setting")
    sha256 = verify_encoder(path)
    tokenizer = load_tokenizer(path)
    if engine == "torch":
        encoder = SentenceEncoder(path, sha256, tokenizer, TorchForward.load(path, threads=threads))
        return PreparedEncoder(encoder, drift=None, note=None, fell_back=False)
    candidates = _AUTO_ORDER if engine == AUTO else (engine,)
    probes = list(probe_texts) or list(DEFAULT_PROBE_TEXTS)
    if cache_dir is not None:
        warm = _warm_start(path, sha256, tokenizer, candidates, heads, probes, max_drift, cache_dir, threads)
        if warm is not None:
            return warm
    torch_forward = TorchForward.load(path, threads=threads)
    reference = SentenceEncoder(path, sha256, tokenizer, torch_forward)
    expected = reference.encode(probes)
    stored = False
    refusals: list[str] = []
    intra_op, callers = session_threads(threads)
    for candidate in candidates:
        known = _cached_refusal(candidate, torch_forward, sha256, heads, probes, max_drift, cache_dir)
        if known is not None:  # asked for by name: torch is the fallback, and the engine is not loaded
            refusals.append(known)
            continue
        try:
            session, input_names = _onnx_engines.build_onnx_session(
                candidate,
                torch_forward.model,
                torch_forward.tokenizer,
                device="cpu",
                checkpoint_sha256=sha256,
                cache_dir=cache_dir,
                threads=intra_op,
                lean=True,
            )
            if cache_dir is not None and not stored:
                stored = _save_reference(cache_dir, sha256, probes, input_names, expected)
            forward = OnnxForward(candidate, session, input_names, callers)
            encoder = replace(reference, forward=forward)
            drift = embedding_drift(encoder.encode(probes), expected, probes, heads)
        except Exception as exc:  # any failure to build or run refuses the engine, never the encoder
            refusal = f"{candidate} failed to build or run ({type(exc).__name__}: {_first_line(exc)})"
        else:
            if drift <= max_drift:
                return _accepted(encoder, drift, max_drift, refusals)
            refusal = _drifted(candidate, drift, max_drift)
            if cache_dir is not None:
                built = _onnx_engines.cached_model_file(candidate, sha256, input_names, cache_dir)
                if built is not None:
                    _remember_refusal(built, heads, probes, drift)
        logger.warning("encoder engine refused: %s", refusal)
        refusals.append(refusal)
    note = f"using fp32 torch: {'; '.join(refusals)}"
    logger.warning("encoder engine %s not used: %s", engine, note)
    return PreparedEncoder(reference, drift=None, note=note, fell_back=True)


def _warm_start(
    path: Path,
    sha256: str,
    tokenizer: Any,
    candidates: Sequence[str],
    heads: PolicyHeads | None,
    probes: list[str],
    max_drift: float,
    cache_dir: Path,
    threads: int | None,
) -> PreparedEncoder | None:
    """Check cached engines against torch's stored embeddings; ``None``: take the path through torch.

    Warm only while every candidate up to the one accepted is cached and sound, so ``auto`` picks what
    the cold path would; when none passes, the cold path checks against the model itself.
    """
    reference = _load_reference(cache_dir, sha256, probes)
    if reference is None:
        return None
    refusals: list[str] = []
    intra_op, callers = session_threads(threads)
    for candidate in candidates:
        model_file = _onnx_engines.cached_model_file(candidate, sha256, reference.input_names, cache_dir)
        if model_file is None:
            return None
        known = _known_refusal(model_file, heads, probes, max_drift)
        if known is not None:  # this very file, these heads and probes: refused before, not loaded again
            refusals.append(_refused_earlier(candidate, known, max_drift))
            continue
        try:
            session = _onnx_engines.load_onnx_session(model_file, device="cpu", threads=intra_op, lean=True)
            forward = OnnxForward(candidate, session, reference.input_names, callers)
            encoder = SentenceEncoder(path, sha256, tokenizer, forward)
            drift = embedding_drift(encoder.encode(probes), reference.embeddings, probes, heads)
        except Exception as exc:
            logger.info(
                "encoder warm start skipped: %s failed to load or run (%s)", candidate, type(exc).__name__
            )
            return None
        if drift <= max_drift:
            return _accepted(encoder, drift, max_drift, refusals)
        refusal = _drifted(candidate, drift, max_drift)
        logger.warning("encoder engine refused: %s", refusal)
        refusals.append(refusal)
        _remember_refusal(model_file, heads, probes, drift)
    return None


def _cached_refusal(
    candidate: str,
    torch_forward: TorchForward,
    sha256: str,
    heads: PolicyHeads | None,
    probes: Sequence[str],
    max_drift: float,
    cache_dir: Path | None,
) -> str | None:
    """Why an earlier start refused this engine's cached file, if that still refuses it; else ``None``."""
    if cache_dir is None:
        return None
    input_names = _onnx_engines.model_input_names(torch_forward.model, torch_forward.tokenizer)
    model_file = _onnx_engines.cached_model_file(candidate, sha256, input_names, cache_dir)
    known = _known_refusal(model_file, heads, probes, max_drift) if model_file is not None else None
    return None if known is None else _refused_earlier(candidate, known, max_drift)


def _accepted(
    encoder: SentenceEncoder, drift: float, max_drift: float, refusals: list[str]
) -> PreparedEncoder:
    logger.info("encoder engine %s accepted: drift %.4f <= %.4f", encoder.engine, drift, max_drift)
    note = f"auto skipped {'; '.join(refusals)}" if refusals else None
    return PreparedEncoder(encoder, drift=drift, note=note, fell_back=False)


def _drifted(candidate: str, drift: float, max_drift: float) -> str:
    return (
        f"{candidate} drifted {drift:.4f} from fp32 torch (heads' probabilities, embeddings' cosine), "
        f"over the allowed {max_drift:.4f}"
    )


def _refused_earlier(candidate: str, drift: float, max_drift: float) -> str:
    return _drifted(candidate, drift, max_drift) + " (measured on an earlier start)"


def _refusal_file(model_file: Path) -> Path:
    return model_file.with_name(f"{model_file.name}.refused.json")


def _refusal_key(model_file: Path, heads: PolicyHeads | None, probes: Sequence[str]) -> dict[str, object]:
    """What a refusal depends on: the engine's files and runtime, the heads that judged it, the probes."""
    return {
        "format": _REFERENCE_FORMAT,
        "engine_sha256": _onnx_engines.recorded_sha256(model_file),
        "onnxruntime": importlib.metadata.version("onnxruntime"),
        "heads_sha256": heads.digest if heads is not None else "no heads",
        "probes_sha256": probes_digest(probes),
    }


def _remember_refusal(
    model_file: Path, heads: PolicyHeads | None, probes: Sequence[str], drift: float
) -> None:
    """Note an engine refused for drift, so later starts skip it without loading it (it costs memory).

    Heads read from no file (``digest`` ``None``) leave no note: nothing could tell them apart.
    """
    if heads is not None and heads.digest is None:
        return
    record = {**_refusal_key(model_file, heads, probes), "drift": drift if math.isfinite(drift) else None}
    target = _refusal_file(model_file)
    try:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        logger.info("cannot note the refusal of %s (%s): it is checked again next start", model_file, exc)


def _known_refusal(
    model_file: Path, heads: PolicyHeads | None, probes: Sequence[str], max_drift: float
) -> float | None:
    """The drift an earlier start measured for this engine file, if that refuses it now; else ``None``.

    Only a refusal is ever taken from the note: an engine that is used is checked at every start.
    """
    if heads is not None and heads.digest is None:
        return None
    try:
        record = json.loads(_refusal_file(model_file).read_text(encoding="utf-8"))
        drift = math.inf if record["drift"] is None else float(record["drift"])
        same = all(record[name] == value for name, value in _refusal_key(model_file, heads, probes).items())
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no note, or an unreadable one: the engine is checked, and the note written again
    return drift if same and drift > max_drift else None


def _reference_file(cache_dir: Path, sha256: str, probes: Sequence[str]) -> Path:
    return cache_dir / f"encoder-reference-{sha256[:16]}-{probes_digest(probes)[:12]}.json"


def _save_reference(
    cache_dir: Path, sha256: str, probes: Sequence[str], input_names: Sequence[str], embeddings: np.ndarray
) -> bool:
    record = {
        "format": _REFERENCE_FORMAT,
        "weights_sha256": sha256,
        "probes_sha256": probes_digest(probes),
        "input_names": list(input_names),
        "embeddings": np.asarray(embeddings, dtype=np.float64).tolist(),
    }
    target = _reference_file(cache_dir, sha256, probes)
    try:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(record) + "\n", encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        logger.info(
            "cannot store the encoder's reference embeddings in %s (%s): no warm start", cache_dir, exc
        )
        return False
    return True


def _load_reference(cache_dir: Path, sha256: str, probes: Sequence[str]) -> _Reference | None:
    path = _reference_file(cache_dir, sha256, probes)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        embeddings = np.asarray(record["embeddings"], dtype=np.float32)
        reference = _Reference(tuple(str(name) for name in record["input_names"]), embeddings)
        sound = (
            record["format"] == _REFERENCE_FORMAT
            and record["weights_sha256"] == sha256
            and record["probes_sha256"] == probes_digest(probes)
            and embeddings.ndim == 2
            and embeddings.shape[0] == len(probes)
            and bool(np.all(np.isfinite(embeddings)))
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning(
            "the encoder's reference embeddings %s are unreadable (%s): rebuilding", path, type(exc).__name__
        )
        return None
    return reference if sound else None
