"""The policy model: the service's rules once loaded, as frozen values the engine reads.

Nothing here reads a file: :mod:`moderation.policy.loading` builds a :class:`Policy` from one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from moderation.patterns import Pattern
from moderation.personal_data import contact_keys
from moderation.types import ActionKind, Category, Role, Route

__all__ = ["Audience", "CategoryRule", "Clause", "DetectorRule", "Policy"]


class Audience(StrEnum):
    """Who a clause or a detector applies to."""

    EVERYONE = "everyone"
    LEARNERS = "learners"
    STAFF = "staff"

    def includes(self, role: Role) -> bool:
        """Whether someone with this role is bound by it."""
        if self is Audience.EVERYONE:
            return True
        return role.is_staff == (self is Audience.STAFF)


@dataclass(frozen=True, slots=True)
class Clause:
    """One clause of the source policy."""

    id: str
    title: str
    wording: str
    applies_to: Audience
    categories: tuple[Category, ...]
    is_enforced: bool
    not_enforced_reason: str | None
    reminder: str | None
    staff_reminder: str | None = None

    def reminder_for(self, role: Role) -> str | None:
        """The reminder this author gets: the staff wording where there is one and the author is staff."""
        if role.is_staff and self.staff_reminder:
            return self.staff_reminder
        return self.reminder


@dataclass(frozen=True, slots=True)
class CategoryRule:
    """How a category is judged: the score that flags it and what each breach leads to.

    ``ladder[n]`` holds the actions for an author with ``n`` earlier breaches in this category
    that have not lapsed (the last step repeats).
    """

    category: Category
    threshold: float
    ladder: tuple[tuple[ActionKind, ...], ...]
    route: Route
    head_precision: float | None = None
    """The trained head's target: of the messages it flags, at least this share truly breach."""
    head_false_positive_rate: float | None = None
    """The trained head's target: at most this share of ordinary messages flagged."""

    def step(self, earlier_breaches: int) -> tuple[ActionKind, ...]:
        """The actions for an author with this many earlier breaches in the category."""
        return self.ladder[min(earlier_breaches, len(self.ladder) - 1)]


@dataclass(frozen=True, slots=True)
class DetectorRule:
    """A phrase detector: patterns over normalised text that score one category.

    ``unless`` suppresses a match when it matches in the same sentence (or anywhere in the
    message, when ``unless_in_message``): "we studied how propaganda radicalised people".
    """

    id: str
    category: Category
    score: float
    applies_to: Audience
    pattern: Pattern
    unless: Pattern | None
    clause_id: str | None = None
    unless_in_message: bool = False


@dataclass(frozen=True, slots=True)
class Policy:
    """A loaded, validated policy, ready for the engine."""

    id: str
    name: str
    version: str
    source: str
    clauses: tuple[Clause, ...]
    categories: Mapping[Category, CategoryRule]
    model_labels: Mapping[str, Category]
    detectors: tuple[DetectorRule, ...]
    idioms: Pattern | None
    strike_lifetime_days: int
    support_message: str
    scorer_failure_reminder: str | None
    # The service's own published contacts (``contact_key`` form): not a learner's personal data.
    public_contacts: frozenset[str] = frozenset()

    def is_public_contact(self, found: str) -> bool:
        """Whether this text is one of the published phone numbers or addresses, however it is written."""
        return bool(self.public_contacts) and not self.public_contacts.isdisjoint(contact_keys(found))

    def clauses_for(self, category: Category, role: Role) -> tuple[Clause, ...]:
        """The enforced clauses that this category breaches for someone with this role."""
        return tuple(
            clause
            for clause in self.clauses
            if clause.is_enforced and category in clause.categories and clause.applies_to.includes(role)
        )

    def detector(self, detector_id: str) -> DetectorRule | None:
        """The phrase detector with this id, if there is one."""
        for rule in self.detectors:
            if rule.id == detector_id:
                return rule
        return None

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id.

        Raises:
            KeyError: no clause has this id.
        """
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)
