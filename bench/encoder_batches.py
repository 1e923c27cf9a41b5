"""How the sentence encoder should run its forward passes (issue 12): tokens a pass, threads a pass.

Run it with ``.venv/bin/python bench/encoder_batches.py [BUDGET ...]`` (default 128 192 256 384 512 1024).
The 1,000 generated messages of ``bench/messages.py`` are cut into the pieces ``SemanticScorer`` encodes
(each message whole and, when it has several, each sentence), in the scoring service's micro-batches of
32 messages, and encoded on fp32 ONNX with each token budget; the best of three runs is printed. Texts
are sorted by length and cut into passes of at most the budget, so a smaller budget pads less and runs
more passes. Then, at the shipped budget, in micro-batches of 32 and of 128 (``classmod check``'s):
every core's threads sharing each pass, one pass at a time, against as many passes at once as there are
cores, one thread each (the default: ``encoder_engines.session_threads``). A benchmark, not a test: the
embeddings are the same whatever the budget or the threads.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.heads import plain_model_dir  # noqa: E402
from bench.messages import generate_messages  # noqa: E402
from moderation.heads.features import sentence_spans  # noqa: E402
from moderation.serving.detoxify_bundle import ENGINE_CACHE_DIR  # noqa: E402
from moderation.serving.encoder_engines import load_encoder, session_threads  # noqa: E402
from moderation.serving.sentence_encoder import _TOKEN_BUDGET, SentenceEncoder, encoder_path  # noqa: E402


def main(argv: list[str]) -> int:
    budgets = [int(value) for value in argv] or [128, 192, 256, 384, 512, 1024]
    folder = encoder_path(plain_model_dir())
    encoder = load_encoder(folder, engine="onnx", cache_dir=folder / ENGINE_CACHE_DIR).encoder
    texts = [item["text"] for item in generate_messages(1000)]
    print("| token budget | seconds for 1,000 messages (best of 3) |\n|---|---|")
    for budget in budgets:
        print(f"| {budget} | {best_of_three(encoder, pieces_of(texts, 32), budget):.2f} |", flush=True)
    cores = session_threads(None)[1]
    one_at_a_time = load_encoder(folder, engine="onnx", cache_dir=folder / ENGINE_CACHE_DIR, threads=cores)
    print(
        f"\n| messages a batch | {cores} threads a pass, one pass at a time | {cores} passes at once, "
        "one thread each (default) |\n|---|---|---|"
    )
    for size in (32, 128):
        batches = pieces_of(texts, size)
        shared, side_by_side = (
            best_of_three(engine, batches, _TOKEN_BUDGET) for engine in (one_at_a_time.encoder, encoder)
        )
        print(f"| {size} | {shared:.2f} | {side_by_side:.2f} |", flush=True)
    return 0


def pieces_of(texts: list[str], size: int) -> list[list[str]]:
    """What the scorer encodes for each micro-batch of ``size`` messages: each whole, and its sentences."""
    batches = []
    for begin in range(0, len(texts), size):
        pieces = []
        for text in texts[begin : begin + size]:
            pieces += [text[:4000], *(text[start:end] for start, end in sentence_spans(text))]
        batches.append(pieces)
    return batches


def best_of_three(encoder: SentenceEncoder, batches: list[list[str]], budget: int) -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for pieces in batches:
            encoder.encode(pieces, token_budget=budget)
        best = min(best, time.perf_counter() - started)
    return best


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
