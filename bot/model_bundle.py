"""Offline Detoxify bundles: fetch one where internet exists, export it for an air-gapped site.

A bundle for a variant is the directory ``<bundle_dir>/<variant>/`` with ``checkpoint.ckpt``,
``hf/`` (the Hugging Face config with ``num_labels`` and the tokenizer with ``model_max_length``)
and ``bundle.json`` (variant, labels, source URL, sha256 of the checkpoint). The bot loads it with
:func:`moderation.serving.loading.load_text_scorer`, with no network at all.

The checkpoint is downloaded by :class:`bot.downloads.Downloader` into
``<bundle_dir>/.downloads/<variant>/``, where an interrupted download waits to be resumed, and is
checked against the start of its sha256 that torch.hub puts in its file name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import detoxify.detoxify
import torch
import transformers

from bot.downloads import DOWNLOADS_DIR, Downloader, RemoteFile, remove_if_empty
from moderation.errors import ScorerError
from moderation.serving.detoxify_bundle import (
    CHECKPOINT_FILE,
    HF_DIR,
    MANIFEST_FILE,
    file_sha256,
    verify_bundle,
)
from moderation.serving.detoxify_scorer import DetoxifyScorer

__all__ = ["DEFAULT_MAX_LENGTH", "export_offline", "fetch_bundle", "write_manifest"]

DEFAULT_MAX_LENGTH = 512
"""The window given to tokenizers that do not set ``model_max_length``."""

# torch.hub's convention: a checkpoint's file name carries the start of its sha256.
_NAME_HASH = re.compile(r"-([a-f0-9]{8,})\.")


def fetch_bundle(variant: str, bundle_dir: Path, *, downloader: Downloader | None = None) -> Path:
    """Download the checkpoint and Hugging Face files of a variant into ``bundle_dir/variant``.

    The bundle is built beside the target, verified by loading it through Detoxify, and only then
    moved into place (replacing an older bundle of the same variant). A checkpoint download that
    is cut off is resumed by the next call.

    Args:
        variant: a Detoxify variant, e.g. ``unbiased-small``.
        bundle_dir: the folder that holds bundles, one subfolder per variant.
        downloader: how to download (progress, retries); a quiet one when not given.

    Returns:
        The bundle directory.

    Raises:
        ScorerError: the variant is unknown, a download failed, or the result does not load.

    """
    urls: dict[str, str] = detoxify.detoxify.MODEL_URLS
    if variant not in urls:
        raise ScorerError(f"unknown Detoxify variant {variant!r}: choose one of {', '.join(sorted(urls))}")
    url = urls[variant]
    downloader = downloader or Downloader()
    cache = bundle_dir / DOWNLOADS_DIR / variant
    remote = RemoteFile(
        url, what="the Detoxify checkpoint", sha256=_name_hash(url), pinned_by="the hash in its name"
    )
    downloaded = cache / _file_name(url)
    is_done = False
    staging = _fresh_staging(bundle_dir, variant)
    try:
        downloader.fetch(remote, downloaded)
        checkpoint = staging / CHECKPOINT_FILE
        _link_or_copy(downloaded, checkpoint)
        with _hub_progress_bars(is_shown=downloader.progress is not None):
            _fetch_hf_files(_checkpoint_arch(checkpoint), staging / HF_DIR)
        scorer = DetoxifyScorer(variant, bundle=staging)
        scorer.score_batch(["see you in class tomorrow"])
        write_manifest(staging, variant=variant, labels=scorer.labels, source_url=url)
        bundle = _replace(staging, bundle_dir / variant)
        is_done = True
        return bundle
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if is_done or remote.sha256 is None:
            # Kept only for a later run to check and reuse: once in the bundle, or without a hash, not.
            downloaded.unlink(missing_ok=True)
        remove_if_empty(cache, cache.parent)


def export_offline(bundle_dir: Path, variant: str, dest: Path) -> Path:
    """Copy the verified bundle of a variant to ``dest/variant`` for an air-gapped site.

    Args:
        bundle_dir: the folder holding the fetched bundle.
        variant: which bundle to copy.
        dest: the folder to copy it into (e.g. removable media); it becomes a ``bundle_dir``.

    Returns:
        The copied bundle directory.

    Raises:
        ScorerError: the source bundle is missing or corrupt, or the copy does not match it.

    """
    source = bundle_dir / variant
    if not (source / CHECKPOINT_FILE).is_file():
        raise ScorerError(
            f"no Detoxify bundle for {variant} at {source}: run `classmod model fetch` for it first "
            "(where internet exists), then export it"
        )
    verify_bundle(source, variant)
    target = dest / variant
    if target.resolve() == source.resolve():
        raise ScorerError(f"the export destination {dest} is the bundle folder itself: choose another folder")
    staging = _fresh_staging(dest, variant)
    try:
        shutil.copytree(
            source, staging, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".engines")
        )  # caches rebuild
        try:
            verify_bundle(staging, variant)
        except ScorerError as exc:
            raise ScorerError(
                f"the copy of {source} in {dest} is damaged ({exc}): check the disk and retry"
            ) from exc
        return _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_manifest(bundle: Path, *, variant: str, labels: Sequence[str], source_url: str) -> None:
    """Write ``bundle.json`` for a bundle, recording the sha256 of its checkpoint as it is now."""
    manifest = {
        "variant": variant,
        "labels": list(labels),
        "source_url": source_url,
        "sha256": file_sha256(bundle / CHECKPOINT_FILE),
    }
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _file_name(url: str) -> str:
    name = Path(unquote(urlsplit(url).path)).name
    return name if name not in ("", ".", "..") else CHECKPOINT_FILE


def _name_hash(url: str) -> str | None:
    match = _NAME_HASH.search(_file_name(url))
    return match.group(1) if match else None


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link costs no space; the download cache keeps its copy until the bundle is in place.
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@contextmanager
def _hub_progress_bars(*, is_shown: bool) -> Iterator[None]:
    """Quieten huggingface_hub's own progress bars where ours are not shown (logs, pipes)."""
    from huggingface_hub.utils.tqdm import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    if is_shown or are_progress_bars_disabled():
        yield
        return
    disable_progress_bars()
    try:
        yield
    finally:
        enable_progress_bars()


