"""ONNX Runtime engines: export a transformer once per checkpoint, quantise it, cache both on disk.

Detoxify's classifier and the sentence encoder both go through here: :func:`build_onnx_session` (cold,
with the model) and :func:`cached_model_file` with :func:`load_onnx_session` (warm, without torch).

A cached file is named by its engine, the checkpoint's sha256 and a hash of everything that shapes
it (the exporter's and quantiser's versions, the model's inputs); a JSON file beside it records
that key and the file's own sha256, so a stale, truncated or damaged file is rebuilt, not loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import inspect
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from moderation.errors import ScorerError
from moderation.serving._onnx_export import SAMPLE_TEXTS, export_onnx, externalise, quantise

__all__ = [
    "build_onnx_engine",
    "build_onnx_session",
    "cache_key",
    "cached_model_file",
    "load_onnx_engine",
    "load_onnx_session",
    "model_input_names",
    "recorded_sha256",
]

logger = logging.getLogger(__name__)

# Bump when the export itself changes (inputs, outputs, options), so old cached files are rebuilt.
# 2: exported with eager attention. 3: the weights in a data file beside the graph (_onnx_export.externalise).
_FORMAT = 3
_MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_VERSIONED = ("torch", "transformers", "onnx", "onnxscript")
# Graph rewrites that make a CPU slower: ONNX Runtime's fused SkipLayerNormalization kernel took
# 12-15% of an int8 bert-base pass on 2 cores, and the Add plus LayerNormalization it replaces run
# 9-11% faster in all (onnx-int8; about 2% for fp32 onnx).
_CPU_SLOWER_FUSIONS = ("SkipLayerNormFusion",)


class _OnnxEngine:
    def __init__(
        self, name: str, session: Any, tokenizer: Any, input_names: Sequence[str], columns: int | None = None
    ) -> None:
        self.name = name
        self._session = session
        self._tokenizer = tokenizer
        self._input_names = tuple(input_names)
        # Detoxify's unbiased checkpoints have 16 outputs for 7 labels: the labels come first.
        self._labels = columns if columns is not None else int(session.get_outputs()[0].shape[-1])

    def predict(self, texts: list[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self._labels), dtype=np.float32)
        encoded = self._tokenizer(texts, return_tensors="np", truncation=True, padding=True)
        feeds = {name: np.asarray(encoded[name], dtype=np.int64) for name in self._input_names}
        logits = np.asarray(self._session.run(None, feeds)[0], dtype=np.float64)[:, : self._labels]
        with np.errstate(over="ignore"):  # exp overflows to inf for huge negative logits: sigmoid 0.0
            return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def build_onnx_engine(
    name: str,
    model: Any,
    tokenizer: Any,
    *,
    device: str,
    checkpoint_sha256: str | None,
    cache_dir: Path | None,
    threads: int | None,
    columns: int | None = None,
) -> _OnnxEngine:
    """Build the ``onnx`` or ``onnx-int8`` engine, from the cache when it holds a sound file.

    Raises:
        ScorerError: ONNX Runtime has no provider for the device.
    """
    session, input_names = build_onnx_session(
        name,
        model,
        tokenizer,
        device=device,
        checkpoint_sha256=checkpoint_sha256,
        cache_dir=cache_dir,
        threads=threads,
    )
    return _OnnxEngine(name, session, tokenizer, input_names, columns)


def build_onnx_session(
    name: str,
    model: Any,
    tokenizer: Any,
    *,
    device: str,
    checkpoint_sha256: str | None,
    cache_dir: Path | None,
    threads: int | None,
    lean: bool = False,
) -> tuple[Any, list[str]]:
    """An ONNX Runtime session over the model exported as ``onnx`` or ``onnx-int8``, and its inputs.

    The export is taken from the cache when it holds a sound file, else built and cached (or built in a
    scratch folder when there is no checkpoint hash or the cache cannot be written).

    Raises:
        ScorerError: ONNX Runtime has no provider for the device.

    ``lean``: see :func:`load_onnx_session`.
    """
    onnxruntime: Any = importlib.import_module("onnxruntime")
    providers = _providers(onnxruntime, device)
    input_names = model_input_names(model, tokenizer)
    with _workspace(cache_dir if checkpoint_sha256 else None) as directory:
        key = cache_key(name, checkpoint_sha256 or "uncached", input_names)
        path = _model_file(name, key, directory, model, tokenizer, input_names)
        return _session(onnxruntime, path, providers, threads, lean), input_names


def model_input_names(model: Any, tokenizer: Any) -> list[str]:
    """The inputs the exported graph takes: those the tokenizer gives and the model's forward accepts."""
    sample = tokenizer(SAMPLE_TEXTS)
    accepted = inspect.signature(model.forward).parameters
    return [each for each in _MODEL_INPUTS if each in sample and each in accepted]


def cached_model_file(
    name: str, checkpoint_sha256: str, input_names: Sequence[str], cache_dir: Path
) -> Path | None:
    """The cached, verified ``onnx`` or ``onnx-int8`` file for a checkpoint, or ``None``; builds nothing.

    Needs neither torch nor the model: the key's library versions come from the installed packages.
    """
    key = cache_key(name, checkpoint_sha256, input_names)
    target = _target(name, key, cache_dir)
    return target if _is_sound(target, key) else None


def recorded_sha256(path: Path) -> str | None:
    """The SHA-256s recorded for a cached engine's files when it was built (see :func:`cached_model_file`)."""
    try:
        record = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        return f"{record['sha256']}:{record['data_sha256']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_onnx_engine(
    name: str,
    path: Path,
    tokenizer: Any,
    input_names: Sequence[str],
    *,
    device: str,
    threads: int | None,
    columns: int | None = None,
) -> _OnnxEngine:
    """An engine over an already built ONNX file (see :func:`cached_model_file`), without torch."""
    return _OnnxEngine(
        name, load_onnx_session(path, device=device, threads=threads), tokenizer, input_names, columns
    )


