"""The GPU paths: run only where torch sees a CUDA GPU (skipped, and saying so, everywhere else).

CI has no GPU; these ran on a lent H200 (see the README's performance section).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import onnxruntime
import pytest
import torch

from moderation.serving.batching import ScoringService
from moderation.serving.detoxify_scorer import DetoxifyScorer
from tests.moderation.serving.test_detoxify_scorer import TEXTS
from tests.tinymodel import TINY_VARIANT

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")

LONG = "the homework is on page 42 and you are an idiot " * 60  # several windows


@pytest.fixture(scope="module")
def gpu_scorer(tiny_bundle_dir: Path) -> DetoxifyScorer:
    return DetoxifyScorer(TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, device="cuda", engine="torch")


def test_the_torch_engine_runs_on_the_gpu_and_agrees_with_the_cpu(
    gpu_scorer: DetoxifyScorer, tiny_scorer: DetoxifyScorer
) -> None:
    assert gpu_scorer.engine == "torch"
    assert next(gpu_scorer._detoxify.model.parameters()).device.type == "cuda"
    on_gpu = gpu_scorer.score_batch([*TEXTS, LONG])
    on_cpu = tiny_scorer.score_batch([*TEXTS, LONG])
    for gpu, cpu in zip(on_gpu, on_cpu, strict=True):
        assert gpu.keys() == cpu.keys()
        for label in cpu:
            assert gpu[label] == pytest.approx(cpu[label], abs=1e-3)


def test_the_auto_device_finds_the_gpu(tiny_bundle_dir: Path) -> None:
    scorer = DetoxifyScorer(
        TINY_VARIANT, bundle=tiny_bundle_dir / TINY_VARIANT, device="auto", engine="torch"
    )
    assert scorer.device == "cuda"
    assert next(scorer._detoxify.model.parameters()).device.type == "cuda"


def test_auto_on_the_gpu_takes_onnx_with_a_cuda_provider_or_says_why_it_is_on_torch(
    tiny_bundle_dir: Path, tmp_path: Path
) -> None:
    scorer = DetoxifyScorer(
        TINY_VARIANT,
        bundle=tiny_bundle_dir / TINY_VARIANT,
        device="cuda",
        engine="auto",
        engine_cache=tmp_path,
    )
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert scorer.engine in ("onnx", "torch")
    else:
        assert scorer.engine == "torch"
        assert scorer.engine_note is not None and "no CUDA provider" in scorer.engine_note
    assert len(scorer.score_batch(["hello class"])) == 1


async def test_both_lanes_share_the_gpu_and_each_caller_gets_its_own_result(
    gpu_scorer: DetoxifyScorer,
) -> None:
    texts = [f"message {index} about the homework" for index in range(60)] + [
        f"essay {index}: " + "the cat sat on the mat, you idiot. " * (15 + index) for index in range(8)
    ]
    singles = {text: gpu_scorer.score_batch([text])[0] for text in texts}
    service = ScoringService(gpu_scorer, max_batch=16, window_ms=2, long_text_chars=300)
    shuffled = random.Random(5).sample(texts, len(texts))
    results = await asyncio.gather(*(service.score(text) for text in shuffled))
    await service.close()
    for text, result in zip(shuffled, results, strict=True):
        for label, value in singles[text].items():
            assert result[label] == pytest.approx(value, abs=1e-3)
    assert service.stats.long_texts == 8
