"""One JSON object per line, read defensively: each way a line can be wrong is one plain sentence.

``classmod check --json`` and transcripts read lines people and programs wrote; a line may be
bytes that are not UTF-8, not JSON, a list, nested thousands deep (Python's parser then runs out
of stack), hold NaN or a number too large for a float, or name half a character. Each becomes a
``ValueError`` whose message says what is wrong, so the caller can report that line and go on.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["read_object"]


def read_object(raw: bytes | str) -> dict[str, Any]:
    """Parse one line that must hold a JSON object.

    Raises:
        ValueError: the line is not UTF-8, not JSON, not an object, nested too deeply, or holds a
            value other languages cannot read back (NaN, an infinite number, a lone surrogate).
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"not UTF-8 (byte 0x{raw[exc.start]:02x} at position {exc.start + 1}); send UTF-8 text"
            ) from exc
    try:
        item = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    except RecursionError as exc:
        raise ValueError("not JSON that can be read: it is nested too deeply") from exc
    if not isinstance(item, dict):
        raise ValueError("expected a JSON object with an id and a text")
    try:
        json.dumps(item, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            "a \\u escape names half a character (a lone surrogate); send whole characters"
        ) from exc
    except RecursionError as exc:
        raise ValueError("not JSON that can be read: it is nested too deeply") from exc
    return item


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value} is too large for a JSON number")
    return number