def load_onnx_session(path: Path, *, device: str, threads: int | None, lean: bool = False) -> Any:
    """An ONNX Runtime session over an already built file (see :func:`cached_model_file`), without torch.

    ``lean`` turns off ONNX Runtime's memory plans (one kept for every input shape seen) and its memory
    arena (which keeps the largest batch's memory for good). For short texts of every length they cost
    memory and save no time: after 300 batches of random shapes the sentence encoder's session held
    117 MB instead of 248 MB, its peak 197 MB instead of 248 MB, at the same speed on 2 cores.
    """
    onnxruntime: Any = importlib.import_module("onnxruntime")
    return _session(onnxruntime, path, _providers(onnxruntime, device), threads, lean)


def _session(
    onnxruntime: Any, path: Path, providers: list[Any], threads: int | None, lean: bool = False
) -> Any:
    options = onnxruntime.SessionOptions()
    options.enable_mem_pattern = not lean
    options.enable_cpu_mem_arena = not lean
    options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime's default, the physical cores
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # its own warnings go to stderr, not the bot's log: errors only
    return onnxruntime.InferenceSession(
        str(path),
        sess_options=options,
        providers=providers,
        disabled_optimizers=list(_CPU_SLOWER_FUSIONS) if providers == ["CPUExecutionProvider"] else None,
    )


def cache_key(name: str, checkpoint_sha256: str, input_names: Sequence[str]) -> dict[str, object]:
    """Everything a cached engine file depends on: same key, same file."""
    key: dict[str, object] = {
        "format": _FORMAT,
        "engine": name,
        "checkpoint_sha256": checkpoint_sha256,
        "inputs": list(input_names),
    }
    for module in (*_VERSIONED, *(("onnxruntime",) if name.endswith("-int8") else ())):
        key[module] = _version(module)
    return key


def _version(module: str) -> str:
    # The module's own version when it is imported (or is ONNX Runtime, which scoring imports anyway);
    # else the installed package's, so a warm start can find its file without importing torch.
    if module in sys.modules or module == "onnxruntime":
        return str(importlib.import_module(module).__version__)
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return str(importlib.import_module(module).__version__)


def _target(name: str, key: dict[str, object], directory: Path) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return directory / f"{name}-{str(key['checkpoint_sha256'])[:16]}-{digest}.onnx"


def _model_file(
    name: str, key: dict[str, object], directory: Path, model: Any, tokenizer: Any, input_names: list[str]
) -> Path:
    checkpoint = str(key["checkpoint_sha256"])[:16]
    target = _target(name, key, directory)
    if _is_sound(target, key):
        return target
    if target.exists():
        logger.warning("the cached %s engine file %s is damaged: rebuilding it", name, target)
    build = Path(tempfile.mkdtemp(prefix=".building-", dir=directory))
    try:
        started = time.perf_counter()
        if name == "onnx":
            export_onnx(model, tokenizer, input_names, build / "model.onnx")
        else:
            fp32_key = cache_key("onnx", str(key["checkpoint_sha256"]), input_names)
            fp32 = _model_file("onnx", fp32_key, directory, model, tokenizer, input_names)
            quantise(fp32, build / "model.onnx", build)
        _publish(externalise(build / "model.onnx", _data_file(target).name), target, key)
        logger.info("built the %s engine in %.1f s: %s", name, time.perf_counter() - started, target)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    for stale in directory.glob(f"{name}-{checkpoint}-*.onnx*"):
        if not stale.name.startswith(target.name):
            stale.unlink(missing_ok=True)
    return target


def _is_sound(path: Path, key: dict[str, object]) -> bool:
    try:
        recorded = json.loads(_sidecar(path).read_text(encoding="utf-8"))
        data = _data_file(path)
        return bool(
            recorded.get("key") == key
            and recorded.get("sha256") == _file_sha256(path)
            and recorded.get("data_sha256") == (_file_sha256(data) if data.exists() else None)
        )
    except (OSError, ValueError, AttributeError):
        return False


def _publish(built: Path, target: Path, key: dict[str, object]) -> None:
    data = built.with_name(_data_file(target).name)
    record = {
        "key": key,
        "sha256": _file_sha256(built),
        "data_sha256": _file_sha256(data) if data.exists() else None,
    }
    if data.exists():
        os.replace(data, _data_file(target))
    else:
        _data_file(target).unlink(missing_ok=True)
    os.replace(built, target)
    temporary = target.with_name(f".{target.name}.json.tmp")
    temporary.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, _sidecar(target))


def _providers(onnxruntime: Any, device: str) -> list[Any]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        raise ScorerError(
            f"ONNX Runtime {onnxruntime.__version__} has no CUDA provider for device {device!r}: install "
            "onnxruntime-gpu instead of onnxruntime, or use the torch engine on the GPU"
        )
    index = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


@contextlib.contextmanager
def _workspace(cache_dir: Path | None) -> Iterator[Path]:
    # The cache folder when it can be written; otherwise a scratch folder, so the engine still builds.
    if cache_dir is not None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=cache_dir):
                pass
        except OSError as exc:
            logger.warning(
                "cannot write the engine cache %s (%s): exporting to a scratch folder on every start; "
                "make it writable or choose another engine cache folder",
                cache_dir,
                type(exc).__name__,
            )
        else:
            yield cache_dir
            return
    with tempfile.TemporaryDirectory(prefix="classmod-engine-") as scratch:
        yield Path(scratch)


def _data_file(path: Path) -> Path:
    return path.with_name(path.name + ".data")


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
