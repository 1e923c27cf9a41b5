"""What staff may decide about a case, and what each decision does to the person who wrote it.

Each rule once, used by every path that decides (a chat button, the command line, the console):

* :func:`case_kind`: a learner disclosing harm, a concern about a member of staff, or conduct.
* :func:`offered_verbs`: the decisions a case's card offers. A disclosure is never met with a
  sanction: its card offers what a safeguarding officer does with one (acknowledge, hide the message
  if it exposes the learner, record an action taken, refer on, no concern), and so does any case
  routed to the officer. A press of any other verb on such a case is refused, whoever forged it.
* :func:`closing_status`: the status a decision closes a case with (``None``: it stays open).
* :func:`reroute_for`: where a decision sends a case instead of closing it: moderators refer a
  conduct case to the officer (it stays open and climbs the rota like a disclosure), and the officer's
  "no concern" on a conduct case hands it back to the moderators, who decide the conduct.
* :func:`strike_for`: the strike a formal warning records, and never one for a message that
  discloses harm.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from moderation.policy import Policy
from moderation.types import Category, Role, Route, Strike

__all__ = [
    "APPEAL_VERBS",
    "HANDED_BACK",
    "OFFICER_VERBS",
    "OVERTURNED",
    "CaseKind",
    "Verb",
    "appeal_status",
    "case_kind",
    "closing_status",
    "is_officers_decision",
    "is_officers_only",
    "is_sanction",
    "offered_verbs",
    "reroute_for",
    "strike_for",
]


class Verb(StrEnum):
    """A decision staff can take on a case; the value travels in a card button's data."""

    # Moderators, on conduct.
    UPHOLD = "uphold"
    RESTORE = "restore"
    WARN = "warn"
    MUTE_1H = "mute1h"
    MUTE_24H = "mute24h"
    REMOVE = "remove"
    REFER = "refer"
    # The safeguarding officer, on a disclosure or a concern about staff.
    ACKNOWLEDGE = "ack"
    HIDE = "hide"
    ACTION_TAKEN = "actioned"
    REFER_ON = "referon"
    NO_CONCERN = "noconcern"
    # Whoever reviews the case, on its author's appeal.
    GRANT = "grant"
    DENY = "deny"


class CaseKind(StrEnum):
    """What a case is about, which decides who reviews it and what they may do."""

    CONDUCT = "conduct"
    DISCLOSURE = "disclosure"
    STAFF_CONDUCT = "staff_conduct"


_SANCTIONS = frozenset({Verb.WARN, Verb.MUTE_1H, Verb.MUTE_24H, Verb.REMOVE})
_CONDUCT = (Verb.UPHOLD, Verb.RESTORE, Verb.WARN, Verb.MUTE_1H, Verb.MUTE_24H, Verb.REMOVE, Verb.REFER)
OFFICER_VERBS = (Verb.ACKNOWLEDGE, Verb.HIDE, Verb.ACTION_TAKEN, Verb.REFER_ON, Verb.NO_CONCERN)
"""What the safeguarding officer's card offers; the first of them an officer presses answers the case."""
_OFFICER = OFFICER_VERBS
APPEAL_VERBS = (Verb.GRANT, Verb.DENY)
"""The decisions an appeal card offers."""

_CLOSES = {
    Verb.UPHOLD: "upheld",
    Verb.RESTORE: "restored",
    Verb.WARN: "warned",
    Verb.MUTE_1H: "muted",
    Verb.MUTE_24H: "muted",
    Verb.REMOVE: "removed",
    Verb.ACTION_TAKEN: "actioned",
    Verb.REFER_ON: "referred_on",
    Verb.NO_CONCERN: "no_concern",
}

OVERTURNED = frozenset({"restored", "no_concern"})
"""Statuses of cases whose decision staff overturned: they count as no breach and carry no strike."""

HANDED_BACK = "handback"
"""The action logged when the officer finds no concern in a conduct case and hands it to the moderators."""


