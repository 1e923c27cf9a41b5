"""Loading Detoxify's model: its libraries, the device it runs on, and its checkpoint from a bundle."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from moderation.errors import ScorerError
from moderation.serving.detoxify_bundle import BUNDLE_FIX, CHECKPOINT_FILE, HF_DIR

__all__ = ["check_device", "import_libraries", "load_from_bundle", "resolve_device", "return_freed_memory"]

logger = logging.getLogger(__name__)

# A GPU driver leaves these behind; without any of them, "auto" is the CPU and torch need not load.
_GPU_DRIVER_MARKS = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidiactl"), Path("/dev/kfd"))


def import_libraries() -> tuple[ModuleType, ModuleType]:
    """Import detoxify and torch, and quiet transformers' progress bars.

    Raises:
        ScorerError: either cannot be imported; the message says how to reinstall them.

    """
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


def check_device(torch: ModuleType, device: str) -> None:
    """Check that torch can use ``device`` (``auto`` already resolved).

    Raises:
        ScorerError: the device is unknown, or CUDA was asked for and torch sees no CUDA GPU.

    """
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


def load_from_bundle(
    detoxify: ModuleType, torch: ModuleType, bundle: Path, device: str, cache_dir: Path | None = None
) -> Any:
    """Load a ``detoxify.Detoxify`` from a bundle's checkpoint and ``hf/`` files, with no network.

    Raises:
        ScorerError: the bundle lacks its files, or the checkpoint cannot be read.

    """
    checkpoint, hf_dir = bundle / CHECKPOINT_FILE, (bundle / HF_DIR).resolve()
    if not checkpoint.is_file() or not hf_dir.is_dir():
        raise ScorerError(f"the Detoxify bundle {bundle} needs {CHECKPOINT_FILE} and {HF_DIR}/: {BUNDLE_FIX}")
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
                f"corrupt or not a Detoxify checkpoint: {BUNDLE_FIX}"
            ) from exc
        gc.collect()
        return detoxify.Detoxify(checkpoint=str(patched), device=device, huggingface_config_path=str(hf_dir))


def return_freed_memory() -> None:
    """Give the memory of freed weights back to the system."""
    # glibc keeps freed weights in its heap (RSS stays up by the model's size) until trimmed.
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


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
