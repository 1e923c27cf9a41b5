"""Hostile input for ``classmod check --json``: seeded, so a failure can be replayed line for line.

Each line is what a careless or hostile program might send: bytes that are not UTF-8, lone
surrogates, NUL and control characters, right-to-left and zero-width marks, emoji sequences,
JSON of the wrong shape or types, numbers no float holds, nesting thousands deep, very long texts,
and ordinary messages between them. The suite runs a few hundred; ``bench/hostile.py`` runs tens of
thousands and times the worst cases.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable

__all__ = ["ODD_CHARACTERS", "answers_are_sound", "hostile_lines"]

ODD_CHARACTERS = (
    "\x00",
    "\x07",
    "\x1b[31m",
    "\u200b",  # zero-width space
    "\u200d",  # zero-width joiner
    "\u202e",  # right-to-left override
    "\u2028",  # line separator
    "\ufeff",  # byte order mark
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji sequence
    "\U0001f1ec\U0001f1e7",  # a flag
    "e\u0301\u0301\u0301\u0301",  # stacked combining marks
    "\uff49\uff44\uff49\uff4f\uff54",  # full-width letters
    "\u0456d\u0456\u043e\u0442",  # Cyrillic look-alikes
    "\U0010ffff",
    "\ufffd",
    "\u0645\u0631\u062d\u0628\u0627",
)
_WORDS = ("you", "idiot", "call", "07700 900123", "kill", "lol", "class", "homework", "see", "me", "😀", "ok")
_ROLES = ("learner", "tutor", "staff", "moderator", "headteacher", "", None, 5)


def hostile_lines(count: int, seed: int = 0) -> list[bytes]:
    """``count`` lines (no newline inside any), the same for the same seed."""
    chooser = random.Random(seed)
    makers: list[Callable[[random.Random, int], bytes]] = [
        _ordinary,
        _odd_text,
        _random_bytes,
        _bad_utf8,
        _lone_surrogate,
        _wrong_types,
        _not_an_object,
        _bad_numbers,
        _deep,
        _long_text,
        _truncated,
        _blank,
    ]
    weights = [30, 20, 8, 6, 5, 8, 5, 4, 3, 3, 5, 3]
    return [chooser.choices(makers, weights)[0](chooser, index) for index in range(count)]


def answers_are_sound(sent: list[bytes], answers: list[dict[str, object]]) -> list[str]:
    """What is wrong with ``check --json``'s answers to ``sent`` (nothing: an empty list).

    One answer for every line that is not blank, in order, each with an id and either an error or
    an action.
    """
    expected = [line for line in sent if line.strip()]
    problems = []
    if len(answers) != len(expected):
        problems.append(f"{len(answers)} answers to {len(expected)} lines")
    for number, answer in enumerate(answers, start=1):
        if "id" not in answer:
            problems.append(f"answer {number} has no id")
        if ("error" in answer) == ("action" in answer):
            problems.append(
                f"answer {number} has {'both' if 'error' in answer else 'neither'} error and action"
            )
    return problems


def _dump(item: object) -> bytes:
    return json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _sentence(chooser: random.Random, words: int) -> str:
    return " ".join(chooser.choice(_WORDS) for _ in range(words))


def _ordinary(chooser: random.Random, index: int) -> bytes:
    return _dump({"id": index, "text": _sentence(chooser, chooser.randint(1, 12))})


def _odd_text(chooser: random.Random, index: int) -> bytes:
    pieces = [chooser.choice(ODD_CHARACTERS + _WORDS) for _ in range(chooser.randint(1, 20))]
    item = {"id": f"odd-{index}", "text": "".join(pieces), "role": chooser.choice(_ROLES[:4])}
    # Half as \u escapes, half as raw UTF-8: both must be read the same way.
    return json.dumps(item, ensure_ascii=chooser.random() < 0.5).encode("utf-8")


def _random_bytes(chooser: random.Random, index: int) -> bytes:
    raw = bytes(chooser.randrange(256) for _ in range(chooser.randint(1, 200)))
    return raw.replace(b"\n", b" ").replace(b"\r", b" ")


def _bad_utf8(chooser: random.Random, index: int) -> bytes:
    broken = chooser.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf"])
    return b'{"id": %d, "text": "caf' % index + broken + b'"}'


def _lone_surrogate(chooser: random.Random, index: int) -> bytes:
    half = chooser.choice(["\\ud800", "\\udfff", "\\ud83d"])
    return f'{{"id": {index}, "text": "hi {half} there"}}'.encode()


def _wrong_types(chooser: random.Random, index: int) -> bytes:
    text = chooser.choice([None, 5, 1.5, True, [], {}, ["a"], {"text": "x"}])
    identifier = chooser.choice([index, None, [1], {"a": 1}, "x" * 300, True])
    return _dump({"id": identifier, "text": text, "role": chooser.choice(_ROLES)})


def _not_an_object(chooser: random.Random, index: int) -> bytes:
    return chooser.choice([b"[]", b'"text"', b"42", b"null", b"true", b'[{"id": 1, "text": "hi"}]'])


def _bad_numbers(chooser: random.Random, index: int) -> bytes:
    number = chooser.choice(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" * 5000])
    return f'{{"id": {number}, "text": "hello"}}'.encode()


def _deep(chooser: random.Random, index: int) -> bytes:
    depth = chooser.choice([100, 999, 1_000, 10_000, 100_000])
    opening, closing = chooser.choice([("[", "]"), ('{"a":', "}")])
    return f'{{"id": {index}, "text": {opening * depth}1{closing * depth}}}'.encode()


def _long_text(chooser: random.Random, index: int) -> bytes:
    unit = chooser.choice(["lol kill ", "a", "you idiot ", "07700 900123 ", "\u200b", "😀"])
    return _dump({"id": f"long-{index}", "text": unit * (chooser.randint(1_000, 20_000) // len(unit))})


def _truncated(chooser: random.Random, index: int) -> bytes:
    whole = _ordinary(chooser, index)
    return whole[: chooser.randint(1, max(1, len(whole) - 1))]


def _blank(chooser: random.Random, index: int) -> bytes:
    return chooser.choice([b"", b"   ", b"\t"])
