"""The policy's phrase detectors: patterns from the policy file over normalised text."""

from __future__ import annotations

import bisect

from moderation.normalise import NormalisedText
from moderation.policy import Policy
from moderation.types import Evidence, Role

__all__ = ["SOURCE", "find_phrases"]

SOURCE = "phrases"
MAX_MATCHES = 32
"""Matches kept per detector and message: enough evidence, and a bound on the work a long message makes."""
_MAX_IDIOMS = 4096
_SENTENCE_ENDS = (".", "!", "?", "\n", ";")
_SENTENCE_REACH = 1000
"""How far a sentence reaches either side of a match, so text without full stops costs no more."""


def find_phrases(normalised: NormalisedText, policy: Policy, role: Role) -> list[Evidence]:
    """Run every detector that applies to this role; spans point into the original text.

    A match that overlaps one of the policy's idioms ("this formula is killing me") is ignored,
    and a detector whose ``unless`` pattern matches anywhere in the message (e.g. the message is
    about a history lesson) finds nothing.
    """
    text = normalised.text
    if not text:
        return []
    idiom_spans = list(policy.idioms.spans(text, limit=_MAX_IDIOMS)) if policy.idioms else []
    found: list[Evidence] = []
    for rule in policy.detectors:
        if not rule.applies_to.includes(role):
            continue
        matches = list(rule.pattern.spans(text, limit=MAX_MATCHES))
        if not matches:
            continue
        if rule.unless is not None and rule.unless_in_message and rule.unless.search(text):
            continue
        for match in matches:
            if _in_idiom(match, idiom_spans):
                continue
            if rule.unless is not None and not rule.unless_in_message:
                start, end = _sentence(text, *match)
                if rule.unless.search(text[start:end]):
                    continue
            start, end = normalised.span(*match)
            found.append(
                Evidence(
                    category=rule.category,
                    kind=rule.id,
                    source=SOURCE,
                    score=rule.score,
                    start=start,
                    end=end,
                )
            )
    return found


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The sentence around a match: from the last full stop, question mark or line break before it."""
    floor, ceiling = max(0, start - _SENTENCE_REACH), min(len(text), end + _SENTENCE_REACH)
    before = max(max(text.rfind(mark, floor, start) for mark in _SENTENCE_ENDS) + 1, floor)
    after = [position for mark in _SENTENCE_ENDS if (position := text.find(mark, end, ceiling)) != -1]
    return before, min(after, default=ceiling)


def _in_idiom(match: tuple[int, int], idioms: list[tuple[int, int]]) -> bool:
    """Whether a match overlaps an idiom; ``idioms`` are RE2's matches, so sorted and disjoint."""
    last = bisect.bisect_left(idioms, (match[1], 0)) - 1  # the last idiom starting before the match ends
    return last >= 0 and idioms[last][1] > match[0]
