"""The policy compiler: a schema-checked policy file turned into the :class:`Policy` model.

It checks what the schema cannot (unique ids, every category covered by an enforced clause, a
detector's clause exists), compiles the detectors' and idioms' patterns once with RE2, and reads
the published contacts into the form the personal-data check compares.
"""

from __future__ import annotations

import re
import string
from dataclasses import replace
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from moderation.patterns import Pattern, PatternError, compile_patterns
from moderation.personal_data import contact_key, find_personal_data, is_valid_phone
from moderation.policy.model import CategoryRule, Clause, DetectorRule, Policy, Translation, UrgencyRule
from moderation.policy.schema import PolicyFile, SupportFile, TranslationFile
from moderation.policy.yaml_source import Lines, Problem, line_of, policy_error
from moderation.service_hours import ServiceHours
from moderation.types import ActionKind, Category

__all__ = ["compile_policy"]


def compile_policy(document: PolicyFile, name: str, lines: Lines) -> Policy:
    """Check and compile a policy file that passed the schema (``lines`` place each problem).

    Raises:
        PolicyError: every problem found (up to ten), each with its line.
    """
    problems: list[Problem] = []
    clauses = tuple(
        Clause(
            id=clause.id,
            title=clause.title,
            wording=" ".join(clause.wording.split()),
            applies_to=clause.applies_to,
            categories=tuple(clause.categories),
            is_enforced=clause.enforced,
            not_enforced_reason=clause.not_enforced_reason,
            reminder=clause.reminder.strip() if clause.reminder else None,
            staff_reminder=clause.staff_reminder.strip() if clause.staff_reminder else None,
        )
        for clause in document.clauses
    )
    seen: set[str] = set()
    for index, clause in enumerate(clauses):
        where = line_of(("clauses", index), lines)
        if clause.id in seen:
            problems.append((where, f"clause id {clause.id!r} is used twice; ids must be unique"))
        seen.add(clause.id)
        if clause.is_enforced and not clause.categories:
            problems.append(
                (
                    where,
                    f"clause {clause.id} is enforced but lists no categories; "
                    "add categories or set enforced: false",
                )
            )
        if not clause.is_enforced and not clause.not_enforced_reason:
            problems.append((where, f"clause {clause.id} is not enforced: say why in not_enforced_reason"))
        if clause.is_enforced and not clause.reminder:
            problems.append(
                (where, f"clause {clause.id} is enforced but has no reminder text for the learner")
            )

    categories: dict[Category, CategoryRule] = {}
    for category, rule in document.categories.items():
        categories[category] = CategoryRule(
            category=category,
            threshold=rule.threshold,
            ladder=tuple(tuple(ActionKind(action) for action in step) for step in rule.ladder),
            route=rule.route,
            head_precision=rule.head_precision,
            head_false_positive_rate=rule.head_false_positive_rate,
        )
    for category in Category:
        if category not in categories:
            problems.append(
                (
                    line_of(("categories",), lines),
                    f"categories: {category.value} is missing; every category needs a threshold and a ladder",
                )
            )
        if not any(category in clause.categories and clause.is_enforced for clause in clauses):
            problems.append(
                (
                    line_of(("clauses",), lines),
                    f"no enforced clause covers the category {category.value}; "
                    "add it to a clause's categories",
                )
            )

    detector_ids: set[str] = set()
    detectors: list[DetectorRule] = []
    for index, detector in enumerate(document.detectors):
        if detector.id in detector_ids:
            problems.append(
                (
                    line_of(("detectors", index, "id"), lines),
                    f"detector id {detector.id!r} is used twice; ids must be unique",
                )
            )
        detector_ids.add(detector.id)
        if detector.clause is not None and detector.clause not in seen:
            problems.append(
                (
                    line_of(("detectors", index, "clause"), lines),
                    f"detector {detector.id} names clause {detector.clause!r}, which is not in clauses",
                )
            )
        pattern = _compile_patterns(detector.patterns, lines, ("detectors", index, "patterns"), problems)
        unless = _compile_patterns(detector.unless, lines, ("detectors", index, "unless"), problems)
        if pattern is not None:
            detectors.append(
                DetectorRule(
                    id=detector.id,
                    category=detector.category,
                    score=detector.score,
                    applies_to=detector.applies_to,
                    pattern=pattern,
                    unless=unless,
                    clause_id=detector.clause,
                    unless_in_message=detector.unless_scope == "message",
                )
            )
    idioms = _compile_patterns(document.idioms, lines, ("idioms",), problems)
    public_contacts = _public_contacts(document.public_contacts, lines, problems)
    urgency = []
    for index, level_rule in enumerate(document.urgency):
        when = _compile_patterns(level_rule.when, lines, ("urgency", index, "when"), problems)
        urgency.append(UrgencyRule(level=level_rule.level, kinds=frozenset(level_rule.kinds), when=when))
    service_hours = _service_hours(document, lines, problems)
    helplines = _helplines(document.helplines, lines, problems)
    support = _support(document.support, helplines, ("support",), lines, problems)
    if document.support is not None and document.service_hours is None:
        problems.append(
            (line_of(("support",), lines), "support needs service_hours: when is the team at work?")
        )
    translations = {
        code: _translation(code, translation, seen, lines, problems)
        for code, translation in document.languages.items()
    }
    for code, translation in document.languages.items():
        if translation.support is not None:
            path = ("languages", code, "support")
            translations[code] = replace(
                translations[code],
                support=_support(translation.support, helplines, path, lines, problems, english=support),
            )
    if problems:
        raise policy_error(problems, name)
    return Policy(
        id=document.id,
        name=document.name,
        version=document.version,
        source=document.source,
        clauses=clauses,
        categories=categories,
        model_labels=dict(document.model_labels),
        detectors=tuple(detectors),
        idioms=idioms,
        strike_lifetime_days=document.strike_lifetime_days,
        new_group_mode=document.new_group_mode,
        support_message=" ".join(document.support_message.split()),
        scorer_failure_reminder=document.scorer_failure_reminder,
        public_contacts=public_contacts,
        translations=translations,
        urgency=tuple(urgency),
        service_hours=service_hours,
        helplines=helplines,
        support=support,
    )


