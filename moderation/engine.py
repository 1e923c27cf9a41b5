"""The engine: from a message, its author's history, the policy and the model's scores to a decision.

``assess`` is pure: the clock and the model's scores are arguments, it does no I/O, and the same
input always gives the same decision.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from moderation.language_detection import assessed, detect_language
from moderation.normalise import normalise
from moderation.personal_data import find_personal_data
from moderation.policy import Policy
from moderation.scorers.phrases import find_phrases
from moderation.types import (
    Action,
    ActionKind,
    AuthorHistory,
    Category,
    ChatMessage,
    Decision,
    Evidence,
    ModelScores,
    Role,
    Route,
)
from moderation.urgency import urgency_of

__all__ = [
    "HEADS_SOURCE",
    "PRIORITY",
    "active_strikes",
    "assess",
    "detect",
    "earlier_breaches",
    "fires",
    "held_for_review",
]

# When several categories are flagged, the first in this order leads the reminder and routing.
PRIORITY: tuple[Category, ...] = (
    Category.SAFEGUARDING,
    Category.STAFF_CONDUCT,
    Category.INCITEMENT,
    Category.EXTREMISM,
    Category.HARASSMENT,
    Category.SEXUAL,
    Category.PERSONAL_DATA,
    Category.DEFAMATION,
    Category.PHOTO_CONSENT,
    Category.CIVILITY,
)

# The order actions are carried out in: hide first so the breach is seen as briefly as possible.
_EXECUTION_ORDER: tuple[ActionKind, ...] = (
    ActionKind.HIDE,
    ActionKind.REMIND,
    ActionKind.WARN,
    ActionKind.ESCALATE,
)
_NEVER_PUNISHED = frozenset({ActionKind.HIDE, ActionKind.WARN})
HEADS_SOURCE = "heads"
"""The evidence source of the trained policy heads."""


def fires(item: Evidence, policy: Policy) -> bool:
    """Whether one piece of evidence flags its category: the group's threshold, its own, else the policy's."""
    return item.score >= policy.threshold_for(item.category, item.threshold)


def active_strikes(history: AuthorHistory, policy: Policy, now: datetime) -> int:
    """How many of the author's formal warnings have not yet lapsed."""
    lifetime = timedelta(days=policy.strike_lifetime_days)
    return sum(1 for strike in history.strikes if now - strike.at < lifetime)


def earlier_breaches(history: AuthorHistory, policy: Policy, now: datetime, category: Category) -> int:
    """How many of the author's earlier breaches in this category still count towards its ladder."""
    lifetime = timedelta(days=policy.strike_lifetime_days)
    return sum(1 for breach in history.breaches if breach.category is category and now - breach.at < lifetime)


def detect(
    message: ChatMessage, history: AuthorHistory, policy: Policy, model: ModelScores
) -> list[Evidence]:
    """Everything every detector found in the message, flagged or not."""
    evidence = [
        Evidence(category=category, kind=label, source=model.scorer, score=_clamp(model.labels[label]))
        for label, category in policy.model_labels.items()
        if label in model.labels
    ]
    text = message.text
    evidence.extend(
        Evidence(
            category=Category.PERSONAL_DATA,
            kind=hit.kind,
            source="personal_data",
            start=hit.start,
            end=hit.end,
        )
        for hit in find_personal_data(text)
        if not policy.is_public_contact(text[hit.start : hit.end])
    )
    evidence.extend(
        Evidence(
            category=hit.category,
            kind=hit.kind,
            source=HEADS_SOURCE,
            score=_clamp(hit.score),
            start=hit.start,
            end=hit.end,
            threshold=hit.threshold,
            similar=hit.similar,
        )
        for hit in model.hits
    )
    evidence.extend(find_phrases(normalise(text), policy, message.author.role))
    if message.has_photo and not history.has_photo_consent:
        evidence.append(
            Evidence(category=Category.PHOTO_CONSENT, kind="photo_without_consent", source="photo")
        )
    return evidence


