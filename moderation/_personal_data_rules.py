"""The patterns and checks behind the personal-data detector, one finder per kind of identifier.

Each finder takes the original text and yields ``(start, end)`` spans into it. Finders may
overlap one another; ``personal_data`` picks among them. Every pattern is anchored by
lookarounds and bounded repeats so that a scan stays roughly linear in the length of the text.

The module is past 450 lines on purpose: the finders share the context and digit-run helpers, and
kept side by side their patterns can be checked against one another for overlaps.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator, Sequence

import phonenumbers

MAX_HITS_PER_KIND = 256
"""Findings of one kind kept per message: a bound on the work a long message makes (a 1 MB message of
phone numbers took 10 s), far above what a chat message holds, and enough to hide it and show why."""

__all__ = [
    "find_addresses",
    "find_bank_accounts",
    "find_cards",
    "find_dates_of_birth",
    "find_emails",
    "find_ibans",
    "find_nhs_numbers",
    "find_ni_numbers",
    "find_passports",
    "find_phones",
    "find_postcodes",
    "is_valid_phone",
    "obfuscated_email_parts",
    "parse_phone",
]

Span = tuple[int, int]

_I = re.IGNORECASE
_AI = re.ASCII | re.IGNORECASE
_DIGIT = re.compile(r"\d")
_SENTENCE_BREAK = re.compile(r"[!?\n\d]|\.\s")


def _window_before(text: str, start: int, size: int) -> str:
    return text[max(0, start - size) : start]


def _has_context(pattern: re.Pattern[str], text: str, start: int, end: int, before: int, after: int) -> bool:
    # The words count only when nothing but a few plain words separates them from the span.
    for match in pattern.finditer(_window_before(text, start, before)):
        if not _SENTENCE_BREAK.search(match.string[match.end() :]):
            return True
    following = text[end : end + after]
    later = pattern.search(following)
    return later is not None and not _SENTENCE_BREAK.search(following[: later.start()])


# --- phone -------------------------------------------------------------------------------------

# Any phone number has seven digits with at most a little punctuation between them; the library is
# only worth its cost when the text has such a run.
_DIGIT_RUN = re.compile(r"\d(?:\W{0,3}\d){6}")
_PHONE_SHAPE = re.compile(
    r"(?<![\w+])(?<!\d[\s.-])(?:(?:\+|00)\s?44\s?(?:\(0\)\s?)?|\(?0)(?:[\s.()-]{0,2}\d){9,10}(?![\s.-]?\d)"
)
_PHONE_CONTEXT = re.compile(
    r"\b(?:numbers?|no|call|text|ring|mobile|mob|phone|tel|telephone|whats\s?app|contact|reach|"
    r"landline|cell|sms|digits"
    # The same words in the learners' languages (issue 15): Polish, Romanian, Spanish, Ukrainian, Arabic,
    # Persian, Sorani, Tigrinya; Chinese words have no word boundary to match on.
    r"|numer\w{0,2}|num[aă]r\w{0,2}|telefon\w{0,3}|n[uú]mero|ll[aá]ma\w{0,3}|celular|m[oó]vil"
    r"|номер\w{0,2}|телефон\w{0,2}|дзвони\w{0,2}|رقم\w{0,2}|هاتف\w{0,2}|اتصل\w{0,2}|شماره|تلفن|موبایل"
    r"|ژمارە|تەلەفۆن|مۆبایل|ቁጽሪ|ስልኪ)\b|电话|號碼|号码|手机|電話",
    _I,
)
_SPOKEN_DIGITS = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0", "one": "1", "two": "2", "three": "3",
    "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_REPEATS = {"double": 2, "triple": 3, "treble": 3}
_SPOKEN_TOKEN = (
    r"(?:(?:double|triple|treble)[\s-]+)?"
    r"(?:zero|oh|o|nought|nil|one|two|three|four|five|six|seven|eight|nine|\d+)\b"
)
_SPOKEN_NUMBER = re.compile(rf"(?<!\w)(?:plus[\s-]+)?{_SPOKEN_TOKEN}(?:[\s,.-]+{_SPOKEN_TOKEN})+", _AI)
_SPOKEN_PART = re.compile(r"(?:(double|triple|treble)[\s-]+)?([a-z]+|\d+)", _AI)


def _spoken_digits(words: str) -> str | None:
    digits: list[str] = []
    has_word = False
    for part in _SPOKEN_PART.finditer(words):
        repeat, token = part.group(1), part.group(2).lower()
        if token == "plus":
            continue
        if token.isdecimal():
            digit = token
        elif token in _SPOKEN_DIGITS:
            has_word = True
            digit = _SPOKEN_DIGITS[token]
        else:
            return None
        digits.append(digit * (_REPEATS[repeat.lower()] if repeat else 1))
    return "".join(digits) if has_word else None


def _is_counting(digits: str) -> bool:
    return all(int(later) - int(earlier) == 1 for earlier, later in itertools.pairwise(digits))


def _spoken_phones(text: str) -> Iterator[Span]:
    for match in _SPOKEN_NUMBER.finditer(text):
        digits = _spoken_digits(match.group())
        if digits is None or _is_counting(digits):
            continue
        if (digits.startswith("0") and 10 <= len(digits) <= 12) or (
            digits.startswith("44") and 11 <= len(digits) <= 13
        ):
            yield match.span()


# Numbers written one after another ("07911 123456 07700 900789") read to the library as one
# number, too long to be valid, so it finds neither: such runs of digit groups are split here.
_GROUP_RUN = re.compile(r"(?<![\w+])\+?\d+(?:[ \t-]\d+){2,}(?![\w])")
_DIGIT_GROUP = re.compile(r"\+?\d+")
_MAX_GROUPS_PER_NUMBER = 5
_MAX_GROUPS_PER_RUN = 24
_PHONE_DIGITS = range(8, 16)  # "0800 1111" to "+44 (0)7911 123456" written with 00 44
_MAX_PARSES = 200  # per text: a page of digit groups must not take seconds


# "+48 (0) 601 234 567": people write the UK's "(0)" into numbers of countries that have no trunk zero.
_TRUNK_ZERO = re.compile(r"[(\[]\s?0\s?[)\]]")


def parse_phone(candidate: str) -> phonenumbers.PhoneNumber | None:
    """The number the text is (UK when it has no + or 00), preferring a valid reading; ``None`` if none."""
    readings = (candidate, _TRUNK_ZERO.sub(" ", candidate))
    first: phonenumbers.PhoneNumber | None = None
    for written in readings[: 1 + (readings[1] != candidate)]:
        try:
            number = phonenumbers.parse(written, "GB")
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
        first = first or number
    return first


def is_valid_phone(candidate: str) -> bool:
    """Whether the text is one valid phone number (UK when it has no + or 00 before a country code)."""
    number = parse_phone(candidate)
    return number is not None and phonenumbers.is_valid_number(number)


class _ParseBudget:
    """The library parses one text may still spend, shared by the checks that try candidates one by one."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def spend(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _numbers_run_together(text: str, budget: _ParseBudget) -> Iterator[Span]:
    for run in _GROUP_RUN.finditer(text):
        groups = [group.span() for group in _DIGIT_GROUP.finditer(run.group())][:_MAX_GROUPS_PER_RUN]
        first = 0
        while first < len(groups):
            for last in range(min(len(groups), first + _MAX_GROUPS_PER_NUMBER), first, -1):
                start, end = groups[first][0], groups[last - 1][1]
                candidate = run.group()[start:end]
                # Written as people write numbers (0..., +44..., 0044...): "12 14 16 18 20" is scores.
                if candidate[0] not in "0+" or len(_DIGIT.findall(candidate)) not in _PHONE_DIGITS:
                    continue
                if not budget.spend():
                    return
                if is_valid_phone(candidate):  # the longest valid number from here
                    yield run.start() + start, run.start() + end
                    first = last
                    break
            else:
                first += 1


