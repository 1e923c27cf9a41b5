"""The Detoxify text scorer, loaded offline from a bundle, and the start-up loader that falls back.

A bundle for a variant is a directory ``<bundle_dir>/<variant>/`` holding ``checkpoint.ckpt`` (a
Detoxify checkpoint), ``hf/`` (the Hugging Face config and tokenizer files it needs) and
``bundle.json`` (variant, labels, source URL and the checkpoint's sha256). ``bot/model_bundle.py``
writes bundles; this module only reads them and never downloads anything. The forward pass is an
engine from :mod:`moderation.serving.engines`, whose exported files are cached in ``.engines/``
inside the bundle unless another folder is given.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import hashlib
import importlib
import json
import logging
import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from moderation.errors import ScorerError
from moderation.scorers.base import TextScorer
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving import _warm_start
from moderation.serving._onnx_engines import model_input_names
from moderation.serving._probe_texts import DEFAULT_PROBE_TEXTS
from moderation.serving._serial_tokenizer import SerialTokenizer, unwrap
from moderation.serving.engines import (
    DEFAULT_MAX_DRIFT,
    Engine,
    ModelSource,
    build_engine,
    prepare_engine,
    reference_scores,
)

__all__ = [
    "CHECKPOINT_FILE",
    "DEFAULT_VARIANT",
    "ENGINE_CACHE_DIR",
    "HF_DIR",
    "MANIFEST_FILE",
    "DetoxifyScorer",
    "LoadedScorer",
    "file_sha256",
    "load_text_scorer",
    "resolve_device",
    "verify_bundle",
]

# Padded tokens one forward pass may hold (batch size x longest window).
_PADDED_TOKEN_BUDGET = 2048
# Attention holds batch x heads x length^2 scores per layer: a full window goes alone, which costs
# no speed (a 512-token window already keeps the cores busy) and keeps ONNX Runtime's arena small.
_ATTENTION_BUDGET = 512 * 512
# What a forward pass costs beyond its padded tokens, counted in tokens. On a CPU a pass costs a few
# ms plus a fixed time per padded token (measured, bert-base on 2 cores: 13 tokens' worth for
# onnx-int8, 4 for onnx, 28 for torch and torch-int8), so a batch is worth splitting when that
# saves more padding. A GPU pads almost for free: it splits only for the budgets above.
_PASS_COST_TOKENS = {"cpu": 16}
_GPU_PASS_COST_TOKENS = 4096

DEFAULT_VARIANT = "unbiased-small"
CHECKPOINT_FILE = "checkpoint.ckpt"
HF_DIR = "hf"
MANIFEST_FILE = "bundle.json"
ENGINE_CACHE_DIR = ".engines"
"""The default engine cache, inside the bundle: exported ONNX files keyed by the checkpoint's sha256."""

logger = logging.getLogger(__name__)

_MAX_WINDOW_TOKENS = 512
# A GPU driver leaves these behind; without any of them, "auto" is the CPU and torch need not load.
_GPU_DRIVER_MARKS = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidiactl"), Path("/dev/kfd"))
_FIX = (
    "run `classmod model fetch` where internet exists, "
    "or copy a bundle made by `classmod model export-offline`"
)