def case_kind(flagged: Sequence[Category]) -> CaseKind:
    """A disclosure whenever safeguarding is flagged (whatever else is), then staff conduct, else conduct."""
    if Category.SAFEGUARDING in flagged:
        return CaseKind.DISCLOSURE
    if Category.STAFF_CONDUCT in flagged:
        return CaseKind.STAFF_CONDUCT
    return CaseKind.CONDUCT


def is_officers_decision(flagged: Sequence[Category], route: Route | None) -> bool:
    """Whether the safeguarding officer decides it: a disclosure, staff conduct, anything routed to them."""
    return case_kind(flagged) is not CaseKind.CONDUCT or route is Route.SAFEGUARDING


def is_officers_only(flagged: Sequence[Category], route: Route | None, status: str = "open") -> bool:
    """Whether only safeguarding officers may see a case.

    The officer's cases (:func:`is_officers_decision`), and a case moderators referred under the
    earlier rule that closed it as ``referred``.
    """
    return is_officers_decision(flagged, route) or status == "referred"


def offered_verbs(
    flagged: Sequence[Category],
    route: Route | None,
    *,
    is_hidden: bool,
    is_acknowledged: bool = False,
    was_handed_back: bool = False,
) -> tuple[Verb, ...]:
    """The decisions a case's card offers, in the order its buttons show.

    Args:
        flagged: the case's flagged categories.
        route: whose case it is now (``None``: the moderators').
        is_hidden: the message is no longer in the group (hidden by the bot or by staff): nothing to
            hide, and (on conduct) something to restore.
        is_acknowledged: the safeguarding officer has acknowledged the case.
        was_handed_back: the officer found no concern in it after a referral: the moderators decide it
            and it is not referred again.
    """
    if not is_officers_decision(flagged, route):
        return tuple(
            verb
            for verb in _CONDUCT
            if (verb is not Verb.RESTORE or is_hidden) and (verb is not Verb.REFER or not was_handed_back)
        )
    return tuple(
        verb
        for verb in _OFFICER
        if not (verb is Verb.ACKNOWLEDGE and is_acknowledged) and not (verb is Verb.HIDE and is_hidden)
    )


def is_sanction(verb: Verb) -> bool:
    """Whether the decision punishes the author (a warning, a mute, a removal)."""
    return verb in _SANCTIONS


def closing_status(verb: Verb) -> str | None:
    """The status the decision closes the case with; ``None`` for one that leaves it open."""
    return _CLOSES.get(verb)


def reroute_for(verb: Verb, flagged: Sequence[Category]) -> Route | None:
    """Where the decision sends an open case instead of closing it; ``None`` for one that does not.

    Moderators' Refer sends a conduct case to the safeguarding officer, open, to be acknowledged and
    decided there. The officer's No concern on a conduct case (referred, or routed to the officer by
    the policy) sends it back to the moderators: no safeguarding concern says nothing about the
    conduct, so it neither closes the case nor lifts its breach.
    """
    if verb is Verb.REFER:
        return Route.SAFEGUARDING
    if verb is Verb.NO_CONCERN and case_kind(flagged) is CaseKind.CONDUCT:
        return Route.MODERATORS
    return None


def appeal_status(verb: Verb) -> str:
    """What a decision on a case makes of an appeal open against it: granted by a restore, else denied."""
    return "granted" if verb in (Verb.GRANT, Verb.RESTORE, Verb.NO_CONCERN) else "denied"


def strike_for(
    flagged: Sequence[Category], clauses: Sequence[str], role: Role, policy: Policy, at: datetime
) -> Strike | None:
    """The strike a formal warning records; ``None`` for a message that discloses harm.

    It is recorded under the first flagged category (civility for a case held for review, where
    nothing was flagged) and the first cited clause that covers that category for the author's role.
    """
    if Category.SAFEGUARDING in flagged:
        return None
    category = next(iter(flagged), Category.CIVILITY)
    covering = {clause.id for clause in policy.clauses_for(category, role)}
    clause_id = next((clause for clause in clauses if clause in covering), next(iter(clauses), "?"))
    return Strike(category, clause_id, at)