# A number that starts with + or 00 (the international prefix of the UK and most of the world) is read
# as international, its groups split by spaces, dots, dashes, slashes or brackets, and ended by anything
# else: "+380.67.123.45.67", "(+33) 6 12 34 56 78", "+48601234567pls". The library's matcher finds most
# of these; this finds the rest: several run together, a "(0)" it does not expect, letters straight after.
_INTERNATIONAL_RUN = re.compile(
    r"(?<!\d)(?<!\d[.,])(?:(?<!\+)\+|(?<![\w+])00)(?:[\s.()\[\]/+\u2013\u2014-]{0,3}\d)+"
)
_INTERNATIONAL_GROUP = re.compile(r"(?P<plus>\+\s?)?(?P<digits>\d+)")
_INTERNATIONAL_DIGITS = range(7, 18)  # "+683 4002" (Niue) to "00" and fifteen digits
_MAX_GROUPS_PER_INTERNATIONAL = 8  # "00 380 (0) 67 123 45 67" and one more
_MAX_GROUPS_PER_INTERNATIONAL_RUN = 64  # a dozen numbers one after another


def _international_numbers(text: str, budget: _ParseBudget) -> Iterator[Span]:
    for run in _INTERNATIONAL_RUN.finditer(text):
        groups = list(
            itertools.islice(_INTERNATIONAL_GROUP.finditer(run.group()), _MAX_GROUPS_PER_INTERNATIONAL_RUN)
        )
        digits_before = list(
            itertools.accumulate((len(group.group("digits")) for group in groups), initial=0)
        )
        first = 0
        while first < len(groups):
            # A second "+" starts another number; so may "00", but "0000" ends many numbers too.
            stop = first + 1
            while stop < min(len(groups), first + _MAX_GROUPS_PER_INTERNATIONAL) and not groups[stop]["plus"]:
                stop += 1
            found = None
            for last in range(stop, first, -1):
                if digits_before[last] - digits_before[first] not in _INTERNATIONAL_DIGITS:
                    continue
                if not budget.spend():
                    return
                start, end = groups[first].start(), groups[last - 1].end()
                if is_valid_phone(run.group()[start:end]):  # the longest valid number from here
                    found = last
                    yield run.start() + start, run.start() + end
                    break
            first = found if found is not None else first + 1
            while first < len(groups) and not (
                groups[first]["plus"] or groups[first]["digits"].startswith("00")
            ):
                first += 1


