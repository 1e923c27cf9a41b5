"""Long texts into model windows, and windows into forward passes.

A text longer than the model's window is split into overlapping token windows, each starting on a
word's first token, so abuse at the end of a long message is not truncated away. The windows of a
batch are then grouped into the forward passes that cost the least padding.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_WINDOW_TOKENS", "padded_batches", "pass_cost_tokens", "window_spans"]

MAX_WINDOW_TOKENS = 512
"""The longest window a model is given, special tokens included."""

# Padded tokens one forward pass may hold (batch size x longest window).
_PADDED_TOKEN_BUDGET = 2048
# Attention holds batch x heads x length^2 scores per layer: a full window goes alone, which costs
# no speed (a 512-token window already keeps the cores busy) and keeps ONNX Runtime's arena small.
_ATTENTION_BUDGET = 512 * 512
# What a forward pass costs beyond its padded tokens, counted in tokens. On a CPU a pass costs a few
# ms plus a fixed time per padded token (measured, bert-base on 2 cores: 13 tokens' worth for
# onnx-int8, 4 for onnx, 28 for torch and torch-int8), so a batch is worth splitting when that
# saves more padding. A GPU pads almost for free: it splits only for the budgets above.
_PASS_COST_TOKENS = {"cpu": 16}
_GPU_PASS_COST_TOKENS = 4096


def pass_cost_tokens(device: str) -> int:
    """What one forward pass costs on ``device`` beyond its padded tokens, counted in tokens."""
    return _PASS_COST_TOKENS.get(device, _GPU_PASS_COST_TOKENS)


def window_spans(text: str, encoding: Any, body: int, overlap: int) -> list[tuple[int, int, int]]:
    """Return the character spans of a text's token windows, with their token counts.

    Args:
        text: the text that was tokenized.
        encoding: its tokenization, with offsets, no special tokens and no truncation.
        body: the most tokens a window holds (special tokens aside).
        overlap: how many tokens a window shares with the one before it, at most.

    Returns:
        ``(start, end, tokens)`` per window: the whole text when it fits one window.

    """
    offsets: list[tuple[int, int]] = encoding["offset_mapping"]
    if len(offsets) <= body:
        return [(0, len(text), len(offsets))]
    words: list[int | None] = encoding.word_ids()
    spans: list[tuple[int, int, int]] = []
    start = 0
    while True:
        end = min(start + body, len(offsets))
        spans.append((offsets[start][0], offsets[end - 1][1], end - start))
        if end == len(offsets):
            return spans
        next_start = end - overlap
        # Start each window on a word's first token, so a word is never re-read from its middle.
        while next_start > start + 1 and _continues_word(words, next_start):
            next_start -= 1
        start = next_start


def padded_batches(tokens: Sequence[int], batch_size: int, pass_cost: int) -> list[list[int]]:
    """Group segments, by their token counts, into the forward passes that cost the least in all.

    A pass costs about ``pass_cost`` plus its padded tokens (its size times its longest member), so
    31 short messages and one 2 kB window together cost as much as 32 windows. Sorted by length, the
    cheapest cut into runs of at most ``batch_size`` is found exactly (dynamic programming, at most
    ``len(tokens) * batch_size`` steps). A pass also stays within the padded-token budget, and its
    attention memory (size times longest squared) within a full window's: a full window goes alone.
    """
    order = sorted(range(len(tokens)), key=tokens.__getitem__)
    best = [0.0] + [math.inf] * len(order)  # best[end]: the cheapest cut of order[:end]
    cut = [0] * (len(order) + 1)
    for end in range(1, len(order) + 1):
        longest = tokens[order[end - 1]]
        for start in range(end - 1, max(end - batch_size, 0) - 1, -1):
            size = end - start
            if size > 1 and (
                size * longest > _PADDED_TOKEN_BUDGET or size * longest * longest > _ATTENTION_BUDGET
            ):
                break
            cost = best[start] + pass_cost + size * longest
            if cost < best[end]:
                best[end], cut[end] = cost, start
    batches: list[list[int]] = []
    end = len(order)
    while end:
        batches.append(order[cut[end] : end])
        end = cut[end]
    return batches[::-1]


def _continues_word(words: list[int | None], position: int) -> bool:
    return words[position] is not None and words[position] == words[position - 1]
