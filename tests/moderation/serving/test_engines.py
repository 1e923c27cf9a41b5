from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime
import pytest
import torch

from moderation.errors import ScorerError
from moderation.serving import _onnx_engines, detoxify_bundle, detoxify_model, engines
from moderation.serving.detoxify_bundle import ENGINE_CACHE_DIR, MANIFEST_FILE, file_sha256
from moderation.serving.detoxify_scorer import DetoxifyScorer
from moderation.serving.engines import (
    DEFAULT_PROBE_TEXTS,
    ENGINES,
    Engine,
    ModelSource,
    build_engine,
    measure_drift,
    prepare_engine,
)
from moderation.serving.loading import load_text_scorer
from tests.moderation.serving.test_detoxify_scorer import CALM, RUDE, TEXTS
from tests.tinymodel import TINY_VARIANT, UNBIASED_SMALL_LABELS, build_tiny_detoxify

# How far each engine may stray from fp32 torch on the tiny model, whose random weights put scores
# near 0.5. Measured: onnx 2.4e-7; torch-int8 0.019 and onnx-int8 0.016 over the probe texts; a text
# scored in a batch against alone, torch-int8 0.021 and onnx-int8 0.009 (dynamic quantisation scales
# activations per batch, so an int8 score moves a little with its batch companions).
TOLERANCE = {"torch": 1e-5, "onnx": 1e-5, "torch-int8": 0.05, "onnx-int8": 0.05}
# The int8 engines really are quantised: they differ from fp32 by more than float noise.
QUANTISED_AT_LEAST = 1e-3

Scores = npt.NDArray[np.float32]


class _Shifted:
    """A fake engine: another engine's scores plus a constant."""

    def __init__(self, name: str, inner: Engine, shift: float) -> None:
        self.name = name
        self._inner = inner
        self._shift = shift

    def predict(self, texts: list[str]) -> Scores:
        return self._inner.predict(texts) + np.float32(self._shift)


class _Broken:
    name = "onnx"

    def predict(self, texts: list[str]) -> Scores:
        raise RuntimeError("the session crashed")


@pytest.fixture(scope="module")
def engine_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("engine-cache")


def _source(scorer: DetoxifyScorer, bundle: Path, cache: Path | None, device: str = "cpu") -> ModelSource:
    sha = json.loads((bundle / MANIFEST_FILE).read_text(encoding="utf-8"))["sha256"]
    return ModelSource(
        detoxify=scorer._detoxify, labels=scorer.labels, device=device, checkpoint_sha256=sha, cache_dir=cache
    )


@pytest.fixture(scope="module")
def source(tiny_scorer: DetoxifyScorer, tiny_bundle_dir: Path, engine_cache: Path) -> ModelSource:
    return _source(tiny_scorer, tiny_bundle_dir / TINY_VARIANT, engine_cache)


@pytest.fixture(scope="module")
def built(source: ModelSource) -> dict[str, Engine]:
    return {name: build_engine(name, source) for name in ENGINES}


@pytest.fixture(scope="module")
def scorers(tiny_bundle_dir: Path, engine_cache: Path) -> dict[str, DetoxifyScorer]:
    # max_drift=1.0: these test each engine itself, so none may fall back to torch.
    return {
        name: DetoxifyScorer(
            TINY_VARIANT,
            bundle=tiny_bundle_dir / TINY_VARIANT,
            engine=name,
            engine_cache=engine_cache,
            max_drift=1.0,
        )
        for name in ENGINES
    }


def _fake_builds(monkeypatch: pytest.MonkeyPatch, fakes: dict[str, Callable[[Engine], Engine]]) -> list[str]:
    real = engines.build_engine
    asked: list[str] = []

    def build(name: str, source: ModelSource, *, threads: int | None = None) -> Engine:
        asked.append(name)
        if name in fakes:
            return fakes[name](real("torch", source))
        return real(name, source, threads=threads)

    monkeypatch.setattr(engines, "build_engine", build)
    return asked