def _balanced(text: str, start: int, end: int) -> Span:
    # "(+33) 6 12 34 56 78" keeps its bracket; "(+48 601 234 567)" is the number inside its brackets.
    found = text[start:end]
    opened, closed = found.count("(") + found.count("["), found.count(")") + found.count("]")
    if opened > closed and found[0] in "([":
        start += 1
        while start < end and text[start].isspace():
            start += 1
    elif closed > opened and start > 0 and text[start - 1] in "([":
        start -= 1
    return start, end


def _library_and_run_together_numbers(text: str) -> Iterator[Span]:
    budget = _ParseBudget(_MAX_PARSES)
    matcher = phonenumbers.PhoneNumberMatcher(
        text, "GB", leniency=phonenumbers.Leniency.VALID, max_tries=4 * MAX_HITS_PER_KIND
    )
    for found in matcher:
        yield found.start, found.end
    yield from _numbers_run_together(text, budget)
    yield from _international_numbers(text, budget)


def find_phones(text: str) -> Iterator[Span]:
    """Yield valid phone numbers, UK-shaped numbers beside a phone word, and spoken numbers.

    A number written with + or 00 is read as international; any other is read as a UK number.
    """
    if _DIGIT_RUN.search(text):
        spans: list[Span] = []
        try:
            for span in _library_and_run_together_numbers(text):
                spans.append(_balanced(text, *span))
                if len(spans) >= MAX_HITS_PER_KIND:
                    break
        except Exception:  # a library failure must not stop the other checks
            pass
        yield from spans
        for match in _PHONE_SHAPE.finditer(text):
            if not _is_counting("".join(_DIGIT.findall(match.group()))) and _has_context(
                _PHONE_CONTEXT, text, match.start(), match.end(), 40, 25
            ):
                yield match.span()
    yield from _spoken_phones(text)


