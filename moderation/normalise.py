"""Normalise chat text for the lexical detectors while keeping a map back to the original.

Detectors match their patterns against ``NormalisedText.text``; evidence must quote the original,
so every normalised character remembers the index of the original character it came from.

Stages, in order (each keeps the map):

1. NFKC per character, then ``str.casefold``; Latin letters also lose their diacritics.
2. Format (Cf) and control (Cc) characters and lone surrogates are dropped; whitespace controls
   become spaces. Combining marks after a Latin letter are dropped; after any other letter they
   are composed with it where Unicode allows, so other scripts keep their marks.
3. Cyrillic and Greek look-alikes become Latin inside a word that has an ASCII letter, and in runs
   of look-alike-only words bounded by Latin words. Real Russian or Greek text is left alone.
4. Leetspeak is folded inside words that have an ASCII letter, except numbers with a unit ("10am",
   "1st"), digits that touch no letter ("us$20"), a trailing "!" or "+", a "$" or "€" before a
   digit, and the "@" that starts a mention.
5. Runs of three or more single letters, each separated by one space, ".", "-" or "_", collapse
   into a word; a two-letter run next to such a run (only spaces between) collapses too.
6. Three or more of the same cased letter collapse to one ("fuuuck" -> "fuck"; "too" stays).
7. Whitespace runs collapse to one space and the ends are stripped.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["NormalisedText", "normalise"]

# Cyrillic, then Greek look-alikes, and the Latin letter each stands for.
_CONFUSABLE_BASE = dict(
    zip(
        "авеёіїјкмнорстухѕьһӏԁԛԝѵүαβγεϵηικνορτυχωϲϳ",
        "abeeiijkmhopctyxsbhldqwvyabyeenikvoptuxwcj",
        strict=True,
    )
)
# Accented Greek and Cyrillic letters ("ό", "ї") map like their base letter.
_CONFUSABLES = {
    **{
        char: _CONFUSABLE_BASE[unicodedata.normalize("NFD", char)[0]]
        for char in map(chr, range(0x370, 0x530))
        if unicodedata.normalize("NFD", char)[0] in _CONFUSABLE_BASE
    },
    **_CONFUSABLE_BASE,
}
_CONFUSABLE_CHARS = frozenset(_CONFUSABLES)

_LEET = dict(zip("01345789@$!|+€", "oieastbgasilte", strict=True))
_LEET_HINT = re.compile(r"[0134579@$!|+€8]")
_DIGIT_RUN = re.compile(r"[0-9]+")
_WORD = re.compile(r"(?:[^\W_]|[@$!|+€])+")
_NUMBER_WITH_UNIT = re.compile(
    r"\d+(?:st|nd|rd|th|am|pm|s|k|m|g|h|d|p|x|kg|km|cm|mm|ml|mb|gb|hr|hrs|min|mins|yr|yrs)"
)
_SPACED_RUN = re.compile(r"(?<![^\W\d_])[^\W\d_](?:[ ._-][^\W\d_])+(?![^\W\d_])")
_SQUEEZE_HINT = re.compile(r"(\w)\1\1|  |^ | $")
_SPACED_RUN_MIN = 3
_STRETCH_MIN = 3
_DROPPED_MARKS = ("Mn", "Me")

_LATIN, _LOOKALIKE, _OTHER, _NO_LETTERS = range(4)


@dataclass(frozen=True, slots=True)
class NormalisedText:
    """Chat text in normalised form, with the way back to the original.

    Attributes:
        original: the text as written.
        text: the normalised text the detectors match against.
        offsets: ``len(text) + 1`` entries; ``offsets[i]`` is the index in ``original`` that
            normalised character ``i`` came from, and the last entry is ``len(original)``.

    """

    original: str
    text: str
    offsets: tuple[int, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the normalised text back to the smallest covering original span.

        The covering span includes combining marks and stretched repeats absorbed into the last
        character, but not dropped spaces, separators or invisible characters after it.

        Args:
            start: first normalised index of the span.
            end: normalised index just past the span.

        Returns:
            ``(start, end)`` indices into ``original``; an empty span maps to an empty span.

        Raises:
            ValueError: unless ``0 <= start <= end <= len(text)``.

        """
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(
                f"span ({start}, {end}) is outside the normalised text of length {len(self.text)}"
            )
        begin = self.offsets[start]
        if start == end:
            return begin, begin
        stop = self.offsets[end - 1] + 1
        limit = self.offsets[end]
        while stop < limit and unicodedata.category(self.original[stop])[0] in "LM":
            stop += 1
        return begin, stop


