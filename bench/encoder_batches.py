"""How many padded tokens the sentence encoder should run in one forward pass (issue 12).

Run it with ``.venv/bin/python bench/encoder_batches.py [BUDGET ...]`` (default 128 192 256 384 512 1024).
The 1,000 generated messages of ``bench/messages.py`` are cut into the pieces ``SemanticScorer`` encodes
(each message whole and, when it has several, each sentence), in the scoring service's micro-batches of
32 messages, and encoded on fp32 ONNX with each token budget; the best of three runs is printed. Texts
are sorted by length and cut into passes of at most the budget, so a smaller budget pads less and runs
more passes. A benchmark, not a test: the embeddings are the same whatever the budget.
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
from moderation.serving.encoder_engines import load_encoder  # noqa: E402
from moderation.serving.sentence_encoder import encoder_path  # noqa: E402


def main(argv: list[str]) -> int:
    budgets = [int(value) for value in argv] or [128, 192, 256, 384, 512, 1024]
    folder = encoder_path(plain_model_dir())
    encoder = load_encoder(folder, engine="onnx", cache_dir=folder / ENGINE_CACHE_DIR).encoder
    texts = [item["text"] for item in generate_messages(1000)]
    batches = []
    for begin in range(0, len(texts), 32):
        pieces = []
        for text in texts[begin : begin + 32]:
            pieces += [text[:4000], *(text[start:end] for start, end in sentence_spans(text))]
        batches.append(pieces)
    print("| token budget | seconds for 1,000 messages (best of 3) |\n|---|---|")
    for budget in budgets:
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            for pieces in batches:
                encoder.encode(pieces, token_budget=budget)
            best = min(best, time.perf_counter() - started)
        print(f"| {budget} | {best:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
