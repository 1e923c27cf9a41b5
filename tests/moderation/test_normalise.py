from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.normalise import NormalisedText, normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # 1. NFKC and case-folding
        ("ｉｄｉｏｔ", "idiot"),
        ("𝐢𝐝𝐢𝐨𝐭", "idiot"),
        ("ﬁne", "fine"),
        ("IDIOT", "idiot"),
        ("Straße", "strasse"),
        # 2. invisible and control characters, Latin diacritics
        ("id\u200biot", "idiot"),
        ("id\u00adiot", "idiot"),
        ("i\u2060d\ufeffiot", "idiot"),
        ("id\x00iot", "idiot"),
        ("hello\nworld\tagain", "hello world again"),
        ("ïdïöt", "idiot"),
        ("e\u0301cole", "ecole"),
        ("i̷d̷i̷o̷t̷", "idiot"),
        ("नमस्ते दुनिया", "नमस्ते दुनिया"),
        ("مرحبا بالعالم", "مرحبا بالعالم"),
        ("שלום עולם", "שלום עולם"),
        ("你好世界", "你好世界"),
        # 3. confusables
        ("іdіоt", "idiot"),
        ("you аrе а іdіоt", "you are a idiot"),
        ("ιdιοt", "idiot"),
        ("ѕtuріd", "stupid"),
        ("Привет, как дела? Он тут.", "привет, как дела? он тут."),
        ("Ο καιρός είναι καλός", "ο καιρόσ είναι καλόσ"),  # casefold turns ς into σ
        # 4. leetspeak
        ("1d10t", "idiot"),
        ("$tup!d", "stupid"),
        ("b!tch", "bitch"),
        ("sh1t", "shit"),
        ("a$$", "ass"),
        ("h3ll0", "hello"),
        ("hello!", "hello!"),
        ("hello!!", "hello!!"),
        ("$20", "$20"),
        ("us$20", "us$20"),
        ("2024", "2024"),
        ("07700 900123", "07700 900123"),
        ("10:30", "10:30"),
        ("£12", "£12"),
        ("@tom", "@tom"),
        ("1st class at 10am", "1st class at 10am"),
        # 5. spaced letters
        ("Y O U  A R E  A N  I D I O T", "you are an idiot"),
        ("y o u a r e", "youare"),
        ("i.d.i.o.t", "idiot"),
        ("s-t-u-p-i-d", "stupid"),
        ("s_t_u_p_i_d", "stupid"),
        ("I am a learner", "i am a learner"),
        ("Am I a learner", "am i a learner"),
        # 6. stretched letters
        ("idiooooot", "idiot"),
        ("fuuuuck", "fuck"),
        ("kiiiill", "kill"),
        ("good", "good"),
        ("too", "too"),
        ("kill", "kill"),
        ("哈哈哈", "哈哈哈"),
        ("wow!!!", "wow!!!"),
        # 7. whitespace
        ("  hello   world  ", "hello world"),
        ("hello\u00a0\u3000world", "hello world"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalised_text(raw: str, expected: str) -> None:
    assert normalise(raw).text == expected


def _original_of(normalised: NormalisedText, needle: str) -> str:
    start = normalised.text.index(needle)
    begin, end = normalised.span(start, start + len(needle))
    return normalised.original[begin:end]


@pytest.mark.parametrize(
    ("raw", "needle", "original"),
    [
        ("You are an 1d10t!!", "idiot", "1d10t"),
        ("You are an 1d10t!!", "idiot!!", "1d10t!!"),
        ("Y O U  A R E", "you", "Y O U"),
        ("Y O U  A R E", "are", "A R E"),
        ("Y O U  A R E", "you are", "Y O U  A R E"),
        ("such an idiooooot here", "idiot", "idiooooot"),
        ("such an idiooooot here", "idio", "idiooooo"),
        ("what an ｉｄｉｏｔ", "idiot", "ｉｄｉｏｔ"),
        ("an id\u200biot\u200b now", "idiot", "id\u200biot"),
        ("i.d.i.o.t.", "idiot", "i.d.i.o.t"),
        ("a Ze\u0301ro", "zero", "Ze\u0301ro"),
        ("  hi   there ", "hi there", "hi   there"),
        ("the ﬁnal", "f", "ﬁ"),
    ],
)
def test_span_maps_back_to_the_original(raw: str, needle: str, original: str) -> None:
    assert _original_of(normalise(raw), needle) == original


def test_empty_span_maps_to_an_empty_span() -> None:
    normalised = normalise("  hello")
    assert normalised.span(0, 0) == (2, 2)
    assert normalised.span(5, 5) == (7, 7)


@pytest.mark.parametrize(("start", "end"), [(-1, 2), (3, 2), (0, 6)])
def test_span_outside_the_text_is_refused(start: int, end: int) -> None:
    with pytest.raises(ValueError, match="outside the normalised text"):
        normalise("hello").span(start, end)


def test_offsets_end_with_the_original_length() -> None:
    normalised = normalise("  A\u200b ")
    assert normalised.text == "a"
    assert normalised.offsets == (2, 5)


@pytest.mark.parametrize(
    "raw",
    [
        "\ud800",
        "\udfff\ud800x",
        "\x00" * 10,
        "🙂👍🏽‍👨‍👩‍👧",
        "\u202eevil\u202c",
        "a" * 100_000,
        "a " * 50_000,
    ],
)
def test_awkward_input_does_not_raise(raw: str) -> None:
    normalised = normalise(raw)
    assert len(normalised.offsets) == len(normalised.text) + 1


def _check_invariants(raw: str) -> None:
    normalised = normalise(raw)
    offsets = normalised.offsets
    assert normalised.original == raw
    assert len(offsets) == len(normalised.text) + 1
    assert offsets[-1] == len(raw)
    assert all(0 <= offset <= len(raw) for offset in offsets)
    assert all(a <= b for a, b in itertools.pairwise(offsets))
    size = len(normalised.text)
    for start, end in {(0, size), (0, size // 2), (size // 2, size), (size // 3, 2 * size // 3)}:
        begin, stop = normalised.span(start, end)
        assert 0 <= begin <= stop <= len(raw)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_keeps_the_offset_map_consistent(raw: str) -> None:
    _check_invariants(raw)


_LOOKALIKES = st.sampled_from(list("aeiostdxy 10!$@.-_аеорсухіιοαε\u200b\u0301\u00ad\n"))


@settings(max_examples=300, deadline=None)
@given(st.lists(_LOOKALIKES, max_size=40).map("".join))
def test_adversarial_text_keeps_the_offset_map_consistent(raw: str) -> None:
    _check_invariants(raw)