def assess(
    message: ChatMessage, history: AuthorHistory, policy: Policy, now: datetime, model: ModelScores
) -> Decision:
    """Decide what to do about one message.

    Args:
        message: the message (or edit) to judge.
        history: the author's earlier breaches, warnings and photo consent.
        policy: the loaded policy.
        now: the current time, for strike decay.
        model: the text model's scores for this message, or the reason it has none.

    Returns:
        The decision, with its evidence, clauses, ordered actions and texts for learner and moderator.
    """
    role = message.author.role
    evidence = detect(message, history, policy, model)
    scores = {category: 0.0 for category in Category}
    for item in evidence:
        scores[item.category] = max(scores[item.category], item.score)

    firing = [item for item in evidence if fires(item, policy)]
    flagged = tuple(
        category
        for category in PRIORITY
        if any(item.category is category for item in firing) and policy.clauses_for(category, role)
    )
    breaches = {category: earlier_breaches(history, policy, now, category) for category in flagged}
    kept_evidence = tuple(
        sorted(
            (item for item in firing if item.category in flagged),
            key=lambda item: (
                PRIORITY.index(item.category),
                item.start if item.start is not None else -1,
                item.kind,
            ),
        )
    )
    clauses = _unique(
        clause_id for category in flagged for clause_id in _clauses(category, kept_evidence, policy, role)
    )
    heads_only = frozenset(
        category
        for category in flagged
        if all(item.source == HEADS_SOURCE for item in kept_evidence if item.category is category)
    )
    actions = _actions(flagged, policy, breaches, heads_only)
    if model.error is not None and not any(action.kind is ActionKind.ESCALATE for action in actions):
        # A scorer that fails never silently allows: hold the message for a person to review.
        actions = (*actions, Action(ActionKind.ESCALATE, Route.MODERATORS))
    urgency = urgency_of(policy, kept_evidence, message.text) if Category.SAFEGUARDING in flagged else None
    reminder_keys = _reminder_keys(flagged, policy, role, model, actions, policy.support_key(urgency, now))
    language = detect_language(message.text)
    when = policy.service_hours.when_text(now) if policy.service_hours is not None else ""
    return Decision(
        scores={category: round(score, 4) for category, score in scores.items()},
        flagged=flagged,
        evidence=kept_evidence,
        clauses=clauses,
        actions=actions,
        reminder=policy.reminder_text(reminder_keys, when=when),
        reminder_keys=reminder_keys,
        urgency=urgency,
        language=language.code if language is not None else None,
        assessed=assessed(language, model.languages),
        explanation=_explanation(flagged, scores, kept_evidence, policy, breaches, actions, model),
        scorer=model.scorer if model.error is None else f"{model.scorer} (failed: {model.error})",
        strikes=active_strikes(history, policy, now),
    )


def held_for_review(model: ModelScores, reason: str) -> Decision:
    """The decision when a message could not be judged in time: a person reviews it, nothing else.

    Like a scorer that fails, it never allows silently and never acts on the learner; it goes to the
    moderators, who see the message and can refer it on.
    """
    return Decision(
        scores={category: 0.0 for category in Category},
        flagged=(),
        evidence=(),
        clauses=(),
        actions=(Action(ActionKind.ESCALATE, Route.MODERATORS),),
        reminder=None,
        explanation=f"Held for review: {reason}.",
        scorer=model.scorer,
    )


def _clauses(category: Category, evidence: Sequence[Evidence], policy: Policy, role: Role) -> tuple[str, ...]:
    """The clauses breached: those the detectors named, else every clause covering the category."""
    candidates = {clause.id for clause in policy.clauses_for(category, role)}
    named = _unique(
        rule.clause_id
        for item in evidence
        if item.category is category
        and (rule := policy.detector(item.kind)) is not None
        and rule.clause_id in candidates
        and rule.clause_id is not None
    )
    return named or tuple(clause.id for clause in policy.clauses_for(category, role))


