"""Find and mask personal data in chat text: phone numbers, emails, addresses, cards and UK identifiers.

The detector is UK-first and pure: a phone number written with + or 00 is read as international and
any other as a UK one; the same text always gives the same hits, nothing is read or written, no input
makes it raise, and caps on library calls bound the time a long text takes. Spans are character
offsets into the text passed in.

The detector sits beside ``normalise`` and ``patterns``, not among the scorers: the engine scores with
it, the bot masks stored and shown text with it, and the policy recognises its published contacts
with it, while the scorers read the policy. Kept here, the policy depends on no scorer
(``tests/test_layering.py``).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import phonenumbers

from moderation import _personal_data_rules as rules

__all__ = [
    "PERSONAL_DATA_KINDS",
    "PersonalDataHit",
    "contact_key",
    "contact_keys",
    "find_personal_data",
    "is_valid_phone",
    "mask_personal_data",
]

PERSONAL_DATA_KINDS: tuple[str, ...] = (
    "phone",
    "email",
    "postcode",
    "address",
    "ni_number",
    "nhs_number",
    "card",
    "bank_account",
    "iban",
    "date_of_birth",
    "passport",
)


@dataclass(frozen=True, slots=True)
class PersonalDataHit:
    """One piece of personal data: its kind (one of ``PERSONAL_DATA_KINDS``) and its span in the text."""

    kind: str
    start: int
    end: int


# Listed from the most to the least specific: on a tie in length the earlier kind wins.
_FINDERS: tuple[tuple[str, Callable[[str], Iterator[rules.Span]]], ...] = (
    ("iban", rules.find_ibans),
    ("card", rules.find_cards),
    ("nhs_number", rules.find_nhs_numbers),
    ("ni_number", rules.find_ni_numbers),
    ("passport", rules.find_passports),
    ("bank_account", rules.find_bank_accounts),
    ("date_of_birth", rules.find_dates_of_birth),
    ("email", rules.find_emails),
    ("postcode", rules.find_postcodes),
    ("phone", rules.find_phones),
    ("address", rules.find_addresses),
)
_RANK = {kind: rank for rank, (kind, _) in enumerate(_FINDERS)}


def _candidates(text: str) -> Iterator[PersonalDataHit]:
    for kind, finder in _FINDERS:
        for start, end in itertools.islice(finder(text), rules.MAX_HITS_PER_KIND):
            yield PersonalDataHit(kind, start, end)


def _without_overlaps(hits: Iterable[PersonalDataHit]) -> list[PersonalDataHit]:
    kept: list[PersonalDataHit] = []
    starts: list[int] = []
    for hit in sorted(set(hits), key=lambda hit: (hit.start - hit.end, _RANK.get(hit.kind, 0), hit.start)):
        index = bisect.bisect_right(starts, hit.start)
        if index > 0 and kept[index - 1].end > hit.start:
            continue
        if index < len(kept) and kept[index].start < hit.end:
            continue
        kept.insert(index, hit)
        starts.insert(index, hit.start)
    return kept


def find_personal_data(text: str) -> list[PersonalDataHit]:
    """Find the personal data in a message.

    Where two findings overlap, the longer one is kept, and on a tie the more specific kind.

    Args:
        text: The message text, as received.

    Returns:
        The hits, sorted by start and never overlapping.

    """
    return _without_overlaps(_candidates(text))


_CONTACT_KINDS = ("phone", "email")


def contact_key(kind: str, found: str) -> str | None:
    """One key for every way of writing one phone number or email address, to recognise published ones.

    "0121 496 0000", "+44 (0)121 4960000" and "01214960000" give one key; so do "Enquiries@SCLS.ac.uk"
    and "enquiries (at) scls (dot) ac (dot) uk".

    Args:
        kind: ``"phone"`` or ``"email"``; any other kind has no key.
        found: the text of the detail.

    Returns:
        ``"<kind>:<canonical form>"``, or ``None`` when the text is not one such detail as a whole:
        a number that does not parse or has an extension ("0800 1111 ext 07911 123456" is not
        Childline), text that is not one address.

    """
    if kind == "phone":
        number = rules.parse_phone(found)
        if number is None or number.extension:
            return None
        return f"phone:{phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)}"
    if kind == "email":
        parts = rules.obfuscated_email_parts(found)
        if parts is None:
            return None
        local, labels = parts
        return f"email:{local}@{'.'.join(labels)}".casefold()
    return None


def contact_keys(found: str) -> set[str]:
    """The keys this text has as a phone number and as an email address (see :func:`contact_key`).

    Both are tried whatever a detector took the text for: "0800 1111" after the word "account"
    is found as a bank account, and is still Childline's number.
    """
    return {key for kind in _CONTACT_KINDS if (key := contact_key(kind, found)) is not None}


is_valid_phone = rules.is_valid_phone


def mask_personal_data(text: str, hits: Sequence[PersonalDataHit] | None = None) -> str:
    """Replace each piece of personal data with a marker such as ``[phone removed]``.

    Args:
        text: The message text, as received.
        hits: Hits found in ``text`` earlier; found afresh when ``None``. Spans outside the text
            are clipped to it, and a hit that overlaps an earlier one is skipped.

    Returns:
        The text with every hit replaced by ``[<kind> removed]``.

    """
    if hits is None:
        hits = find_personal_data(text)
    pieces: list[str] = []
    position = 0
    for hit in sorted(hits, key=lambda hit: (hit.start, hit.end)):
        start, end = max(hit.start, 0), min(hit.end, len(text))
        if start < position or start >= end:
            continue
        pieces.append(text[position:start])
        pieces.append(f"[{hit.kind} removed]")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