# --- email -------------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])")
_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
_AT = rf"(?P<at>\s*{_OPEN}\s*(?:at|@)\s*{_CLOSE}\s*|\s+at\s+|\s*@\s*)"
_DOT = rf"(?:\s*{_OPEN}\s*(?:dot|\.)\s*{_CLOSE}\s*|\s+dot\s+|\.)"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# A spelt-out dot may join the parts of a name too: "maria dot lopez at gmail dot com".
_SPOKEN_DOT = rf"(?:\s*{_OPEN}\s*dot\s*{_CLOSE}\s*|\s+dot\s+)"
_LOCAL = rf"[\w.+-]{{1,64}}(?:{_SPOKEN_DOT}[\w.+-]{{1,64}}){{0,3}}"
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![\w.+-])(?P<local>{_LOCAL}){_AT}(?P<domain>{_LABEL}(?:{_DOT}{_LABEL}){{1,4}})(?![\w-])", _I
)
_DOMAIN_LABEL = re.compile(_LABEL)
_DOT_SPLIT = re.compile(_DOT, _I)
_SPOKEN_DOT_SPLIT = re.compile(_SPOKEN_DOT, _I)
_TLDS = frozenset(
    "com co uk org net ac gov nhs io me info edu biz sch police mod ltd plc us ca au nz ie eu de fr es it nl "
    "be pl pt ro in pk ng za tv app dev online email cymru scot wales london".split()
)
_NOT_NAMES = frozenset(
    "look looking looked me us him her them it this that these those here there you home work school college "
    "class least all once first last best be is am are was were meet see stay good great laugh smile point "
    "stare glance aim arrive arrived the a an my your his our their".split()
)


def find_emails(text: str) -> Iterator[Span]:
    """Yield email addresses, plain or lightly obfuscated ("john (at) example (dot) com")."""
    if "@" in text:
        yield from (match.span() for match in _EMAIL.finditer(text))
    for match in _OBFUSCATED_EMAIL.finditer(text):
        labels = _DOMAIN_LABEL.findall(match.group("domain"))
        if labels[-1].lower() not in _TLDS:
            continue
        last_name_part = _SPOKEN_DOT_SPLIT.split(match.group("local"))[-1]
        if match.group("at").strip().lower() == "at" and (
            last_name_part.lower() in _NOT_NAMES or labels[0].lower() in _NOT_NAMES
        ):
            continue
        yield match.span()


def obfuscated_email_parts(found: str) -> tuple[str, list[str]] | None:
    """The local part and domain labels of an address, plain or obfuscated ("ann at scls dot ac dot uk")."""
    match = _OBFUSCATED_EMAIL.fullmatch(found.strip())
    if match is None:
        return None
    local = ".".join(part.strip() for part in _SPOKEN_DOT_SPLIT.split(match.group("local")))
    return local, [label.strip() for label in _DOT_SPLIT.split(match.group("domain"))]


# --- postcode and address ----------------------------------------------------------------------

_POSTCODE = re.compile(
    r"(?<!\w)(?:GIR[ \t]?0AA|"
    r"(?:[A-PR-UWYZ](?:\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRV-Y]))[ \t]?"
    r"(?!(?-i:(?:1st|2nd|3rd|[04-9]th))\b)\d[ABD-HJLNP-UW-Z]{2})(?!\w)",
    _AI,
)


def find_postcodes(text: str) -> Iterator[Span]:
    """Yield full UK postcodes, with or without the space, in any case."""
    yield from (match.span() for match in _POSTCODE.finditer(text))