def _checkpoint_arch(checkpoint: Path) -> dict[str, Any]:
    try:
        loaded = torch.load(checkpoint, map_location="cpu", weights_only=False)
        arch: dict[str, Any] = dict(loaded["config"]["arch"]["args"])
    except Exception as exc:
        raise ScorerError(
            f"the downloaded file {checkpoint.name} is not a Detoxify checkpoint ({type(exc).__name__}): "
            "check the URL and run `classmod model fetch` again"
        ) from exc
    return arch


def _fetch_hf_files(arch: dict[str, Any], hf_dir: Path) -> None:
    model_type = str(arch["model_type"])
    try:
        model_class = getattr(transformers, arch["model_name"])
        config = model_class.config_class.from_pretrained(model_type, num_labels=int(arch["num_classes"]))
        tokenizer = getattr(transformers, arch["tokenizer_name"]).from_pretrained(model_type)
    except Exception as exc:
        raise ScorerError(
            f"could not fetch the Hugging Face config and tokenizer of {model_type} ({type(exc).__name__}: "
            f"{exc}): check that this machine can reach huggingface.co, then run `classmod model fetch` again"
        ) from exc
    config.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)
    # Without model_max_length Detoxify does not truncate, and long texts crash the model.
    max_length = int(tokenizer.model_max_length)
    config_path = hf_dir / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text(encoding="utf-8"))
    tokenizer_config["model_max_length"] = (
        max_length if 0 < max_length <= DEFAULT_MAX_LENGTH else DEFAULT_MAX_LENGTH
    )
    config_path.write_text(json.dumps(tokenizer_config, indent=2) + "\n", encoding="utf-8")


def _fresh_staging(parent: Path, variant: str) -> Path:
    # Built beside the target, so the finished bundle moves into place with one rename.
    staging = parent / f".{variant}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return staging


def _replace(staging: Path, target: Path) -> Path:
    # The old bundle stays until the new one is in place.
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
