r"""The policy file's patterns, run by RE2: time linear in the message, whatever the pattern.

A policy file is input written by people, and Python's backtracking ``re`` lets one careless
pattern (``(a+)+b``, or ``lol.*kill.*exam`` over a long message) take minutes on a single message
and stall every group. RE2 guarantees time linear in the text's length; the price is that it has
no look-around and no back-references (a detector's ``unless`` list does what a negative
look-ahead did), and that ``\b``, ``\w`` and ``\d`` are ASCII, which suits the text the
detectors see: Latin letters have already lost their diacritics (:mod:`moderation.normalise`).
Other scripts are matched with ``\pL`` or the letters themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import re2

__all__ = ["MAX_PATTERN_MEMORY", "Pattern", "PatternError", "compile_patterns"]

MAX_PATTERN_MEMORY = 8 << 20
"""RE2's memory for one compiled alternation of patterns (its own default): a pattern that needs
more is refused at load, not slowed down at run time."""

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print each refused pattern to stderr; the error says it once
_OPTIONS.max_mem = MAX_PATTERN_MEMORY
_UNSUPPORTED = {
    "(?=": "a look-ahead",
    "(?!": "a negative look-ahead (put what it excludes in the detector's unless list)",
    "(?<=": "a look-behind",
    "(?<!": "a negative look-behind (put what it excludes in the detector's unless list)",
}


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says why and what to write instead."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """Compiled patterns (an alternation), searched in linear time."""

    source: str
    _compiled: Any

    def spans(self, text: str, *, limit: int) -> Iterator[tuple[int, int]]:
        """The non-empty matches' ``(start, end)``, left to right, at most ``limit`` of them."""
        if limit <= 0:
            return
        found = 0
        for match in self._compiled.finditer(text):
            start, end = match.span()
            if end > start:
                yield start, end
                found += 1
                if found >= limit:
                    return

    def search(self, text: str) -> bool:
        """Whether it matches anywhere in ``text`` (slice the text to search part of it)."""
        return self._compiled.search(text) is not None


def compile_patterns(patterns: Sequence[str]) -> Pattern:
    """Compile patterns into one alternation, checking each first so an error names the culprit.

    Raises:
        PatternError: a pattern is not RE2 syntax or needs more than :data:`MAX_PATTERN_MEMORY`.
    """
    for pattern in patterns:
        _check(pattern)
    source = "|".join(f"(?:{pattern})" for pattern in patterns)
    try:
        compiled = re2.compile(source, _OPTIONS)
    except re2.error as exc:
        raise PatternError(
            f"together the patterns need more than RE2's {MAX_PATTERN_MEMORY >> 20} MB ({_reason(exc)}): "
            "split them across detectors"
        ) from exc
    return Pattern(source=source, _compiled=compiled)


def _check(pattern: str) -> None:
    for marker, what in _UNSUPPORTED.items():
        if marker in pattern:
            raise PatternError(
                f"pattern {pattern!r} uses {what}, which RE2 does not run: classmod matches in linear "
                "time, so patterns have no look-around or back-references"
            )
    try:
        re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = _reason(exc)
        raise PatternError(f"pattern {pattern!r} is not a regular expression RE2 can run ({reason})") from exc


def _reason(exc: BaseException) -> str:
    detail = exc.args[0] if exc.args else exc
    text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
    return text.strip() or "no reason given"