def normalise(text: str) -> NormalisedText:
    """Normalise chat text for lexical matching; never raises on any ``str``.

    Args:
        text: the message text as written.

    Returns:
        The normalised text with its offset map (see the module docstring for the stages).

    """
    chars, origins = _fold_characters(text)
    _fold_words(chars)
    chars, origins = _collapse_spaced_letters(chars, origins)
    chars, origins = _squeeze(chars, origins)
    origins.append(len(text))
    return NormalisedText(original=text, text="".join(chars), offsets=tuple(origins))


def _fold_characters(text: str) -> tuple[list[str], list[int]]:
    if text.isascii():
        lowered = text.lower()
        if lowered.isprintable():
            return list(lowered), list(range(len(text)))
    chars: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        if char < "\x80":
            if " " <= char <= "~":
                chars.append(char.lower())
                origins.append(index)
            elif char.isspace():
                chars.append(" ")
                origins.append(index)
            continue
        if chars and unicodedata.category(char)[0] == "M":
            previous = chars[-1]
            if _is_latin_letter(previous) and unicodedata.category(char) in _DROPPED_MARKS:
                continue
            composed = _compose(previous, char)
            if composed:
                chars[-1] = composed
                continue
        for folded in _fold_character(char):
            chars.append(folded)
            origins.append(index)
    return chars, origins


@lru_cache(maxsize=8192)
def _fold_character(char: str) -> str:
    if char.isspace():
        return " "
    if unicodedata.category(char)[0] == "C" and unicodedata.category(char) not in ("Co", "Cn"):
        return ""
    folded: list[str] = []
    for part in unicodedata.normalize("NFKC", char).casefold():
        if part.isascii():
            folded.append(part)
        elif unicodedata.category(part) in _DROPPED_MARKS:
            if not (folded and _is_latin_letter(folded[-1])):
                folded.append(part)
        elif _is_latin_letter(part):
            decomposed = unicodedata.normalize("NFKD", part)
            folded.extend(piece for piece in decomposed if unicodedata.category(piece) not in _DROPPED_MARKS)
        else:
            folded.append(part)
    return "".join(folded)


@lru_cache(maxsize=8192)
def _compose(base: str, mark: str) -> str:
    composed = unicodedata.normalize("NFKC", base + mark).casefold()
    return composed if len(composed) == 1 else ""


@lru_cache(maxsize=8192)
def _is_latin_letter(char: str) -> bool:
    if char.isascii():
        return char.isalpha()
    return char.isalpha() and unicodedata.name(char, "").startswith("LATIN")


def _has_ascii_letter(word: str) -> bool:
    return any(map(_is_ascii_letter, word))


def _fold_words(chars: list[str]) -> None:
    text = "".join(chars)
    has_confusables = not text.isascii() and not _CONFUSABLE_CHARS.isdisjoint(text)
    has_leet = _LEET_HINT.search(text) is not None
    if not (has_confusables or has_leet):
        return
    words = [(match.start(), match.group()) for match in _WORD.finditer(text)]
    if has_confusables:
        words = _map_confusables(chars, words)
    if has_leet:
        for start, word in words:
            _fold_leet(chars, start, word)


def _word_kind(word: str) -> int:
    if _has_ascii_letter(word):
        return _LATIN
    letters = [char for char in word if char.isalpha()]
    if not letters:
        return _NO_LETTERS
    return _LOOKALIKE if all(char in _CONFUSABLES for char in letters) else _OTHER


