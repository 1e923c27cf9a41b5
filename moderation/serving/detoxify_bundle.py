"""The offline bundle a Detoxify variant is loaded from: its files and their hashes.

A bundle for a variant is a directory ``<bundle_dir>/<variant>/`` holding ``checkpoint.ckpt`` (a
Detoxify checkpoint), ``hf/`` (the Hugging Face config and tokenizer files it needs) and
``bundle.json`` (variant, labels, source URL and the checkpoint's sha256). ``bot/model_bundle.py``
writes bundles; this package only reads them and never downloads anything. Exported engine files
are cached in ``.engines/`` inside the bundle unless another folder is given.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from moderation.errors import ScorerError

__all__ = [
    "BUNDLE_FIX",
    "CHECKPOINT_FILE",
    "ENGINE_CACHE_DIR",
    "HF_DIR",
    "MANIFEST_FILE",
    "file_sha256",
    "read_checkpoint_sha256",
    "verify_bundle",
]

CHECKPOINT_FILE = "checkpoint.ckpt"
HF_DIR = "hf"
MANIFEST_FILE = "bundle.json"
ENGINE_CACHE_DIR = ".engines"
"""The default engine cache, inside the bundle: exported ONNX files keyed by the checkpoint's sha256."""

BUNDLE_FIX = (
    "run `classmod model fetch` where internet exists, "
    "or copy a bundle made by `classmod model export-offline`"
)
"""What to do about a missing or broken bundle, for the end of an error message."""


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
            raise ScorerError(f"the Detoxify bundle {bundle} has no {required.name}: {BUNDLE_FIX}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected_sha, found_variant = str(manifest["sha256"]), str(manifest["variant"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScorerError(f"the bundle manifest {manifest_path} is unreadable ({exc}): {BUNDLE_FIX}") from exc
    if variant is not None and found_variant != variant:
        raise ScorerError(
            f"the bundle {bundle} holds variant {found_variant!r}, not {variant!r}: {BUNDLE_FIX}"
        )
    if file_sha256(checkpoint) != expected_sha:
        raise ScorerError(
            f"the Detoxify checkpoint {checkpoint} does not match the sha256 in {manifest_path}, so it is "
            f"corrupt or incomplete: {BUNDLE_FIX}"
        )


def file_sha256(path: Path) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def read_checkpoint_sha256(bundle: Path | None) -> str | None:
    """Return the sha256 of a bundle's checkpoint, or ``None`` with no bundle or no checkpoint.

    The manifest's hash when it has one (no re-hashing on every start), else the file's own.
    """
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
