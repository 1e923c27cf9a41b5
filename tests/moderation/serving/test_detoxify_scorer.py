from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import detoxify
import pytest
import torch

from moderation.errors import ScorerError
from moderation.scorers.base import TextScorer
from moderation.serving import detoxify_model
from moderation.serving.detoxify_bundle import CHECKPOINT_FILE, MANIFEST_FILE
from moderation.serving.detoxify_model import resolve_device
from moderation.serving.detoxify_scorer import DetoxifyScorer
from tests.tinymodel import TINY_VARIANT, UNBIASED_SMALL_LABELS, build_tiny_detoxify

CALM = "see you in class tomorrow . "
RUDE = "you stupid idiot , shut up ! "
TEXTS = [
    "hello everyone",
    "you stupid idiot",
    "",
    "   ",
    CALM * 3,
    RUDE * 20,
    "thanks for the lesson today !",
]


def _assert_close(left: dict[str, float], right: dict[str, float]) -> None:
    assert left.keys() == right.keys()
    for label in left:
        assert left[label] == pytest.approx(right[label], abs=1e-5), label


def test_tiny_model_loads_through_detoxify(tiny_scorer: DetoxifyScorer) -> None:
    assert isinstance(tiny_scorer._detoxify, detoxify.Detoxify)
    assert isinstance(tiny_scorer, TextScorer)
    assert tiny_scorer.name == "detoxify:tiny"
    assert tiny_scorer.labels == UNBIASED_SMALL_LABELS


def test_single_text_gives_one_mapping_of_scores_in_range(tiny_scorer: DetoxifyScorer) -> None:
    results = tiny_scorer.score_batch(["hello everyone, see you tomorrow"])

    assert len(results) == 1
    assert tuple(results[0]) == UNBIASED_SMALL_LABELS
    assert all(isinstance(score, float) and 0.0 <= score <= 1.0 for score in results[0].values())


def test_no_texts_give_no_scores(tiny_scorer: DetoxifyScorer) -> None:
    assert tiny_scorer.score_batch([]) == []


def test_a_batch_scores_each_text_as_if_alone(tiny_scorer: DetoxifyScorer) -> None:
    batch = tiny_scorer.score_batch(TEXTS)

    assert len(batch) == len(TEXTS)
    for text, scores in zip(TEXTS, batch, strict=True):
        _assert_close(scores, tiny_scorer.score_batch([text])[0])


def test_batches_larger_than_the_model_batch_are_split_in_order(tiny_bundle_dir: Path) -> None:
    small_batches = DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, batch_size=2)
    one_batch = DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, batch_size=64)

    for left, right in zip(small_batches.score_batch(TEXTS), one_batch.score_batch(TEXTS), strict=True):
        _assert_close(left, right)


def test_texts_at_or_under_the_window_are_not_split(tiny_scorer: DetoxifyScorer) -> None:
    tokenizer = tiny_scorer._detoxify.tokenizer  # type: ignore[union-attr]
    tokens = len(tokenizer(CALM, add_special_tokens=False)["input_ids"])
    assert tiny_scorer._window_spans(CALM) == [(0, len(CALM), tokens)]
    assert tiny_scorer._window_spans("") == [(0, 0, 0)]


def test_a_long_text_scores_the_maximum_over_its_windows(tiny_scorer: DetoxifyScorer) -> None:
    text = CALM * 12 + RUDE * 12
    spans = tiny_scorer._window_spans(text)
    windows = [text[start:end] for start, end, _ in spans]
    tokenizer = tiny_scorer._detoxify.tokenizer

    assert len(windows) > 3
    assert spans[0][0] == 0 and spans[-1][1] == len(text.rstrip())
    assert all(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))
    assert all(len(tokenizer(window)["input_ids"]) <= 32 for window in windows)
    assert [len(tokenizer(window, add_special_tokens=False)["input_ids"]) for window in windows] == [
        count for _, _, count in spans
    ], "each window's token count is known without tokenizing it again"

    score = tiny_scorer.score_batch([text])[0]
    window_scores = [tiny_scorer.score_batch([window])[0] for window in windows]
    _assert_close(score, {label: max(each[label] for each in window_scores) for label in score})
    # Truncation would keep only the calm first window; the rude end raises some label clearly.
    assert max(score[label] - window_scores[0][label] for label in score) > 0.05


def test_empty_and_blank_texts_score(tiny_scorer: DetoxifyScorer) -> None:
    for scores in tiny_scorer.score_batch(["", " \n\t "]):
        assert all(0.0 <= score <= 1.0 for score in scores.values())


def test_original_label_names_arrive_with_detoxify_standard_names(tmp_path: Path) -> None:
    labels = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
    bundle = build_tiny_detoxify(tmp_path, labels, variant="original-tiny")

    scorer = DetoxifyScorer(None, bundle=bundle)

    assert scorer.name == "detoxify:original-tiny"
    assert scorer.labels == ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")
    assert tuple(scorer.score_batch(["hello"])[0]) == scorer.labels


def test_a_bundle_without_manifest_is_named_by_its_checkpoint(tmp_path: Path) -> None:
    bundle = build_tiny_detoxify(tmp_path)
    (bundle / MANIFEST_FILE).unlink()

    assert DetoxifyScorer(None, bundle=bundle).name == f"detoxify:checkpoint tiny/{CHECKPOINT_FILE}"


def test_the_bundle_loads_after_it_is_moved(tmp_path: Path) -> None:
    bundle = build_tiny_detoxify(tmp_path / "first")
    moved = shutil.move(bundle, tmp_path / "second")
    shutil.rmtree(tmp_path / "first")

    assert DetoxifyScorer(TINY_VARIANT, bundle=Path(moved)).score_batch(["hello"])