def _service_hours(document: PolicyFile, lines: Lines, problems: list[Problem]) -> ServiceHours | None:
    """The team's hours; an unknown time zone or bank-holiday calendar, or closing first, is refused."""
    hours = document.service_hours
    if hours is None:
        return None
    where = line_of(("service_hours",), lines)
    try:
        ZoneInfo(hours.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            (where, f"service_hours.timezone: {hours.timezone!r} is not a time zone (Europe/London)")
        )
        return None
    if hours.bank_holidays is not None:
        country, _, subdivision = hours.bank_holidays.partition("-")
        try:
            holidays.country_holidays(country, subdiv=subdivision or None)
        except (NotImplementedError, KeyError, ValueError):
            problems.append(
                (
                    where,
                    f"service_hours.bank_holidays: {hours.bank_holidays!r} is not a known calendar (GB-ENG)",
                )
            )
            return None
    opens, closes = time.fromisoformat(hours.opens), time.fromisoformat(hours.closes)
    if closes <= opens:
        problems.append((where, "service_hours: closes must be after opens"))
        return None
    return ServiceHours(hours.timezone, frozenset(hours.days), opens, closes, hours.bank_holidays)


def _support(
    support: SupportFile | None,
    helplines: dict[str, str],
    path: tuple[str, ...],
    lines: Lines,
    problems: list[Problem],
    english: dict[str, str] | None = None,
) -> dict[str, str]:
    """The support messages by ``<urgency>:<hours>``, each checked to fill in safely when it is sent.

    A placeholder must be a helpline's name or ``when``, plain (no conversion, no format spec: a bad one
    would fail on every disclosure); a translation must name the same placeholders as English.
    """
    if support is None:
        return {}
    allowed = {*helplines, "when"}
    found: dict[str, str] = {}
    for hours in ("in_hours", "out_of_hours"):
        for level, text in getattr(support, hours).items():
            key = f"{level.value}:{hours}"
            where = line_of((*path, hours, level.value), lines)
            name = f"{'.'.join(path)}.{hours}.{level.value}"
            try:
                fields = [
                    (field, spec, conversion) for _, field, spec, conversion in string.Formatter().parse(text)
                ]
            except ValueError as exc:
                problems.append((where, f"{name}: {exc}; write a brace as {{{{ or }}}}"))
                continue
            names = sorted({field for field, _, _ in fields if field is not None})
            problem = next(
                (
                    f"{{{field}}} is not a helpline; use one of {', '.join(sorted(allowed))}"
                    if field not in allowed
                    else f"{{{field}}} must be written plain, without a conversion or format"
                    for field, spec, conversion in fields
                    if field is not None and (field not in allowed or spec or conversion)
                ),
                None,
            )
            if problem is None and english is not None and key in english:
                source = sorted({field for _, field, _, _ in string.Formatter().parse(english[key]) if field})
                if names != source:
                    problem = f"names {names} but the English names {source}: keep every number"
            if problem is not None:
                problems.append((where, f"{name}: {problem}"))
                continue
            found[key] = " ".join(text.split())
    return found


