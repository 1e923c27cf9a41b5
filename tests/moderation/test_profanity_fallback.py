from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from moderation.errors import ScorerError
from moderation.scorers.base import TextScorer
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.detoxify_bundle import CHECKPOINT_FILE, MANIFEST_FILE, file_sha256
from moderation.serving.detoxify_scorer import DetoxifyScorer
from moderation.serving.loading import load_text_scorer
from tests.tinymodel import TINY_VARIANT


def _copy_bundle(tiny_bundle_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(tiny_bundle_dir / TINY_VARIANT, tmp_path / TINY_VARIANT)
    return tmp_path


def _load(
    bundle_dir: Path | None, *, variant: str = TINY_VARIANT, device: str = "cpu", required: bool = False
):
    return load_text_scorer(
        variant=variant, bundle_dir=bundle_dir, device=device, threads=None, require_detoxify=required
    )


def test_the_fallback_scores_profanity() -> None:
    scorer = ProfanityFallbackScorer()

    profane, polite = scorer.score_batch(["you are a fucking piece of shit", "see you in class tomorrow"])

    assert isinstance(scorer, TextScorer)
    assert scorer.name == "fallback:alt-profanity-check"
    assert scorer.labels == ("profanity",)
    assert profane["profanity"] > 0.9
    assert polite["profanity"] < 0.2
    assert scorer.score_batch([]) == []
    assert 0.0 <= scorer.score_batch([""])[0]["profanity"] <= 1.0


def test_loading_the_fallback_emits_no_warnings() -> None:
    # A fresh interpreter, because the models are unpickled (and would warn) on first import only.
    code = (
        "from moderation.scorers.profanity_fallback import ProfanityFallbackScorer; "
        "ProfanityFallbackScorer().score_batch(['x'])"
    )
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""


def test_a_sound_bundle_loads_detoxify(tiny_bundle_dir: Path) -> None:
    loaded = _load(tiny_bundle_dir)

    assert not loaded.is_fallback
    assert loaded.reason is None
    assert isinstance(loaded.scorer, DetoxifyScorer)
    assert loaded.scorer.name == "detoxify:tiny"


def test_no_bundle_falls_back_and_says_where_and_how_to_fix(tmp_path: Path) -> None:
    loaded = _load(tmp_path, variant="unbiased-small")

    assert loaded.is_fallback
    assert isinstance(loaded.scorer, ProfanityFallbackScorer)
    assert loaded.reason == (
        f"no Detoxify weights at {tmp_path / 'unbiased-small'}: run `classmod model fetch` where internet "
        "exists, or copy a bundle made by `classmod model export-offline`"
    )


def test_no_bundle_with_detoxify_required_raises_the_same_message(tmp_path: Path) -> None:
    reason = _load(tmp_path, variant="unbiased-small").reason

    with pytest.raises(ScorerError) as raised:
        _load(tmp_path, variant="unbiased-small", required=True)

    assert str(raised.value) == reason


def test_no_bundle_directory_set_falls_back() -> None:
    loaded = _load(None)

    assert loaded.is_fallback
    assert loaded.reason is not None
    assert "no model bundle directory is set" in loaded.reason
    assert "classmod model fetch" in loaded.reason


def test_a_damaged_checkpoint_falls_back_naming_it(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    bundle_dir = _copy_bundle(tiny_bundle_dir, tmp_path)
    checkpoint = bundle_dir / TINY_VARIANT / CHECKPOINT_FILE
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])

    loaded = _load(bundle_dir)

    assert loaded.is_fallback
    assert loaded.reason is not None
    assert str(checkpoint) in loaded.reason
    assert "does not match the sha256" in loaded.reason
    assert "corrupt" in loaded.reason


def test_an_unreadable_checkpoint_with_a_matching_manifest_falls_back(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    bundle = _copy_bundle(tiny_bundle_dir, tmp_path) / TINY_VARIANT
    (bundle / CHECKPOINT_FILE).write_bytes(b"garbage")
    manifest = json.loads((bundle / MANIFEST_FILE).read_text())
    manifest["sha256"] = file_sha256(bundle / CHECKPOINT_FILE)
    (bundle / MANIFEST_FILE).write_text(json.dumps(manifest))

    loaded = _load(tmp_path)

    assert loaded.is_fallback
    assert loaded.reason is not None
    assert f"{bundle / CHECKPOINT_FILE} cannot be read (UnpicklingError)" in loaded.reason


def test_a_bundle_of_another_variant_falls_back(tiny_bundle_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_bundle_dir / TINY_VARIANT, tmp_path / "unbiased-small")

    loaded = _load(tmp_path, variant="unbiased-small")

    assert loaded.is_fallback
    assert loaded.reason is not None
    assert "holds variant 'tiny', not 'unbiased-small'" in loaded.reason


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_falls_back_with_the_reason(tiny_bundle_dir: Path) -> None:
    loaded = _load(tiny_bundle_dir, device="cuda")

    assert loaded.is_fallback
    assert loaded.reason is not None
    assert "sees no CUDA GPU" in loaded.reason