_SUFFIX = (
    r"(?:road|rd|street|st|avenue|ave|lane|ln|close|drive|dr|way|crescent|cres|grove|place|pl|terrace|tce|"
    r"court|ct|gardens|gdns|walk|hill|park|row|square|sq|mews|view|rise|vale|green|parade|boulevard|mount|"
    r"wharf|fields|meadows|brow|heights|croft|wynd)"
)
_STREET = rf"(?P<name>(?:[^\W\d_][\w'’.-]*\s+){{1,3}})(?P<suffix>{_SUFFIX})(?!\w)"
_FLAT = r"(?:(?:flat|apartment|apt|unit)\.?\s*\d{1,4}[a-z]?\s*,?\s*)"
_HOUSE = r"(?:\d{1,4}[a-z]?(?![\d.,:/])\s*,?\s+)"
_NUMBERED_ADDRESS = re.compile(rf"(?<![\w£$€#.,:/-]){_FLAT}?(?<![\w£$€#.,:/-]){_HOUSE}{_STREET}", _I)
_ADDRESS_CONTEXT = re.compile(
    r"\b(?:(?:lives?|living|staying|stay|moved)\s+(?:at|on|in|to)|address\s*(?:is\s*)?:?|house\s+is\s+(?:at|on|in))"
    rf"\s+(?:the\s+)?(?P<address>{_FLAT}?{_HOUSE}?{_STREET})",
    _I,
)
_NOT_HOUSE_NUMBER = re.compile(
    r"\b(?:pages?|pg|pp?|chapter|ch|rooms?|rm|questions?|q|exercise|ex|section|lesson|week|year|yr|level|"
    r"module|step|table|figure|fig|slide|line|grade|class|group|bus|route|score|platform|gate|"
    r"seat|part|size|age|aged|times|x)\.?\s*$",
    _I,
)
_NOT_STREET_WORDS = frozenset(
    "the a an of in on at to my your his her our their top bottom end near by next up down corner this that "
    "same other just and or off out back over from with for is are was were very big small nice".split()
)


def _is_street_name(name: str, require_capitals: bool) -> bool:
    words = name.split()
    if any(word.lower() in _NOT_STREET_WORDS for word in words):
        return False
    return not require_capitals or all(word[0].isupper() for word in words)


def find_addresses(text: str) -> Iterator[Span]:
    """Yield street addresses: a house number and a capitalised street, or any street after "I live at"."""
    for match in _ADDRESS_CONTEXT.finditer(text):
        if _is_street_name(match.group("name"), require_capitals=False):
            yield match.span("address")
    if not _DIGIT.search(text):
        return
    for match in _NUMBERED_ADDRESS.finditer(text):
        if _is_street_name(match.group("name"), require_capitals=True) and not _NOT_HOUSE_NUMBER.search(
            _window_before(text, match.start(), 20)
        ):
            yield match.span()


# --- national and health identifiers -----------------------------------------------------------

_NI_NUMBER = re.compile(
    r"(?<!\w)(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][ -]?"
    r"\d{2}[ -]?\d{2}[ -]?\d{2}[ -]?[A-D](?!\w)",
    _AI,
)
_NHS_NUMBER = re.compile(r"(?<!\d)(?<!\d[ -])\d{3}(?P<sep>[ -]?)\d{3}(?P=sep)\d{4}(?![ -]?\d)")
_NHS_WEIGHTS = range(10, 1, -1)


def find_ni_numbers(text: str) -> Iterator[Span]:
    """Yield National Insurance numbers with a valid prefix and an A to D suffix."""
    yield from (match.span() for match in _NI_NUMBER.finditer(text))


def _passes_nhs_check(digits: str) -> bool:
    total = sum(int(digit) * weight for digit, weight in zip(digits, _NHS_WEIGHTS, strict=False))
    check = 11 - total % 11
    return check != 10 and check % 11 == int(digits[9])


def find_nhs_numbers(text: str) -> Iterator[Span]:
    """Yield ten-digit numbers that pass the NHS modulus-11 check."""
    for match in _NHS_NUMBER.finditer(text):
        digits = "".join(_DIGIT.findall(match.group()))
        if _passes_nhs_check(digits) and not _is_counting(digits):
            yield match.span()


_PASSPORT = re.compile(r"\bpassport\b[^\n!?]{0,30}?(?<!\w)(?P<number>\d{9}|[A-Z]{1,2}\d{6,8})(?!\w)", _AI)


def find_passports(text: str) -> Iterator[Span]:
    """Yield passport numbers written a few words after "passport"."""
    yield from (match.span("number") for match in _PASSPORT.finditer(text))


# --- money -------------------------------------------------------------------------------------

