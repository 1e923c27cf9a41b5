"""A tiny, deterministic stand-in for the sentence encoder: hashed words into 64 unit-length numbers.

It lets the heads' training, loading and scoring run end to end in a second; detection quality is
measured with the real encoder (tests/moderation/test_heads_real.py, bench/heads_eval.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

WIDTH = 64


class TinyEncoder:
    name = "tiny-test-encoder"
    sha256 = "t" * 64

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), WIDTH), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.casefold()):
                digest = hashlib.blake2b(word.encode(), digest_size=2).digest()
                rows[row, int.from_bytes(digest, "big") % WIDTH] += 1.0
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return rows / norms

    def reads_whole(self, text: str) -> bool:
        return True  # no length limit


ORDINARY_CHAT = [
    "see you in class on tuesday",
    "thank you teacher for the lesson",
    "what page is the homework on",
    "i am late the bus is slow",
    "good morning everyone",
    "can we practise the past tense again",
    "my daughter is ill today so i stay home",
    "is class online next week",
    "i like the new library very much",
    "happy birthday amina",
]
"""Ordinary class chat for the tiny encoder's training and held-out lines."""