class DetoxifyScorer:
    """Scores texts with a Detoxify model, loaded once through ``detoxify.Detoxify``.

    Texts longer than the model's window are split into overlapping token windows and each label
    is the maximum over the windows, so abuse at the end of a long message is not truncated away.

    Args:
        variant: the Detoxify variant, e.g. ``unbiased-small``; names the scorer. With no bundle,
            Detoxify downloads it (needs internet). ``None`` takes the variant from the bundle.
        bundle: an offline bundle directory (``checkpoint.ckpt``, ``hf/``); loads with no network.
        device: ``cpu``, ``cuda`` (only when torch sees a CUDA GPU) or ``auto`` (``cuda`` when
            torch sees one, else ``cpu``; see :func:`resolve_device`).
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
        device = resolve_device(device)
        self._device = device
        probes = list(probe_texts) or list(DEFAULT_PROBE_TEXTS)
        checkpoint_sha256 = _checkpoint_sha256(bundle)
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
                max_window=_MAX_WINDOW_TOKENS,
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
        detoxify, torch = _import_libraries()
        _check_device(torch, device)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            if bundle is None:
                self._detoxify = detoxify.Detoxify(model_type=variant, device=device)
            else:
                self._detoxify = _load_from_bundle(detoxify, torch, bundle, device, cache_dir)
            self._labels = tuple(str(label) for label in self._detoxify.class_names)
            # score_batch may run in two threads at once (the scoring lanes); so may the engines.
            self._detoxify.tokenizer = SerialTokenizer(self._detoxify.tokenizer)
            self._set_tokenizer(self._detoxify.tokenizer)
        except ScorerError:
            raise
        except Exception as exc:
            where = f"from {bundle}" if bundle is not None else "by download"
            raise ScorerError(
                f"Detoxify could not load {self._name} {where} ({type(exc).__name__}: {exc}): {_FIX}"
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
            _return_freed_memory()

    def _set_tokenizer(self, tokenizer: Any) -> None:
        self._tokenizer: Any = tokenizer
        window = min(int(tokenizer.model_max_length), _MAX_WINDOW_TOKENS)
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
        pass_cost = _PASS_COST_TOKENS.get(self._device, _GPU_PASS_COST_TOKENS)
        for positions in _padded_batches(tokens, self._batch_size, pass_cost):
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
        offsets: list[tuple[int, int]] = encoding["offset_mapping"]
        if len(offsets) <= self._body:
            return [(0, len(text), len(offsets))]
        words: list[int | None] = encoding.word_ids()
        spans: list[tuple[int, int, int]] = []
        start = 0
        while True:
            end = min(start + self._body, len(offsets))
            spans.append((offsets[start][0], offsets[end - 1][1], end - start))
            if end == len(offsets):
                return spans
            next_start = end - self._overlap
            # Start each window on a word's first token, so a word is never re-read from its middle.
            while next_start > start + 1 and _continues_word(words, next_start):
                next_start -= 1
            start = next_start

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
                f"holding `{variant}/` and {_FIX}"
            )
        bundle = bundle_dir / variant
        if not (bundle / CHECKPOINT_FILE).is_file():
            raise ScorerError(f"no Detoxify weights at {bundle}: {_FIX}")
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


def verify_bundle(bundle: Path, variant: str | None = None) -> None:
    """Check that a bundle has its files and that the checkpoint matches ``bundle.json``.

    Args:
        bundle: the bundle directory.
        variant: the variant it must hold, or ``None`` to accept any.

    Raises:
        ScorerError: a file is missing, the manifest is unreadable or disagrees with the bundle.

    """
    checkpoint, manifest_path = bundle / CHECKPOINT_FILE, bundle / MANIFEST_FILE
    for required in (checkpoint, bundle / HF_DIR, manifest_path):
        if not required.exists():
            raise ScorerError(f"the Detoxify bundle {bundle} has no {required.name}: {_FIX}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected_sha, found_variant = str(manifest["sha256"]), str(manifest["variant"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScorerError(f"the bundle manifest {manifest_path} is unreadable ({exc}): {_FIX}") from exc
    if variant is not None and found_variant != variant:
        raise ScorerError(f"the bundle {bundle} holds variant {found_variant!r}, not {variant!r}: {_FIX}")
    if file_sha256(checkpoint) != expected_sha:
        raise ScorerError(
            f"the Detoxify checkpoint {checkpoint} does not match the sha256 in {manifest_path}, so it is "
            f"corrupt or incomplete: {_FIX}"
        )


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _checkpoint_sha256(bundle: Path | None) -> str | None:
    # The manifest's hash when it has one (no re-hashing on every start), else the file's own.
    if bundle is None:
        return None
    try:
        return str(json.loads((bundle / MANIFEST_FILE).read_text(encoding="utf-8"))["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return file_sha256(bundle / CHECKPOINT_FILE)
    except OSError:  # no checkpoint: the loader says so
        return None


def _return_freed_memory() -> None:
    # glibc keeps freed weights in its heap (RSS stays up by the model's size) until trimmed.
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _padded_batches(tokens: Sequence[int], batch_size: int, pass_cost: int) -> list[list[int]]:
    """Group segments, by their token counts, into the forward passes that cost the least in all.

    A pass costs about ``pass_cost`` plus its padded tokens (its size times its longest member), so
    31 short messages and one 2 kB window together cost as much as 32 windows. Sorted by length, the
    cheapest cut into runs of at most ``batch_size`` is found exactly (dynamic programming, at most
    ``len(tokens) * batch_size`` steps). A pass also stays within the padded-token budget, and its
    attention memory (size times longest squared) within a full window's: a full window goes alone.
    """
    order = sorted(range(len(tokens)), key=tokens.__getitem__)
    best = [0.0] + [math.inf] * len(order)  # best[end]: the cheapest cut of order[:end]
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        longest = tokens[order[end - 1]]
        for start in range(end - 1, max(end - batch_size, 0) - 1, -1):
            size = end - start
            if size > 1 and (
                size * longest > _PADDED_TOKEN_BUDGET or size * longest * longest > _ATTENTION_BUDGET
            ):
                break
            cost = best[start] + pass_cost + size * longest
            if cost < best[end]:
                best[end], cut[end] = cost, start
    batches: list[list[int]] = []
    end = len(order)
    while end:
        batches.append(order[cut[end] : end])
        end = cut[end]
    return batches[::-1]


def _continues_word(words: list[int | None], position: int) -> bool:
    return words[position] is not None and words[position] == words[position - 1]


def _import_libraries() -> tuple[ModuleType, ModuleType]:
    try:
        detoxify, torch = importlib.import_module("detoxify"), importlib.import_module("torch")
        # A progress bar per model load is noise in a bot's log and in `classmod check` output.
        importlib.import_module("transformers").utils.logging.disable_progress_bar()
    except Exception as exc:
        raise ScorerError(
            f"detoxify or torch cannot be imported ({type(exc).__name__}: {exc}): reinstall classmod's "
            "dependencies (pip install -e .) in this environment"
        ) from exc
    return detoxify, torch


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when torch sees a CUDA (or ROCm) GPU, else ``cpu``; others pass through.

    On a machine with no GPU driver it answers ``cpu`` without importing torch, so the ONNX engines'
    warm start stays torch-free.
    """
    if device != "auto":
        return device
    if not any(mark.exists() for mark in _GPU_DRIVER_MARKS):
        return "cpu"
    try:
        torch: Any = importlib.import_module("torch")
        found = bool(torch.cuda.is_available())
    except Exception as exc:  # a broken torch is reported by the loader itself, on the CPU path
        logger.info(
            "device auto: torch could not be asked about a GPU (%s): using the CPU", type(exc).__name__
        )
        return "cpu"
    logger.info("device auto: %s", "torch sees a GPU: using cuda" if found else "no GPU torch can use: cpu")
    return "cuda" if found else "cpu"