# Card numbers are 12 to 19 digits, run together or in the groups printed on cards: fours (the last
# shorter), or 4-6-4 and 4-6-5 (Diners, Amex). A group after a card may be its expiry or CVV.
_CARD = re.compile(
    r"(?<!\d)(?<!\d[ .,-])(?:\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?:(?P=sep)\d{1,4}(?:(?P=sep)\d{1,4})?)?"
    r"|\d{4}(?P<wide>[ -])\d{6}(?P=wide)\d{4,5}|\d{12,19})(?![ -]?\d)"
)
_CARD_GROUP = re.compile(r"\d+")
# Issuer prefixes, from the lowest to the highest prefix of one length, and the lengths each issues.
_ANY_LENGTH, _LONG = range(12, 20), range(16, 20)
_CARD_SCHEMES: tuple[tuple[str, str, Sequence[int]], ...] = (
    ("4", "4", (13, 16, 19)),  # Visa
    ("51", "55", (16,)),  # Mastercard
    ("2221", "2720", (16,)),  # Mastercard 2-series
    ("34", "34", (15,)),  # American Express
    ("37", "37", (15,)),
    ("6011", "6011", _LONG),  # Discover
    ("644", "649", _LONG),
    ("65", "65", _LONG),
    ("3528", "3589", _LONG),  # JCB
    ("300", "305", range(14, 20)),  # Diners Club
    ("3095", "3095", range(14, 20)),
    ("36", "36", range(14, 20)),
    ("38", "39", range(14, 20)),
    ("50", "50", _ANY_LENGTH),  # Maestro (and Verve, RuPay, Elo in these ranges)
    ("56", "69", _ANY_LENGTH),
    ("62", "62", _LONG),  # UnionPay
    ("81", "82", _LONG),  # UnionPay and RuPay
    ("2200", "2204", _LONG),  # Mir
)
_USUAL_CARD_LENGTHS = (15, 16)
_CARD_CONTEXT = re.compile(
    r"\b(?:cards?|credit|debit|visa|master\s?card|amex|american\s+express|maestro|"
    r"discover|jcb|diners(?:\s+club)?|union\s?pay|cvv2?|cvc2?|cv2|csc|security\s+code|exp(?:iry|ires)?|"
    r"valid\s+(?:thru|through|until|to)|long\s+number)\b",
    _I,
)


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _has_issuer_prefix(digits: str) -> bool:
    return any(
        len(digits) in lengths and low <= digits[: len(low)] <= high for low, high, lengths in _CARD_SCHEMES
    )


def _card_candidates(match: re.Match[str]) -> Iterator[Span]:
    yield match.span()
    groups = [group.span() for group in _CARD_GROUP.finditer(match.group())]
    if len(groups) >= 4:  # the number without the short group after it
        yield match.start(), match.start() + groups[-2][1]


def find_cards(text: str) -> Iterator[Span]:
    """Yield payment card numbers of a real scheme and length that pass the Luhn check.

    A number of an unusual length (12 to 14, 17 to 19 digits) must be grouped as on a card or
    be near a word such as "card", "visa" or "expiry"; ordinary digit runs are neither.
    """
    for match in _CARD.finditer(text):
        for start, end in _card_candidates(match):
            found = text[start:end]
            digits = "".join(str(int(digit)) for digit in _DIGIT.findall(found))
            if not (_has_issuer_prefix(digits) and _passes_luhn(digits)):
                continue
            if (
                len(digits) in _USUAL_CARD_LENGTHS
                or not found.isdecimal()
                or _has_context(_CARD_CONTEXT, text, start, end, 40, 25)
            ):
                yield start, end
            break


# A sort code may touch an account number but not another group of one or two digits, and an
# account number may touch a sort code but not another long group, so neither is cut from a longer run.
_SORT_CODE = re.compile(
    r"(?<![\d/.:])(?<!(?<!\d)\d[ -])(?<!(?<!\d)\d\d[ -])\d{2}(?P<sep>[ -]?)\d{2}(?P=sep)\d{2}"
    r"(?!\d|(?P=sep)\d{1,2}(?!\d)|[/.:]\d)"
)
_ACCOUNT_NUMBER = re.compile(
    r"(?<![\d/.:£$€#])(?<!\d\d\d[ -])(?:\d{8}|\d{4}[ -]\d{4})(?!\d|[ -]\d{3}|[/.:]\d)"
)
_SORT_CODE_CONTEXT = re.compile(r"\b(?:sort\s*code|s/c)\b", _I)
_ACCOUNT_CONTEXT = re.compile(
    r"(?:\baccount\s*(?:number|no|num)?|\bacc(?:t)?\s*(?:no|number|num)|\ba/c)\b|\bbank\s+details\b", _I
)
_PAIR_GAP = re.compile(r"\D{0,40}")


