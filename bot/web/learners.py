"""A learner in the console: their cases, strikes and when they lapse, appeals, languages; what is held.

``subject_access`` is everything the store holds about one person (their cases with the words they wrote,
decisions, strikes, appeals, consent, language, staff's notes), for answering a subject access request:
an officer reviews it before it is sent (safeguarding records may be withheld where the law allows).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.pdf import text_pdf
from bot.store import Store
from bot.web.auth import Person
from bot.web.views import _row, visible
from moderation.policy import Policy

__all__ = ["learner_page", "subject_access", "subject_access_pdf"]

_MOST = 500


def learner_page(
    store: Store, policy: Policy, person: Person, platform: str, user_id: str, now: datetime
) -> dict[str, Any] | None:
    """The learner's page for this person's role; ``None`` when they have no case this person may see."""
    cases = store.cases_for_author(platform, user_id, limit=_MOST)
    shown = [case for case in cases if visible(case, person)]
    if not shown:
        return None
    lifetime = timedelta(days=policy.strike_lifetime_days)
    history = store.author_history(platform, user_id, now=now, strike_lifetime=lifetime)
    choice = store.language_choice(platform, user_id)
    appeals = store.latest_appeals([case.id for case in shown])
    return {
        "platform": platform,
        "user_id": user_id,
        "name": shown[0].author_name,
        "cases": [_row(case, now) for case in shown],
        "strikes": [
            {
                "category": strike.category.value,
                "clause": strike.clause_id,
                "at": f"{strike.at:%d %b %Y}",
                "lapses": f"{strike.at + lifetime:%d %b %Y}",
            }
            for strike in history.strikes
        ],
        "appeals": [
            {"case": case_id, "status": appeal.status, "at": f"{appeal.at:%d %b %Y}"}
            for case_id, appeal in appeals.items()
        ],
        "language": choice.chosen or "-",
        "locale": choice.locale or "-",
        "photo_consent": history.has_photo_consent,
        "can_export": person.is_officer,
        "hidden": len(cases) - len(shown),
    }


def subject_access(
    store: Store, policy: Policy, platform: str, user_id: str, *, now: datetime, by: str
) -> dict[str, Any]:
    """Everything held about one person, as JSON-ready values."""
    lifetime = timedelta(days=policy.strike_lifetime_days)
    cases = store.cases_for_author(platform, user_id, limit=_MOST)
    history = store.author_history(platform, user_id, now=now, strike_lifetime=lifetime)
    choice = store.language_choice(platform, user_id)
    return {
        "exported_at": now.isoformat(timespec="seconds"),
        "exported_by": by,
        "subject": {
            "platform": platform,
            "user_id": user_id,
            "names": sorted({case.author_name for case in cases}),
            "role": (store.role_of(platform, user_id) or "learner").__str__(),
            "language": choice.chosen,
            "app_language": choice.locale,
            "photo_consent": history.has_photo_consent,
        },
        "strikes": [
            {
                "category": strike.category.value,
                "clause": strike.clause_id,
                "at": strike.at.isoformat(timespec="seconds"),
                "lapses": (strike.at + lifetime).isoformat(timespec="seconds"),
            }
            for strike in history.strikes
        ],
        "cases": [
            {
                "case": case.id,
                "group": case.chat_id,
                "posted": case.created_at.isoformat(timespec="seconds"),
                "text": case.text,
                "text_erased_at": None
                if case.purged_at is None
                else case.purged_at.isoformat(timespec="seconds"),
                "flagged": [category.value for category in case.flagged],
                "clauses": list(case.clauses),
                "status": case.status,
                "decided_at": None
                if case.closed_at is None
                else case.closed_at.isoformat(timespec="seconds"),
                "actions": [
                    {
                        "at": item.at.isoformat(timespec="seconds"),
                        "action": item.action,
                        "outcome": item.outcome,
                    }
                    for item in store.case_actions(case.id)
                ],
                "appeals": [
                    {
                        "at": item.at.isoformat(timespec="seconds"),
                        "reason": item.reason,
                        "status": item.status,
                    }
                    for item in store.appeals(case.id)
                ],
                "staff_notes": [
                    {"at": note.at.isoformat(timespec="seconds"), "by": note.actor_name, "text": note.text}
                    for note in store.notes(case.id)
                ],
            }
            for case in cases
        ],
    }


def subject_access_pdf(data: dict[str, Any], font: Any = None) -> bytes:
    """The same as a PDF: the subject, then each case and the strikes."""
    subject = data["subject"]
    sections: list[tuple[str, list[str]]] = [
        (
            "",
            [
                f"Person: {', '.join(subject['names']) or '-'} "
                f"({subject['platform']} id {subject['user_id']})",
                f"Language: {subject['language'] or '-'} (app: {subject['app_language'] or '-'}); "
                f"photo consent: {'yes' if subject['photo_consent'] else 'no'}",
                f"Exported {data['exported_at']} by {data['exported_by']}",
            ],
        ),
        (
            "Strikes",
            [
                f"{item['at']}: {item['category']} under {item['clause']}, lapses {item['lapses']}"
                for item in data["strikes"]
            ]
            or ["none"],
        ),
    ]
    for case in data["cases"]:
        flagged = ", ".join(case["flagged"]) or "held for review"
        text = case["text"] if case["text"] is not None else f"(erased {case['text_erased_at']})"
        lines = [
            f"Posted {case['posted']} in {case['group']}; {flagged}; {case['status']}",
            f"Text: {text}",
            *(f"{item['at']}: {item['action']} ({item['outcome']})" for item in case["actions"]),
            *(
                f"Appeal {item['at']}: {item['status']} ({item['reason'] or 'no reason given'})"
                for item in case["appeals"]
            ),
            *(
                f"Note {item['at']} by {item['by']}: {item['text'] or '(erased)'}"
                for item in case["staff_notes"]
            ),
        ]
        sections.append((f"Case #{case['case']}", lines))
    data_bytes, _ = text_pdf("Subject access: what classmod holds", sections, font)
    return data_bytes