def _map_confusables(chars: list[str], words: list[tuple[int, str]]) -> list[tuple[int, str]]:
    kinds = [_word_kind(word) for _, word in words]
    lettered = [index for index, kind in enumerate(kinds) if kind != _NO_LETTERS]
    to_map = {index for index in lettered if kinds[index] == _LATIN}
    position = 0
    while position < len(lettered):
        if kinds[lettered[position]] != _LOOKALIKE:
            position += 1
            continue
        run_end = position
        while run_end < len(lettered) and kinds[lettered[run_end]] == _LOOKALIKE:
            run_end += 1
        # A look-alike-only run is mapped only when the words around it are Latin.
        left = kinds[lettered[position - 1]] if position > 0 else None
        right = kinds[lettered[run_end]] if run_end < len(lettered) else None
        if left in (None, _LATIN) and right in (None, _LATIN) and _LATIN in (left, right):
            to_map.update(lettered[position:run_end])
        position = run_end
    mapped = list(words)
    for index in to_map:
        start, word = words[index]
        word = "".join(_CONFUSABLES.get(char, char) for char in word)
        chars[start : start + len(word)] = word
        mapped[index] = (start, word)
    return mapped


def _fold_leet(chars: list[str], start: int, word: str) -> None:
    if not _has_ascii_letter(word) or _NUMBER_WITH_UNIT.fullmatch(word):
        return
    size = len(word)
    last_alphanumeric = max(index for index, char in enumerate(word) if char.isalnum())
    folded = list(word)
    for index, char in enumerate(word):
        following = word[index + 1] if index + 1 < size else ""
        if (
            (char in "!+" and index < last_alphanumeric)
            or (char in "$€" and not following.isdigit())
            or (char == "@" and index > 0)
            or char == "|"
        ):
            folded[index] = _LEET[char]
    for digits in _DIGIT_RUN.finditer(word):
        before, after = digits.start() - 1, digits.end()
        # Digits count as letters only when they touch one ("sh1t"), not in "us$20".
        if (before >= 0 and _is_ascii_letter(folded[before])) or (
            after < size and _is_ascii_letter(folded[after])
        ):
            folded[digits.start() : after] = [_LEET.get(digit, digit) for digit in digits.group()]
    chars[start : start + size] = folded


def _is_ascii_letter(char: str) -> bool:
    return char.isascii() and char.isalpha()


def _collapse_spaced_letters(chars: list[str], origins: list[int]) -> tuple[list[str], list[int]]:
    text = "".join(chars)
    runs = [(match.start(), match.end()) for match in _SPACED_RUN.finditer(text)]
    collapsing = [(end - start + 1) // 2 >= _SPACED_RUN_MIN for start, end in runs]
    if not any(collapsing):
        return chars, origins
    # A two-letter run ("A N") joins in when a collapsing run sits next to it, spaces between.
    for order in (range(len(runs)), range(len(runs) - 1, -1, -1)):
        for index in order:
            if collapsing[index]:
                continue
            for neighbour in (index - 1, index + 1):
                if 0 <= neighbour < len(runs) and collapsing[neighbour]:
                    first, second = sorted((runs[index], runs[neighbour]))
                    if text[first[1] : second[0]].strip(" ") == "":
                        collapsing[index] = True
    dropped: set[int] = set()
    for (start, end), is_collapsing in zip(runs, collapsing, strict=True):
        if is_collapsing:
            dropped.update(range(start + 1, end, 2))
    kept = [index for index in range(len(chars)) if index not in dropped]
    return [chars[index] for index in kept], [origins[index] for index in kept]


def _squeeze(chars: list[str], origins: list[int]) -> tuple[list[str], list[int]]:
    if _SQUEEZE_HINT.search("".join(chars)) is None:
        return chars, origins
    squeezed: list[str] = []
    squeezed_origins: list[int] = []
    size = len(chars)
    index = 0
    while index < size:
        char = chars[index]
        run_end = index + 1
        while run_end < size and chars[run_end] == char:
            run_end += 1
        if char == " ":
            if squeezed and run_end < size:
                squeezed.append(" ")
                squeezed_origins.append(origins[index])
        elif run_end - index >= _STRETCH_MIN and char.islower():
            squeezed.append(char)
            squeezed_origins.append(origins[index])
        else:
            squeezed.extend(chars[index:run_end])
            squeezed_origins.extend(origins[index:run_end])
        index = run_end
    return squeezed, squeezed_origins