def _check_device(torch: ModuleType, device: str) -> None:
    if device == "cpu":
        return
    if device == "cuda" or device.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ScorerError(
                f"the device is set to {device!r} but torch {torch.__version__} sees no CUDA GPU: "
                "set the device to 'cpu', or install a CUDA build of torch on a machine with a GPU"
            )
        return
    raise ScorerError(f"unknown device {device!r}: set the device to 'auto', 'cpu' or 'cuda'")


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


def _load_from_bundle(
    detoxify: ModuleType, torch: ModuleType, bundle: Path, device: str, cache_dir: Path | None = None
) -> Any:
    checkpoint, hf_dir = bundle / CHECKPOINT_FILE, (bundle / HF_DIR).resolve()
    if not checkpoint.is_file() or not hf_dir.is_dir():
        raise ScorerError(f"the Detoxify bundle {bundle} needs {CHECKPOINT_FILE} and {HF_DIR}/: {_FIX}")
    with _scratch_dir(cache_dir) as scratch:
        patched = scratch / CHECKPOINT_FILE
        try:
            # Memory-mapped: the weights are only copied from the file to the patched file, never held.
            loaded = _torch_load(torch, checkpoint)
            # Detoxify always asks transformers for model_type; point it at the bundle's own files.
            loaded["config"]["arch"]["args"]["model_type"] = str(hf_dir)
            torch.save(loaded, patched)
            del loaded
        except Exception as exc:
            raise ScorerError(
                f"the Detoxify checkpoint {checkpoint} cannot be read ({type(exc).__name__}), so it is "
                f"corrupt or not a Detoxify checkpoint: {_FIX}"
            ) from exc
        gc.collect()
        return detoxify.Detoxify(checkpoint=str(patched), device=device, huggingface_config_path=str(hf_dir))


def _torch_load(torch: ModuleType, checkpoint: Path) -> Any:
    try:
        return torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)
    except RuntimeError:  # an old (non-zip) checkpoint format cannot be memory-mapped
        return torch.load(checkpoint, map_location="cpu", weights_only=False)


@contextlib.contextmanager
def _scratch_dir(cache_dir: Path | None) -> Iterator[Path]:
    # The patched checkpoint lives only while Detoxify loads it: in the engine cache when that exists
    # and can be written (the bundle's disk, usually), else in the system's temporary folder.
    base: Path | None = None
    if cache_dir is not None and cache_dir.is_dir():
        try:
            with tempfile.TemporaryFile(dir=cache_dir):
                base = cache_dir
        except OSError:
            base = None
    with tempfile.TemporaryDirectory(prefix=".loading-" if base else "classmod-load-", dir=base) as scratch:
        yield Path(scratch)
