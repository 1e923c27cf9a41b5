"""The policy model: the service's rules once loaded, as frozen values the engine reads.

Nothing here reads a file: :mod:`moderation.policy.loading` builds a :class:`Policy` from one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from moderation.patterns import Pattern
from moderation.personal_data import contact_keys
from moderation.service_hours import ServiceHours
from moderation.types import ActionKind, Category, Role, Route, Urgency

__all__ = [
    "GROUP_TUNABLE",
    "Audience",
    "CategoryRule",
    "Clause",
    "DetectorRule",
    "Policy",
    "Translation",
    "UrgencyRule",
]


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
class UrgencyRule:
    """A disclosure of one of ``kinds`` is ``level`` when ``when`` matches its normalised text.

    ``kinds`` are the heads' sub-kinds and the phrase detectors' ids; without ``when`` the kind is enough.
    """

    level: Urgency
    kinds: frozenset[str]
    when: Pattern | None = None


@dataclass(frozen=True, slots=True)
class Translation:
    """The policy's learner-facing texts in one language (spaces folded); absent ones are English."""

    reviewed: bool
    support_message: str | None = None
    scorer_failure_reminder: str | None = None
    reminders: Mapping[str, str] = field(default_factory=dict)
    staff_reminders: Mapping[str, str] = field(default_factory=dict)
    support: Mapping[str, str] = field(default_factory=dict)
    """The support messages by ``<urgency>:<in_hours|out_of_hours>``."""


GROUP_TUNABLE = frozenset(Category) - {Category.SAFEGUARDING, Category.STAFF_CONDUCT}
"""Categories a group may have its own threshold for: never a disclosure's or a concern about staff."""


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
    translations: Mapping[str, Translation] = field(default_factory=dict)
    urgency: tuple[UrgencyRule, ...] = ()
    threshold_overrides: Mapping[Category, float] = field(default_factory=dict)
    """One group's own thresholds (set in the console), which take precedence over every other; never
    safeguarding's (see :data:`GROUP_TUNABLE`)."""
    new_group_mode: str = "enforce"
    """``enforce``, or ``shadow`` (decisions recorded, nothing done to learners) for a new group."""
    """How urgent a disclosure is: the first rule that matches; none matching is a concern."""
    service_hours: ServiceHours | None = None
    """When the safeguarding team is at work; ``None``: the support message does not depend on the hour."""
    helplines: Mapping[str, str] = field(default_factory=dict)
    """Numbers the support messages give, by name (``samaritans``: ``116 123``)."""
    support: Mapping[str, str] = field(default_factory=dict)
    """The support messages by ``<urgency>:<in_hours|out_of_hours>``; ``support_message`` where absent."""

    def for_group(self, overrides: Mapping[Category, float]) -> Policy:
        """The policy with one group's own thresholds (any for safeguarding or staff conduct ignored)."""
        kept = {category: value for category, value in overrides.items() if category in GROUP_TUNABLE}
        return replace(self, threshold_overrides=kept) if kept else self

    def threshold_for(self, category: Category, own: float | None = None) -> float:
        """The score that flags a category: the group's, else the evidence's ``own``, else the policy's."""
        if category in self.threshold_overrides:
            return self.threshold_overrides[category]
        return own if own is not None else self.categories[category].threshold

    def support_key(self, urgency: Urgency | None, now: datetime) -> str:
        """The reminder part for a disclosure's support message at ``now``: by urgency and the hours."""
        if urgency is None or self.service_hours is None:
            return "support"
        # "In hours" only while the team is at work now and still will be in an hour: at 16:59 on a Friday
        # "we will contact you today" would not be true.
        hours = "in_hours" if self.service_hours.is_answering(now) else "out_of_hours"
        key = f"{urgency.value}:{hours}"
        return f"support:{key}" if key in self.support else "support"

    """The learner-facing texts per language code (``pl``, ``ar``); English is the fields above."""

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

    def reminder_text(self, keys: Sequence[str], language: str = "en", *, when: str = "") -> str | None:
        """The learner's note made of these parts, in ``language`` (each part English where untranslated).

        A part is ``support`` (the support message), ``support:<urgency>:<in_hours|out_of_hours>`` (the
        one for that level and time, with the helplines' numbers and ``when`` staff will read it filled in),
        ``scorer_failure``, ``clause:<id>`` (a clause's reminder) or ``staff:<id>`` (its wording for staff).
        Unknown parts are skipped.
        """
        texts = []
        for key in keys:
            text = self._part(key, language)
            if text and key.startswith("support:"):
                text = text.format(**self.helplines, when=when)  # placeholders checked when the file loads
            if text:
                texts.append(text)
        return " ".join(texts) or None

    def is_translated(self, keys: Sequence[str], language: str) -> bool:
        """Whether every part of such a note has its own text in ``language``."""
        translation = self.translations.get(language)
        return translation is not None and all(self._own(translation, key) for key in keys)

    def _part(self, key: str, language: str) -> str | None:
        translation = self.translations.get(language)
        own = self._own(translation, key) if translation is not None else None
        return own or self._own_english(key)

    def _own_english(self, key: str) -> str | None:
        kind, _, clause_id = key.partition(":")
        if kind == "support":
            return self.support.get(clause_id, self.support_message) if clause_id else self.support_message
        if kind == "scorer_failure":
            return self.scorer_failure_reminder
        clause = next((clause for clause in self.clauses if clause.id == clause_id), None)
        if clause is None:
            return None
        return clause.staff_reminder if kind == "staff" else clause.reminder if kind == "clause" else None

    @staticmethod
    def _own(translation: Translation, key: str) -> str | None:
        kind, _, clause_id = key.partition(":")
        if kind == "support":
            return translation.support.get(clause_id) if clause_id else translation.support_message
        if kind == "scorer_failure":
            return translation.scorer_failure_reminder
        if kind == "staff":
            return translation.staff_reminders.get(clause_id)
        return translation.reminders.get(clause_id) if kind == "clause" else None

    def clause(self, clause_id: str) -> Clause:
        """The clause with this id.

        Raises:
            KeyError: no clause has this id.
        """
        for clause in self.clauses:
            if clause.id == clause_id:
                return clause
        raise KeyError(clause_id)
