"""What the console's pages show, as plain values for their templates (the templates escape them all).

Each function reads the store for one person and leaves out what their role may not see: a moderator's
queue and a learner's earlier cases never hold an officers' case, and a case page for one is ``None``
(the app answers 404, as for a case that does not exist). An officer's view of one is audited.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.cards import VERBS
from bot.escalation import waited_text
from bot.records import CaseRecord
from bot.review import case_state
from bot.store import Store
from bot.web.auth import Person
from moderation.personal_data import mask_personal_data
from moderation.policy import Policy
from moderation.types import Category, Urgency
from moderation.verdicts import is_officers_only, offered_verbs

__all__ = ["AGES", "case_page", "policy_page", "queue_page", "visible", "visible_case"]

AGES = {
    "": None,
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
}
"""The queue's age filter: older than this."""
_QUEUE_LIMIT = 200


def visible(case: CaseRecord, person: Person) -> bool:
    """Whether this person may see this case: officers every case, moderators the ordinary ones."""
    return person.is_officer or not is_officers_only(case.flagged, case.route, case.status)


def _row(case: CaseRecord, now: datetime) -> dict[str, Any]:
    return {
        "id": case.id,
        "age": waited_text(now - case.created_at),
        "platform": case.platform,
        "group": case.chat_id,
        "categories": ", ".join(category.value for category in case.flagged) or "held for review",
        "level": case.urgency.value if case.urgency is not None else "",
        "author": case.author_name,
        "status": case.status,
        "officers_only": is_officers_only(case.flagged, case.route, case.status),
    }


def queue_page(store: Store, person: Person, query: Mapping[str, str], now: datetime) -> dict[str, Any]:
    """The open cases, oldest first, with the filters as chosen."""
    group = (query.get("group") or "").strip()[:64] or None
    category = query.get("category") or ""
    level = query.get("level") or ""
    age = query.get("age") or ""
    older = AGES.get(age)
    known = {item.value: item for item in Category}
    cases = store.console_queue(
        officer=person.is_officer,
        group=group,
        category=known.get(category),
        level=level if level in {item.value for item in Urgency} else None,
        before=None if older is None else now - older,
        limit=_QUEUE_LIMIT,
    )
    chosen = [case for case in cases if visible(case, person)]
    return {
        "rows": [_row(case, now) for case in chosen],
        "filters": {"group": group or "", "category": category, "level": level, "age": age},
        "categories": [item.value for item in Category],
        "levels": [item.value for item in Urgency],
        "ages": list(AGES),
        "limit": _QUEUE_LIMIT,
    }


def visible_case(store: Store, person: Person, case_id: int) -> CaseRecord | None:
    """The case, if it exists and this person may see it."""
    case = store.get_case(case_id) if 1 <= case_id < 2**63 else None
    return case if case is not None and visible(case, person) else None


def case_page(
    store: Store, policy: Policy, person: Person, case_id: int, now: datetime
) -> dict[str, Any] | None:
    """One case as the console shows it; ``None`` when it does not exist or is not this person's to see."""
    case = visible_case(store, person, case_id)
    if case is None:
        return None
    officers_only = is_officers_only(case.flagged, case.route, case.status)
    if officers_only:
        store.record_views([case.id], actor=person.actor, action="view", at=now, via="console")
    clauses = []
    for clause_id in case.clauses:
        try:
            clauses.append(f"{clause_id} {policy.clause(clause_id).title}")
        except KeyError:
            clauses.append(clause_id)
    earlier = [
        _row(item, now)
        for item in store.cases_for_author(case.platform, case.author_id, limit=20)
        if item.id != case.id and visible(item, person)
    ]
    actions = store.case_actions(case.id)
    state = case_state(actions)
    decisions = (
        [
            (verb.value, VERBS[verb])
            for verb in offered_verbs(
                case.flagged,
                case.route,
                is_hidden=state.is_hidden,
                is_acknowledged=state.is_acknowledged,
                was_handed_back=state.was_handed_back,
            )
        ]
        if case.is_open and case.platform == person.platform
        else []
    )
    return {
        "case": _row(case, now),
        "decisions": decisions,
        "can_note": True,  # whoever may see a case may add a note to it
        "when": f"{case.created_at:%a %d %b %Y %H:%M} UTC",
        "author_id": case.author_id,
        "role": case.author_role.value,
        "text": None if case.text is None else mask_personal_data(case.text),
        "scores": sorted(
            ((name, f"{value:.2f}") for name, value in case.scores.items()),
            key=lambda item: item[1],
            reverse=True,
        ),
        "clauses": clauses,
        "evidence": [
            f"{item.category.value}: {item.kind} ({item.source}, {item.score:.2f})" for item in case.evidence
        ],
        "scorer": case.scorer,
        "explanation": case.explanation,
        "actions": [
            {
                "at": f"{item.at:%d %b %H:%M:%S}",
                "actor": item.actor,
                "action": item.action,
                "outcome": item.outcome,
            }
            for item in actions
        ],
        "alerts": [
            {
                "at": f"{item.at:%d %b %H:%M:%S}",
                "step": item.step,
                "recipient": item.recipient,
                "outcome": item.outcome,
            }
            for item in store.alerts([case.id])[case.id]
        ]
        if officers_only
        else [],
        "notes": [
            {"at": f"{note.at:%d %b %H:%M}", "who": note.actor_name, "text": note.text or "(purged)"}
            for note in store.notes(case.id)
        ],
        "appeals": [
            {"at": f"{item.at:%d %b %H:%M}", "status": item.status} for item in store.appeals(case.id)
        ],
        "earlier": earlier,
        "officers_only": officers_only,
    }


def policy_page(policy: Policy) -> dict[str, Any]:
    """The policy as the bot enforces it: each clause, who it applies to, its reminder; the languages."""
    languages = sorted(policy.translations.items())
    return {
        "name": policy.name,
        "version": policy.version,
        "new_group_mode": policy.new_group_mode,
        "strike_lifetime_days": policy.strike_lifetime_days,
        "clauses": [
            {
                "id": clause.id,
                "title": clause.title,
                "wording": clause.wording,
                "applies_to": str(clause.applies_to),
                "categories": ", ".join(category.value for category in clause.categories) or "-",
                "enforced": clause.is_enforced,
                "why_not": clause.not_enforced_reason or "",
                "reminder": clause.reminder or "",
                "staff_reminder": clause.staff_reminder or "",
                "translated": [code for code, text in languages if clause.id in text.reminders],
            }
            for clause in policy.clauses
        ],
        "languages": [
            {
                "code": code,
                "reviewed": text.reviewed,
                "reminders": len(text.reminders),
                "support": len(text.support),
            }
            for code, text in languages
        ],
    }