def _accounts_beside(code: Span, accounts: list[Span], starts: list[int], text: str) -> Iterator[Span]:
    # Only accounts that start within the gap's reach can pair, which keeps long texts linear.
    low = bisect.bisect_left(starts, code[0] - 60)
    high = bisect.bisect_right(starts, code[1] + 41)
    for account in accounts[low:high]:
        first, second = (code, account) if account[0] >= code[1] else (account, code)
        if second[0] >= first[1] and _PAIR_GAP.fullmatch(text, first[1], second[0]):
            yield first[0], second[1]


def find_bank_accounts(text: str) -> Iterator[Span]:
    """Yield a sort code with an account number, or either one after words like "sort code"."""
    if not _DIGIT.search(text):
        return
    sort_codes = [match.span() for match in _SORT_CODE.finditer(text)]
    accounts = [match.span() for match in _ACCOUNT_NUMBER.finditer(text)]
    starts = [account[0] for account in accounts]
    for code in sort_codes:
        is_separated = not text[code[0] : code[1]].isdecimal()
        for pair in _accounts_beside(code, accounts, starts, text):
            if is_separated or _has_context(_SORT_CODE_CONTEXT, text, *pair, 40, 0):
                yield pair
        if _has_context(_SORT_CODE_CONTEXT, text, *code, 30, 0):
            yield code
    for account in accounts:
        if _has_context(_ACCOUNT_CONTEXT, text, *account, 30, 0):
            yield account


_IBAN = re.compile(r"(?<!\w)[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{1,4}){3,8})(?!\w)", _AI)


def _passes_mod97(iban: str) -> bool:
    if not (iban.isascii() and iban.isalnum() and 15 <= len(iban) <= 34):
        return False
    rearranged = (iban[4:] + iban[:4]).upper()
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def find_ibans(text: str) -> Iterator[Span]:
    """Yield IBANs of any country that pass the mod-97 check, trimming words caught after them."""
    for match in _IBAN.finditer(text):
        candidate = match.group()
        while True:
            if _passes_mod97(candidate.replace(" ", "")):
                yield match.start(), match.start() + len(candidate)
                break
            cut = candidate.rfind(" ")
            if cut < 0:
                break
            candidate = candidate[:cut]


# --- date of birth -----------------------------------------------------------------------------

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])(?:st|nd|rd|th)?"
_DATE = re.compile(
    rf"(?<![\w/.-])(?:(?P<a>\d{{1,2}})(?P<s>[/.-])(?P<b>\d{{1,2}})(?P=s)(?:\d{{4}}|\d{{2}})"
    rf"|\d{{4}}(?P<t>[/.-])(?P<m>\d{{1,2}})(?P=t)(?P<d>\d{{1,2}})"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?|{_MONTH}\s+{_DAY}(?:,?\s+\d{{4}})?)(?![\w/-]|\.\d)",
    _I,
)
_BIRTH_CONTEXT = re.compile(
    r"\b(?:born|dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date|(?:my|his|her|their|\w+'s)\s+(?:birthday|b-?day)|"
    r"(?:birthday|b-?day)\s*(?:is|was|:))",
    _I,
)


def _is_plausible_date(match: re.Match[str]) -> bool:
    if match.group("a") is not None:
        first, second = int(match.group("a")), int(match.group("b"))
        return 1 <= min(first, second) and (first <= 12 or second <= 12) and max(first, second) <= 31
    if match.group("m") is not None:
        return 1 <= int(match.group("m")) <= 12 and 1 <= int(match.group("d")) <= 31
    return True


def find_dates_of_birth(text: str) -> Iterator[Span]:
    """Yield dates written next to words such as "born", "DOB" or "my birthday is"."""
    for match in _DATE.finditer(text):
        if _is_plausible_date(match) and _has_context(_BIRTH_CONTEXT, text, *match.span(), 40, 25):
            yield match.span()