def _count_exports(monkeypatch: pytest.MonkeyPatch, *, fail: bool = False) -> list[int]:
    real = torch.onnx.export
    calls: list[int] = []

    def export(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if fail:
            raise AssertionError("the export should have come from the cache")
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", export)
    return calls


def _cached(cache: Path, engine: str) -> Path:
    (path,) = (
        each
        for each in cache.glob(f"{engine}-*.onnx")
        if engine == "onnx-int8" or not each.name.startswith("onnx-int8-")
    )
    return path


# --- every engine ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENGINES)
def test_each_engine_scores_probabilities_per_text_and_label(built: dict[str, Engine], name: str) -> None:
    engine = built[name]
    scores = engine.predict(list(TEXTS))

    assert engine.name == name
    assert scores.shape == (len(TEXTS), len(UNBIASED_SMALL_LABELS))
    assert scores.dtype == np.float32
    assert np.all((scores >= 0.0) & (scores <= 1.0))
    assert engine.predict([]).shape == (0, len(UNBIASED_SMALL_LABELS))


@pytest.mark.parametrize("name", ENGINES)
def test_each_engine_agrees_with_fp32_torch(built: dict[str, Engine], name: str) -> None:
    drift = measure_drift(built[name], built["torch"], DEFAULT_PROBE_TEXTS)

    assert drift <= TOLERANCE[name]
    if name.endswith("-int8"):
        assert drift >= QUANTISED_AT_LEAST


@pytest.mark.parametrize("name", ENGINES)
def test_a_batch_scores_each_text_as_if_alone_in_every_engine(
    scorers: dict[str, DetoxifyScorer], name: str
) -> None:
    scorer = scorers[name]
    texts = [*TEXTS, *DEFAULT_PROBE_TEXTS]

    batch = scorer.score_batch(texts)

    assert scorer.engine == name
    for text, scores in zip(texts, batch, strict=True):
        alone = scorer.score_batch([text])[0]
        assert tuple(scores) == scorer.labels
        assert max(abs(scores[label] - alone[label]) for label in scores) <= TOLERANCE[name]


@pytest.mark.parametrize("name", ENGINES)
def test_a_long_text_scores_the_maximum_over_its_windows_in_every_engine(
    scorers: dict[str, DetoxifyScorer], name: str
) -> None:
    scorer = scorers[name]
    text = CALM * 12 + RUDE * 12
    windows = [text[start:end] for start, end, _ in scorer._window_spans(text)]

    score = scorer.score_batch([text])[0]
    window_scores = [scorer.score_batch([window])[0] for window in windows]

    assert len(windows) > 3
    for label in score:
        assert score[label] == pytest.approx(max(each[label] for each in window_scores), abs=TOLERANCE[name])
    # Truncation would keep only the calm first window; the rude end raises some label clearly.
    assert max(score[label] - window_scores[0][label] for label in score) > 0.05


def test_onnx_threads_set_the_session_thread_count(source: ModelSource) -> None:
    before = torch.get_num_threads()
    try:
        engine = build_engine("onnx", source, threads=1)
        assert engine._session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --- the export cache -----------------------------------------------------------------------------


def test_the_export_is_cached_in_the_bundle_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = build_tiny_detoxify(tmp_path)
    exports = _count_exports(monkeypatch)

    first = DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx")
    cached = _cached(bundle / ENGINE_CACHE_DIR, "onnx")
    written = cached.stat().st_mtime_ns

    assert (first.engine, exports) == ("onnx", [1])
    assert first.name == "detoxify:tiny (onnx)"

    _count_exports(monkeypatch, fail=True)
    second = DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx")
    quantised = DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx-int8", max_drift=1.0)

    assert (second.engine, second.engine_note) == ("onnx", None)
    assert quantised.engine == "onnx-int8"  # quantised from the cached export, not a new one
    assert cached.stat().st_mtime_ns == written
    assert second.score_batch(list(TEXTS)) == first.score_batch(list(TEXTS))


def test_the_export_computes_attention_eagerly_and_leaves_the_model_as_it_was(
    tiny_scorer: DetoxifyScorer, tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    # SDPA exports with a NaN guard over every attention matrix (slow on long windows); eager does not.
    model = tiny_scorer._detoxify.model  # type: ignore[union-attr]
    assert model.config._attn_implementation == "sdpa"
    source = _source(tiny_scorer, tiny_bundle_dir / TINY_VARIANT, tmp_path)

    engine = build_engine("onnx", source)
    graph = onnx.load(str(_cached(tmp_path, "onnx"))).graph

    assert "IsNaN" not in {node.op_type for node in graph.node}
    assert "Softmax" in {node.op_type for node in graph.node}
    assert model.config._attn_implementation == "sdpa"
    fp32 = build_engine("torch", source).predict(list(TEXTS))
    assert np.allclose(engine.predict(list(TEXTS)), fp32, atol=1e-5)


@pytest.mark.parametrize("damage", [pytest.param("garbage", marks=pytest.mark.slow), "truncated"])
def test_a_damaged_cached_export_is_rebuilt(
    tiny_scorer: DetoxifyScorer,
    tiny_bundle_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    damage: str,
) -> None:
    source = _source(tiny_scorer, tiny_bundle_dir / TINY_VARIANT, tmp_path)
    exports = _count_exports(monkeypatch)
    expected = build_engine("onnx", source).predict(list(TEXTS))
    cached = _cached(tmp_path, "onnx")
    data = cached.read_bytes()
    cached.write_bytes(b"not a model" if damage == "garbage" else data[: len(data) // 2])

    with caplog.at_level(logging.WARNING):
        rebuilt = build_engine("onnx", source)

    assert exports == [1, 1]
    assert "is damaged: rebuilding it" in caplog.text
    assert file_sha256(cached) == json.loads(cached.with_name(cached.name + ".json").read_text())["sha256"]
    np.testing.assert_allclose(rebuilt.predict(list(TEXTS)), expected, atol=1e-6)


def test_a_damaged_quantised_file_is_requantised_without_exporting_again(
    source: ModelSource, built: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert source.cache_dir is not None
    cached = _cached(source.cache_dir, "onnx-int8")
    cached.write_bytes(b"\0" * 100)
    _count_exports(monkeypatch, fail=True)

    rebuilt = build_engine("onnx-int8", source)

    np.testing.assert_allclose(
        rebuilt.predict(list(TEXTS)), built["onnx-int8"].predict(list(TEXTS)), atol=1e-6
    )


def test_a_new_quantiser_version_rebuilds_and_drops_the_old_file(
    source: ModelSource, built: dict[str, Engine], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert source.cache_dir is not None
    old = _cached(source.cache_dir, "onnx-int8")
    monkeypatch.setattr(onnxruntime, "__version__", "99.0-test")

    build_engine("onnx-int8", source)

    new = _cached(source.cache_dir, "onnx-int8")
    assert new != old and not old.exists()
    assert json.loads(new.with_name(new.name + ".json").read_text())["key"]["onnxruntime"] == "99.0-test"
    assert _onnx_engines.cache_key("onnx", "x", ["input_ids"]).get("onnxruntime") is None


# --- the equivalence check ------------------------------------------------------------------------


def test_torch_needs_no_check(source: ModelSource) -> None:
    prepared = prepare_engine("torch", source)

    assert (prepared.engine.name, prepared.drift, prepared.reason, prepared.fell_back) == (
        "torch",
        0.0,
        None,
        False,
    )


def test_an_engine_within_the_limit_is_used_with_its_drift(source: ModelSource) -> None:
    prepared = prepare_engine("onnx", source, max_drift=0.001)

    assert (prepared.engine.name, prepared.reason, prepared.fell_back) == ("onnx", None, False)
    assert prepared.drift <= TOLERANCE["onnx"]


def test_quantisation_beyond_the_limit_falls_back_to_torch_with_the_reason(
    source: ModelSource, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="moderation.serving.engines"):
        prepared = prepare_engine(
            "torch-int8", source, ["hello everyone", "SECRET probe you idiot"], max_drift=0.0
        )

    assert (prepared.engine.name, prepared.drift, prepared.fell_back) == ("torch", 0.0, True)
    assert prepared.reason is not None
    assert "torch-int8 drifted 0.0" in prepared.reason and "over the allowed 0.0000" in prepared.reason
    assert [record.levelno for record in caplog.records] == [logging.WARNING, logging.WARNING]
    assert "SECRET" not in caplog.text


def test_a_fake_engine_that_adds_a_tenth_is_refused(
    source: ModelSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_builds(monkeypatch, {"onnx": lambda torch_engine: _Shifted("onnx", torch_engine, 0.1)})

    prepared = prepare_engine("onnx", source, max_drift=0.02)

    assert prepared.fell_back and prepared.engine.name == "torch"
    assert prepared.reason == (
        "using fp32 torch: onnx drifted 0.1000 from fp32 torch, over the allowed 0.0200"
    )


def test_an_engine_that_fails_to_run_is_refused(source: ModelSource, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_builds(monkeypatch, {"onnx": lambda torch_engine: _Broken()})

    prepared = prepare_engine("onnx", source)

    assert prepared.fell_back and prepared.engine.name == "torch"
    assert (
        prepared.reason == "using fp32 torch: onnx failed to build or run (RuntimeError: the session crashed)"
    )


def test_auto_takes_the_fastest_engine_that_passes(source: ModelSource, built: dict[str, Engine]) -> None:
    prepared = prepare_engine("auto", source, max_drift=TOLERANCE["onnx-int8"])

    assert (prepared.engine.name, prepared.reason, prepared.fell_back) == ("onnx-int8", None, False)
    assert prepared.drift == pytest.approx(
        measure_drift(built["onnx-int8"], built["torch"], DEFAULT_PROBE_TEXTS)
    )


def test_auto_skips_engines_that_drift_and_says_so(
    source: ModelSource, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _fake_builds(
        monkeypatch, {"onnx-int8": lambda torch_engine: _Shifted("onnx-int8", torch_engine, 0.1)}
    )

    prepared = prepare_engine("auto", source)

    assert asked == ["torch", "onnx-int8", "onnx"]
    assert (prepared.engine.name, prepared.fell_back) == ("onnx", False)
    assert prepared.reason == "auto skipped onnx-int8 drifted 0.1000 from fp32 torch, over the allowed 0.0200"


def test_auto_falls_back_to_torch_when_nothing_passes(source: ModelSource) -> None:
    prepared = prepare_engine("auto", source, max_drift=0.0)

    assert (prepared.engine.name, prepared.fell_back) == ("torch", True)
    assert prepared.reason is not None
    assert [part.split()[0] for part in prepared.reason.removeprefix("using fp32 torch: ").split("; ")] == [
        "onnx-int8",
        "onnx",
        "torch-int8",
    ]


def test_unknown_engines_and_negative_limits_are_refused(source: ModelSource) -> None:
    with pytest.raises(
        ScorerError, match="unknown scoring engine 'tensorrt': choose one of torch, torch-int8"
    ):
        prepare_engine("tensorrt", source)
    with pytest.raises(ScorerError, match="max drift must be 0 or more"):
        prepare_engine("onnx", source, max_drift=-0.1)


# --- the scorer -----------------------------------------------------------------------------------


def test_the_scorer_shows_its_engine_and_drift(
    scorers: dict[str, DetoxifyScorer], tiny_scorer: DetoxifyScorer
) -> None:
    assert (tiny_scorer.name, tiny_scorer.engine, tiny_scorer.engine_drift) == (
        "detoxify:tiny",
        "torch",
        None,
    )
    quantised = scorers["onnx-int8"]
    assert quantised.name == "detoxify:tiny (onnx-int8)"
    assert quantised.engine_drift is not None and 0.0 < quantised.engine_drift <= TOLERANCE["onnx-int8"]
    assert quantised.engine_note is None
    assert quantised._detoxify is None  # the fp32 model is released once another engine is chosen


def test_a_refused_engine_leaves_the_scorer_on_torch_with_a_note(
    tiny_bundle_dir: Path, engine_cache: Path
) -> None:
    scorer = DetoxifyScorer(
        TINY_VARIANT,
        bundle=tiny_bundle_dir / TINY_VARIANT,
        engine="torch-int8",
        engine_cache=engine_cache,
        max_drift=0.0,
    )

    assert (scorer.name, scorer.engine, scorer.engine_drift) == ("detoxify:tiny", "torch", None)
    assert scorer.engine_note is not None and "torch-int8 drifted" in scorer.engine_note


def test_load_text_scorer_passes_the_engine_through(tiny_bundle_dir: Path, engine_cache: Path) -> None:
    loaded = load_text_scorer(
        variant=TINY_VARIANT,
        bundle_dir=tiny_bundle_dir,
        device="cpu",
        threads=None,
        require_detoxify=True,
        engine="onnx",
        engine_cache=engine_cache,
        probe_texts=["hello", "you idiot"],
    )

    assert isinstance(loaded.scorer, DetoxifyScorer)
    assert (loaded.scorer.name, loaded.scorer.engine) == ("detoxify:tiny (onnx)", "onnx")


# --- devices --------------------------------------------------------------------------------------

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@no_gpu
@pytest.mark.parametrize("name", [*ENGINES, "auto"])
def test_cuda_without_a_gpu_raises_a_clear_error(tiny_bundle_dir: Path, name: str) -> None:
    with pytest.raises(ScorerError, match=r"'cuda' but torch .* sees no CUDA GPU: set the device to 'cpu'"):
        DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, device="cuda", engine=name)


@pytest.mark.skipif(
    "CUDAExecutionProvider" in onnxruntime.get_available_providers(),
    reason="ONNX Runtime has a CUDA provider",
)
def test_onnx_on_cuda_without_a_provider_falls_back_with_the_reason(
    tiny_scorer: DetoxifyScorer, tiny_bundle_dir: Path, engine_cache: Path
) -> None:
    # The model itself stays on the CPU here; only the engine is asked for the GPU.
    source = _source(tiny_scorer, tiny_bundle_dir / TINY_VARIANT, engine_cache, device="cuda")

    with pytest.raises(ScorerError, match="has no CUDA provider for device 'cuda': install onnxruntime-gpu"):
        build_engine("onnx", source)
    prepared = prepare_engine("auto", source)

    assert (prepared.engine.name, prepared.fell_back) == ("torch", True)
    assert (
        prepared.reason is not None
        and "onnx failed to build or run (ScorerError: ONNX Runtime" in prepared.reason
    )


@pytest.mark.parametrize("name", ["torch-int8", "onnx-int8"])
def test_int8_engines_refuse_a_gpu(tiny_scorer: DetoxifyScorer, tiny_bundle_dir: Path, name: str) -> None:
    source = _source(tiny_scorer, tiny_bundle_dir / TINY_VARIANT, None, device="cuda")

    with pytest.raises(ScorerError, match=f"the {name} engine runs on the CPU only"):
        build_engine(name, source)


# --- the warm start -------------------------------------------------------------------------------

_WARM_PROBES = ["hello everyone", "you stupid idiot", "see you in class tomorrow", "shut up"]


def _references(cache: Path) -> list[Path]:
    return sorted(cache.glob("fp32-reference-*.json"))


@pytest.fixture(scope="module")
def warm_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_detoxify(tmp_path_factory.mktemp("warm"))


@pytest.mark.parametrize("name", ["onnx", "onnx-int8"])
def test_a_warm_start_scores_as_the_cold_start_without_loading_the_model(
    warm_bundle: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    cold = DetoxifyScorer(TINY_VARIANT, bundle=warm_bundle, engine=name, max_drift=1.0)
    assert len(_references(warm_bundle / ENGINE_CACHE_DIR)) == 1

    def no_load(*args: object, **kwargs: object) -> object:
        raise AssertionError("a warm start must not load the torch model")

    monkeypatch.setattr(detoxify_model, "load_from_bundle", no_load)
    warm = DetoxifyScorer(TINY_VARIANT, bundle=warm_bundle, engine=name, max_drift=1.0)

    assert (warm.name, warm.engine, warm.engine_note, warm.labels) == (cold.name, name, None, cold.labels)
    assert warm.engine_drift == pytest.approx(cold.engine_drift, abs=1e-6)
    assert (warm._body, warm._overlap) == (cold._body, cold._overlap)
    texts = [*TEXTS, CALM * 12 + RUDE * 12]
    np.testing.assert_allclose(
        [list(each.values()) for each in warm.score_batch(texts)],
        [list(each.values()) for each in cold.score_batch(texts)],
        atol=1e-6,
    )


def test_a_warm_start_does_not_import_torch(warm_bundle: Path) -> None:
    DetoxifyScorer(TINY_VARIANT, bundle=warm_bundle, engine="onnx-int8", max_drift=1.0)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from moderation.serving.detoxify_scorer import DetoxifyScorer\n"
        f"scorer = DetoxifyScorer({TINY_VARIANT!r}, bundle=Path({str(warm_bundle)!r}), engine='auto',"
        " max_drift=1.0)\n"
        "scorer.score_batch(['hello everyone', 'you stupid idiot'])\n"
        "print(scorer.engine, 'torch' in sys.modules, 'detoxify' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[3],
    )

    assert done.stdout.split() == ["onnx-int8", "False", "False"], done.stderr


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param("missing", marks=pytest.mark.slow),
        "corrupt",
        pytest.param("other probes", marks=pytest.mark.slow),
    ],
)
def test_a_missing_or_corrupt_reference_takes_the_cold_path_and_rebuilds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    bundle = build_tiny_detoxify(tmp_path)
    DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx", probe_texts=_WARM_PROBES)
    (reference,) = _references(bundle / ENGINE_CACHE_DIR)
    good = json.loads(reference.read_text())
    if damage == "missing":
        reference.unlink()
    elif damage == "corrupt":
        reference.write_text('{"format": 1, "scores": [[0.5', encoding="utf-8")
    else:
        reference.write_text(json.dumps({**good, "probes_sha256": "0" * 64}), encoding="utf-8")
    loads: list[int] = []
    real = detoxify_model.load_from_bundle

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(detoxify_model, "load_from_bundle", counted)
    _count_exports(monkeypatch, fail=True)  # the ONNX file itself is still cached

    scorer = DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx", probe_texts=_WARM_PROBES)

    assert (loads, scorer.engine, scorer.engine_note) == ([1], "onnx", None)
    rebuilt = json.loads(reference.read_text())
    assert rebuilt["probes_sha256"] == good["probes_sha256"]
    np.testing.assert_allclose(rebuilt["scores"], good["scores"], atol=1e-6)


def test_new_probe_texts_are_checked_against_the_model_not_an_old_reference(warm_bundle: Path) -> None:
    DetoxifyScorer(TINY_VARIANT, bundle=warm_bundle, engine="onnx")
    before = set(_references(warm_bundle / ENGINE_CACHE_DIR))

    scorer = DetoxifyScorer(TINY_VARIANT, bundle=warm_bundle, engine="onnx", probe_texts=["a new probe"])

    assert scorer.engine == "onnx"
    assert len(set(_references(warm_bundle / ENGINE_CACHE_DIR)) - before) == 1


def test_the_drift_check_still_refuses_an_engine_on_a_warm_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = build_tiny_detoxify(tmp_path)
    DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx", probe_texts=_WARM_PROBES)
    (reference,) = _references(bundle / ENGINE_CACHE_DIR)
    good = json.loads(reference.read_text())
    shifted = [[score + 0.1 for score in row] for row in good["scores"]]
    reference.write_text(json.dumps({**good, "scores": shifted}), encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="moderation.serving"):
        scorer = DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx", probe_texts=_WARM_PROBES)

    assert (scorer.name, scorer.engine, scorer.engine_drift) == ("detoxify:tiny", "torch", None)
    assert scorer.engine_note is not None
    assert scorer.engine_note.startswith("using fp32 torch: onnx drifted 0.1")
    assert "over the allowed 0.0200" in scorer.engine_note
    assert "scoring engine refused" in caplog.text
    # The reference is rebuilt from the loaded model, so the next start is warm and right again.
    np.testing.assert_allclose(json.loads(reference.read_text())["scores"], good["scores"], atol=1e-6)
    again = DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="onnx", probe_texts=_WARM_PROBES)
    assert (again.engine, again.engine_note) == ("onnx", None)


def test_auto_with_a_drifting_warm_reference_checks_against_the_model(tmp_path: Path) -> None:
    bundle = build_tiny_detoxify(tmp_path)
    DetoxifyScorer(TINY_VARIANT, bundle=bundle, engine="auto", max_drift=1.0, probe_texts=_WARM_PROBES)
    (reference,) = _references(bundle / ENGINE_CACHE_DIR)
    good = json.loads(reference.read_text())
    reference.write_text(json.dumps({**good, "scores": [[9.0] * len(r) for r in good["scores"]]}))

    scorer = DetoxifyScorer(
        TINY_VARIANT, bundle=bundle, engine="auto", max_drift=1.0, probe_texts=_WARM_PROBES
    )

    assert (scorer.engine, scorer.engine_note) == ("onnx-int8", None)
    np.testing.assert_allclose(json.loads(reference.read_text())["scores"], good["scores"], atol=1e-6)


@pytest.mark.parametrize("name", ["torch-int8", "onnx"])
def test_a_head_with_more_outputs_than_labels_keeps_the_label_columns(tmp_path: Path, name: str) -> None:
    # Detoxify's unbiased checkpoints have 16 outputs and name only the first 7 (the rest are
    # identity heads it ignores); every engine must score the named labels, not refuse the model.
    bundle = build_tiny_detoxify(tmp_path, labels=UNBIASED_SMALL_LABELS)
    checkpoint = bundle / detoxify_bundle.CHECKPOINT_FILE
    loaded = torch.load(checkpoint, map_location="cpu", weights_only=False)
    named = list(UNBIASED_SMALL_LABELS[:3])
    loaded["config"]["dataset"]["args"]["classes"] = named  # 7 outputs, 3 names
    torch.save(loaded, checkpoint)
    manifest_path = bundle / detoxify_bundle.MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["sha256"] = detoxify_bundle.file_sha256(checkpoint)
    manifest["labels"] = named
    manifest_path.write_text(json.dumps(manifest))

    scorer = DetoxifyScorer(None, bundle=bundle, engine=name, max_drift=0.05)

    assert scorer.engine == name, scorer.engine_note
    assert scorer.labels == tuple(named)
    [scores] = scorer.score_batch(["you are an idiot"])
    assert set(scores) == set(named)