def test_a_corrupt_checkpoint_raises_a_scorer_error(tmp_path: Path) -> None:
    bundle = build_tiny_detoxify(tmp_path)
    (bundle / CHECKPOINT_FILE).write_bytes(b"not a checkpoint")

    with pytest.raises(ScorerError, match=r"checkpoint\.ckpt cannot be read .*corrupt.*classmod model fetch"):
        DetoxifyScorer(TINY_VARIANT, bundle=bundle)


def test_a_missing_bundle_raises_a_scorer_error(tmp_path: Path) -> None:
    with pytest.raises(ScorerError, match=r"needs checkpoint\.ckpt and hf/"):
        DetoxifyScorer(TINY_VARIANT, bundle=tmp_path / "absent")


def test_a_failure_while_scoring_raises_a_scorer_error(
    tiny_bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT)

    def broken(texts: list[str]) -> None:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(scorer._detoxify, "predict", broken)
    with pytest.raises(ScorerError, match=r"detoxify:tiny failed while scoring 1 text\(s\) \(RuntimeError\)"):
        scorer.score_batch(["hello"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_raises_a_clear_error(tiny_bundle_dir: Path) -> None:
    with pytest.raises(ScorerError, match=r"'cuda' but torch .* sees no CUDA GPU: set the device to 'cpu'"):
        DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, device="cuda")


def test_an_unknown_device_raises(tiny_bundle_dir: Path) -> None:
    with pytest.raises(ScorerError, match="unknown device 'tpu'"):
        DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, device="tpu")


class _FakeTorch:
    def __init__(self, has_gpu: bool) -> None:
        self.cuda = type("cuda", (), {"is_available": staticmethod(lambda: has_gpu)})


def test_auto_device_without_a_gpu_driver_is_the_cpu_and_asks_torch_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(detoxify_model, "_GPU_DRIVER_MARKS", (tmp_path / "no-driver",))
    asked: list[str] = []
    monkeypatch.setattr(detoxify_model.importlib, "import_module", lambda name: asked.append(name))

    assert resolve_device("auto") == "cpu"
    assert asked == [], "no GPU driver: torch is not imported just to ask"
    assert (resolve_device("cpu"), resolve_device("cuda")) == ("cpu", "cuda")


@pytest.mark.parametrize(("has_gpu", "expected"), [(True, "cuda"), (False, "cpu")])
def test_auto_device_with_a_gpu_driver_uses_cuda_when_torch_sees_the_gpu(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, has_gpu: bool, expected: str
) -> None:
    driver = tmp_path / "nvidiactl"
    driver.touch()
    monkeypatch.setattr(detoxify_model, "_GPU_DRIVER_MARKS", (driver,))
    monkeypatch.setattr(detoxify_model.importlib, "import_module", lambda name: _FakeTorch(has_gpu))

    assert resolve_device("auto") == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_the_scorer_on_auto_runs_on_the_cpu_here(tiny_bundle_dir: Path) -> None:
    scorer = DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, device="auto")

    assert scorer.device == "cpu"
    assert len(scorer.score_batch(["hello class"])) == 1


def test_threads_set_the_torch_thread_count(tiny_bundle_dir: Path) -> None:
    before = torch.get_num_threads()
    try:
        DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_long_windows_are_not_batched_with_short_messages() -> None:
    # Padding a pass to its longest member made 31 short messages pay for one 2 kB window.
    from moderation.serving.windowing import padded_batches as _padded_batches

    tokens = [6] * 31 + [400, 512]
    assert _padded_batches(tokens, batch_size=32, pass_cost=16) == [list(range(31)), [31], [32]]
    # Six 175-token windows share a pass (1,050 padded tokens); a full window goes alone (attention memory).
    windows = [175] * 6 + [512] * 3
    assert [len(batch) for batch in _padded_batches(windows, batch_size=32, pass_cost=16)] == [6, 1, 1, 1]


def test_passes_are_cut_where_padding_costs_more_than_a_pass() -> None:
    from moderation.serving.windowing import padded_batches as _padded_batches

    shuffled = [40, 4, 4, 40, 4] * 6  # 18 chat lines of 4 tokens and 12 of 40, arriving mixed
    batches = _padded_batches(shuffled, batch_size=32, pass_cost=16)
    # One pass would pad all 30 to 40 tokens (1,200); two cost 18 x 4 + 12 x 40 = 552, plus a pass.
    assert sorted(sorted(shuffled[position] for position in batch) for batch in batches) == [
        [4] * 18,
        [40] * 12,
    ]
    # When a pass costs more than the padding it would save (a GPU), they stay together.
    assert len(_padded_batches(shuffled, batch_size=32, pass_cost=4096)) == 1


def test_passes_respect_the_batch_size_and_the_padded_token_budget() -> None:
    from moderation.serving.windowing import padded_batches as _padded_batches

    for tokens in ([20] * 70, [60] * 40, list(range(1, 200))):
        batches = _padded_batches(tokens, batch_size=32, pass_cost=16)
        assert sorted(position for batch in batches for position in batch) == list(range(len(tokens)))
        assert all(len(batch) <= 32 for batch in batches)
        assert all(len(batch) * max(tokens[p] for p in batch) <= 2048 for batch in batches)
    sizes = sorted(len(batch) for batch in _padded_batches([20] * 70, batch_size=32, pass_cost=16))
    assert sizes == [6, 32, 32]
    assert _padded_batches([], batch_size=32, pass_cost=16) == []