def _actions(
    flagged: Sequence[Category],
    policy: Policy,
    breaches: Mapping[Category, int],
    heads_only: frozenset[Category],
) -> tuple[Action, ...]:
    if not flagged:
        return ()
    if Category.SAFEGUARDING in flagged:
        # A disclosure is never punished, whatever else the message contains.
        steps = {
            kind for kind in policy.categories[Category.SAFEGUARDING].step(0) if kind not in _NEVER_PUNISHED
        }
        return tuple(
            Action(kind, Route.SAFEGUARDING if kind is ActionKind.ESCALATE else None)
            for kind in _ordered(steps)
        )
    kinds: set[ActionKind] = set()
    route = Route.MODERATORS
    for category in flagged:
        rule = policy.categories[category]
        step = rule.step(breaches[category])
        if category in heads_only and _NEVER_PUNISHED & set(step):
            # A trained head alone never sanctions, nor writes to the learner about a sanction it is
            # not sure of: the milder answer wins, and a moderator decides.
            step = (
                *(kind for kind in step if kind not in _NEVER_PUNISHED and kind is not ActionKind.REMIND),
                ActionKind.ESCALATE,
            )
        kinds.update(step)
        if ActionKind.ESCALATE in step and rule.route is Route.SAFEGUARDING:
            route = Route.SAFEGUARDING
    if ActionKind.WARN in kinds:
        kinds.discard(ActionKind.REMIND)  # a warning is itself the private message
    return tuple(Action(kind, route if kind is ActionKind.ESCALATE else None) for kind in _ordered(kinds))


def _ordered(kinds: Iterable[ActionKind]) -> tuple[ActionKind, ...]:
    present = set(kinds)
    return tuple(kind for kind in _EXECUTION_ORDER if kind in present)


def _reminder_keys(
    flagged: Sequence[Category],
    policy: Policy,
    role: Role,
    model: ModelScores,
    actions: Sequence[Action],
    support: str,
) -> tuple[str, ...]:
    """What the learner's note is made of: the support message (``support``), or up to two reminders."""
    if Category.SAFEGUARDING in flagged:
        return (support,)
    if not flagged:
        return ("scorer_failure",) if model.error is not None and actions else ()
    keys: list[str] = []
    texts: list[str] = []
    for category in flagged:
        for clause in policy.clauses_for(category, role):
            reminder = clause.reminder_for(role)
            if reminder and reminder not in texts:
                texts.append(reminder)
                is_staff_wording = reminder is clause.staff_reminder and reminder != clause.reminder
                keys.append(f"{'staff' if is_staff_wording else 'clause'}:{clause.id}")
                break
        if len(keys) == 2:
            break
    return tuple(keys)


def _explanation(
    flagged: Sequence[Category],
    scores: dict[Category, float],
    evidence: Sequence[Evidence],
    policy: Policy,
    breaches: Mapping[Category, int],
    actions: Sequence[Action],
    model: ModelScores,
) -> str:
    parts: list[str] = []
    if model.error is not None:
        parts.append(f"scorer {model.scorer} failed ({model.error}); held for review")
    for category in flagged:
        items = [item for item in evidence if item.category is category]
        kinds = _unique(f"{item.kind}" for item in items)
        strongest = max(items, key=lambda item: item.score)
        threshold = policy.threshold_for(category, strongest.threshold)
        count = breaches[category]
        earlier = f", {count} earlier in {policy.strike_lifetime_days} days" if count else ""
        parts.append(
            f"{category.value} {strongest.score:.2f} >= {threshold:.2f} ({', '.join(kinds)}{earlier})"
        )
    if not parts:
        return "nothing flagged"
    if actions:
        plan = ", ".join(
            action.kind.value + (f" to {action.route.value}" if action.route else "") for action in actions
        )
        parts.append(f"actions: {plan}")
    return "; ".join(parts)


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _clamp(value: float) -> float:
    return min(1.0, max(0.0, float(value)))
