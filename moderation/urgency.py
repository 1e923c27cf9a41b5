"""How urgent a safeguarding case is: immediate, high or a concern, by the policy file's rules.

The detectors name what kind of disclosure it is (the heads' sub-kinds such as ``overdose`` or
``domestic_abuse``, the phrase detectors' ids such as ``self_harm``); the policy's ``urgency`` rules, in
order, turn a kind, and where a rule says so a cue in the words ("tonight", "right now", "my kids"), into a
level. The first rule that matches wins; a disclosure no rule matches is a concern. Urgency only decides how
fast a person is found: every disclosure goes to the safeguarding officer, and none is punished.
"""

from __future__ import annotations

from collections.abc import Iterable

from moderation.normalise import normalise
from moderation.policy import Policy
from moderation.types import Category, Evidence, Urgency

__all__ = ["urgency_of"]


def urgency_of(policy: Policy, evidence: Iterable[Evidence], text: str) -> Urgency:
    """The level of a safeguarding case from its evidence's kinds and its text."""
    kinds = {item.kind for item in evidence if item.category is Category.SAFEGUARDING}
    normalised: str | None = None
    for rule in policy.urgency:
        if rule.kinds.isdisjoint(kinds):
            continue
        if rule.when is None:
            return rule.level
        if normalised is None:
            normalised = normalise(text).text
        if rule.when.search(normalised):
            return rule.level
    return Urgency.CONCERN
