"""The policy's phrase detectors: patterns from the policy file over normalised text."""

from __future__ import annotations

from moderation.normalise import NormalisedText
from moderation.policy import Policy
from moderation.types import Evidence, Role

__all__ = ["SOURCE", "find_phrases"]

SOURCE = "phrases"
_SENTENCE_ENDS = (".", "!", "?", "\n", ";")


def find_phrases(normalised: NormalisedText, policy: Policy, role: Role) -> list[Evidence]:
    """Run every detector that applies to this role; spans point into the original text.

    A match that overlaps one of the policy's idioms ("this formula is killing me") is ignored,
    and a detector whose ``unless`` pattern matches anywhere in the message (e.g. the message is
    about a history lesson) finds nothing.
    """
    text = normalised.text
    if not text:
        return []
    idiom_spans = [match.span() for match in policy.idioms.finditer(text)] if policy.idioms else []
    found: list[Evidence] = []
    for rule in policy.detectors:
        if not rule.applies_to.includes(role):
            continue
        matches = [match for match in rule.pattern.finditer(text) if match.end() > match.start()]
        if not matches:
            continue
        if rule.unless is not None and rule.unless_in_message and rule.unless.search(text):
            continue
        for match in matches:
            if any(_overlaps(match.span(), idiom) for idiom in idiom_spans):
                continue
            if rule.unless is not None and not rule.unless_in_message:
                start, end = _sentence(text, match.start(), match.end())
                if rule.unless.search(text, start, end):
                    continue
            start, end = normalised.span(match.start(), match.end())
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
    before = max(text.rfind(mark, 0, start) for mark in _SENTENCE_ENDS)
    after = [position for mark in _SENTENCE_ENDS if (position := text.find(mark, end)) != -1]
    return before + 1, min(after) if after else len(text)


def _overlaps(first: tuple[int, int], second: tuple[int, int]) -> bool:
    return first[0] < second[1] and second[0] < first[1]
