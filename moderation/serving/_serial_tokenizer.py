"""A tokenizer that several scoring threads may share.

Hugging Face's fast tokenizers change their Rust-side truncation and padding state on a call whose
options differ from the last one, and two threads doing that at once fail with "Already borrowed".
Tokenizing takes a millisecond or two; the forward pass takes the rest. So each call holds a lock,
and the model runs outside it: the short and the long scoring lanes run their passes side by side.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["SerialTokenizer", "unwrap"]


class SerialTokenizer:
    """Wraps a tokenizer: calls are serialised; every other attribute is the wrapped tokenizer's."""

    wrapped: Any
    _lock: threading.Lock

    def __init__(self, tokenizer: Any) -> None:
        object.__setattr__(self, "wrapped", tokenizer)
        object.__setattr__(self, "_lock", threading.Lock())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return self.wrapped(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.wrapped, name, value)


def unwrap(tokenizer: Any) -> Any:
    """The tokenizer itself, whether or not it is wrapped."""
    return tokenizer.wrapped if isinstance(tokenizer, SerialTokenizer) else tokenizer