def _helplines(helplines: dict[str, str], lines: Lines, problems: list[Problem]) -> dict[str, str]:
    """Helpline names are placeholders: plain lower-case words, and not ``when`` (the time staff return)."""
    for name in helplines:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", name) or name == "when":
            problems.append(
                (
                    line_of(("helplines", name), lines),
                    f"helplines: {name!r} cannot be a placeholder; use a lower-case word such as samaritans",
                )
            )
    return dict(helplines)


def _translation(
    code: str, translation: TranslationFile, clause_ids: set[str], lines: Lines, problems: list[Problem]
) -> Translation:
    """One language's texts, folded like the English ones; a reminder for no clause is a problem."""
    for field in ("reminders", "staff_reminders"):
        for clause_id in getattr(translation, field):
            if clause_id not in clause_ids:
                problems.append(
                    (
                        line_of(("languages", code, field, clause_id), lines),
                        f"languages.{code}.{field}: clause {clause_id!r} is not in clauses",
                    )
                )
    return Translation(
        reviewed=translation.reviewed,
        support_message=_folded(translation.support_message),
        scorer_failure_reminder=_folded(translation.scorer_failure_reminder),
        reminders={key: text for key, value in translation.reminders.items() if (text := _folded(value))},
        staff_reminders={
            key: text for key, value in translation.staff_reminders.items() if (text := _folded(value))
        },
    )


def _folded(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


def _public_contacts(entries: list[str], lines: Lines, problems: list[Problem]) -> frozenset[str]:
    """Each entry must be one whole phone number or email address that the detector finds."""
    keys: set[str] = set()
    for index, entry in enumerate(entries):
        stripped = entry.strip()
        hits = find_personal_data(stripped)
        whole = len(hits) == 1 and (hits[0].start, hits[0].end) == (0, len(stripped))
        key = contact_key(hits[0].kind, stripped) if whole else None
        if key is None or (hits[0].kind == "phone" and not is_valid_phone(stripped)):
            found = ", ".join(f"{hit.kind} {stripped[hit.start : hit.end]!r}" for hit in hits) or "nothing"
            problems.append(
                (
                    line_of(("public_contacts", index), lines),
                    f"public_contacts: {entry!r} must be one valid phone number (no extension) or one "
                    f"email address, as published, and nothing else (the detector finds {found} in it)",
                )
            )
            continue
        keys.add(key)
    return frozenset(keys)


def _compile_patterns(
    patterns: list[str], lines: Lines, path: tuple[Any, ...], problems: list[Problem]
) -> Pattern | None:
    """Compile a list of patterns with RE2 (:mod:`moderation.patterns`), each refusal at its line."""
    if not patterns:
        return None
    is_valid = True
    for index, pattern in enumerate(patterns):
        try:
            compile_patterns([pattern])
        except PatternError as exc:
            is_valid = False
            problems.append((line_of((*path, index), lines), str(exc)))
    if not is_valid:
        return None
    try:
        return compile_patterns(patterns)
    except PatternError as exc:
        problems.append((line_of(path, lines), str(exc)))
        return None
