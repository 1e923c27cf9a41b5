"""The moderators' card for a case: who, where, when, what, why, what was done, and the buttons."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from adapters.base import Button, Card, ReviewAction
from bot.buttons import GROUP_VERBS, case_button_data, group_button_data
from bot.records import ActionRecord, CaseRecord
from moderation.personal_data import mask_personal_data
from moderation.policy import Policy
from moderation.types import Category, Evidence, Route, Urgency
from moderation.verdicts import APPEAL_VERBS, Verb, offered_verbs

__all__ = [
    "VERBS",
    "ActionLine",
    "PostedCard",
    "appeal_card",
    "build_card",
    "button",
    "card_of",
    "case_id_in",
    "group_card",
    "outcome_line",
    "posted_card",
    "posted_detail",
    "safe_text",
    "shown_text",
]

MAX_QUOTE = 700

# verb -> button label; the verb travels in the button's data (bot/buttons.py).
VERBS: dict[Verb, str] = {
    Verb.UPHOLD: "Uphold",
    Verb.RESTORE: "Restore",
    Verb.WARN: "Warn",
    Verb.MUTE_1H: "Mute 1 h",
    Verb.MUTE_24H: "Mute 24 h",
    Verb.REMOVE: "Remove from group",
    Verb.REFER: "Refer to safeguarding officer",
    Verb.ACKNOWLEDGE: "Acknowledge",
    Verb.HIDE: "Hide the message",
    Verb.ACTION_TAKEN: "Action taken",
    Verb.REFER_ON: "Referred on",
    Verb.NO_CONCERN: "No concern",
    Verb.GRANT: "Grant the appeal",
    Verb.DENY: "Deny the appeal",
}
# verb -> what the card says once it is done
_DONE: dict[Verb, str] = {
    Verb.UPHOLD: "Upheld",
    Verb.RESTORE: "Restored",
    Verb.WARN: "Warned",
    Verb.MUTE_1H: "Muted 1 h",
    Verb.MUTE_24H: "Muted 24 h",
    Verb.REMOVE: "Removed from group",
    Verb.REFER: "Referred to the safeguarding officer",
    Verb.ACKNOWLEDGE: "Acknowledged",
    Verb.HIDE: "Message hidden",
    Verb.ACTION_TAKEN: "Action taken",
    Verb.REFER_ON: "Referred on",
    Verb.NO_CONCERN: "No concern",
    Verb.GRANT: "Appeal granted",
    Verb.DENY: "Appeal denied",
}
ActionLine = tuple[str, str, str | None]
"""An action already taken: (kind, outcome, detail)."""


_POSTED = re.compile(r"posted as message (\S+)(?: to (moderators|safeguarding))?")
_POSTING = frozenset({"escalate", f"{ReviewAction.POST_CARD.value}-done"})
"""Logged actions that post a case's card: the bot's escalation, a referral's or a hand-back's card."""


@dataclass(frozen=True, slots=True)
class PostedCard:
    """A case's card as posted: the platform's message id and whose chat it is in."""

    message_id: str
    route: Route | None
    """``None`` for a card logged before the route was noted."""


def posted_detail(message_id: str | None, route: Route | None) -> str | None:
    """The action log's detail for a card posted as ``message_id`` in ``route``'s chat."""
    if message_id is None:
        return None
    return f"posted as message {message_id}" + ("" if route is None else f" to {route.value}")


def posted_card(actions: Sequence[ActionRecord]) -> PostedCard | None:
    """A case's latest card, from its action log (the last card posted)."""
    for item in reversed(actions):
        found = (
            _POSTED.fullmatch(item.detail or "") if item.action in _POSTING and item.outcome == "ok" else None
        )
        if found is not None:
            return PostedCard(found[1], None if found[2] is None else Route(found[2]))
    return None


_CASE_IN_TITLE = re.compile(r"\bcase #([1-9][0-9]{0,11})\b", re.IGNORECASE)


def case_id_in(card_text: str) -> int | None:
    """The case a card is about, from its first line (``Safeguarding · HIGH · case #12 · …``)."""
    match = _CASE_IN_TITLE.search(card_text.partition("\n")[0])
    return None if match is None else int(match[1])


def shown_text(text: str, categories: Sequence[Category]) -> str:
    """The text as moderators see it, whole: personal details masked when personal data was flagged.

    A restored message is re-posted as this, never as the unmasked original the moderator did not see.
    """
    return mask_personal_data(text) if Category.PERSONAL_DATA in categories else text


def safe_text(text: str, categories: Sequence[Category]) -> str:
    """The text for a card: :func:`shown_text` on one line, cut to a card's length."""
    flat = " ".join(shown_text(text, categories).split())
    return flat if len(flat) <= MAX_QUOTE else flat[: MAX_QUOTE - 1] + "…"


def build_card(
    *,
    case_id: int,
    policy: Policy,
    author_name: str,
    author_role: str,
    author_id: str,
    chat_title: str,
    when: datetime,
    text: str | None,
    flagged: Sequence[Category],
    clauses: Sequence[str],
    evidence: Sequence[Evidence],
    scores: dict[str, float],
    explanation: str,
    scorer: str,
    done: Sequence[ActionLine],
    route: Route,
    was_hidden: bool,
    is_acknowledged: bool = False,
    was_handed_back: bool = False,
    media: Sequence[str] = (),
    language: str | None = None,
    assessed: str = "full",
    urgency: Urgency | None = None,
) -> Card:
    """Build the card posted when a case is escalated; its buttons are the decisions the case allows."""
    categories = ", ".join(category.value for category in flagged) or "held for review"
    level = f"{urgency.value.upper()} · " if urgency is not None else ""
    title = (
        f"Safeguarding · {level}case #{case_id} · {categories}"
        if route is Route.SAFEGUARDING
        else f"Case #{case_id} · {level}{categories}"
    )
    clause_titles = []
    for clause_id in clauses:
        try:
            clause_titles.append(f"{clause_id} {policy.clause(clause_id).title}")
        except KeyError:
            clause_titles.append(clause_id)
    shown_scores = " · ".join(
        f"{name} {value:.2f}"
        for name, value in sorted(scores.items(), key=lambda item: -item[1])
        if value > 0.05
    )
    lines = [
        f"Who: {author_name} ({author_role}, id {author_id})",
        f"Where: {chat_title} · {when:%a %d %b %H:%M} UTC",
        _message_line(text, flagged, has_media=bool(media)),
        f"Clauses: {'; '.join(clause_titles) or '-'}",
        "Evidence: " + ("; ".join(_evidence(item, text) for item in evidence) or "-"),
        *_similar(evidence),
        f"Scores: {shown_scores or '-'}",
        f"Why: {explanation}",
        "Done: " + (" · ".join(_done(line) for line in done) or "nothing yet"),
        f"Scorer: {scorer}",
        *([f"Language: {language or 'not told'} · assessed {assessed}"] if assessed != "full" else []),
    ]
    verbs = offered_verbs(
        flagged,
        route,
        is_hidden=was_hidden,
        is_acknowledged=is_acknowledged,
        was_handed_back=was_handed_back,
    )
    buttons = tuple(button(case_id, verb) for verb in verbs)
    return Card(
        title=title,
        lines=tuple(lines),
        buttons=buttons,
        route=route,
        media=tuple(media),
        key=f"case-{case_id}",
    )


def card_of(
    case: CaseRecord,
    policy: Policy,
    *,
    explanation: str | None = None,
    is_hidden: bool = False,
    is_acknowledged: bool = False,
    was_handed_back: bool = False,
    done: Sequence[ActionLine] = (),
) -> Card:
    """A stored case's card, as posted again (a referral, a reminder, a rota alert): no photos."""
    return build_card(
        case_id=case.id,
        policy=policy,
        author_name=case.author_name,
        author_role=case.author_role.value,
        author_id=case.author_id,
        chat_title=case.chat_id,
        when=case.created_at,
        text=case.text,
        flagged=case.flagged,
        clauses=case.clauses,
        evidence=case.evidence,
        scores=case.scores,
        explanation=case.explanation if explanation is None else explanation,
        scorer=case.scorer,
        done=done,
        route=case.route or Route.MODERATORS,
        was_hidden=is_hidden,
        is_acknowledged=is_acknowledged,
        was_handed_back=was_handed_back,
        language=case.language,
        assessed=case.assessed,
        urgency=case.urgency,
    )


def _evidence(item: Evidence, text: str | None) -> str:
    shown = f"{item.kind} ({item.source}, {item.score:.2f})"
    if item.similar and text is not None and item.start is not None and item.end is not None:
        sentence = " ".join(mask_personal_data(text[item.start : item.end]).split())
        shown += f" in “{_clip(sentence)}”"
    return shown


def _similar(evidence: Sequence[Evidence]) -> list[str]:
    """For a trained head's finding: the training examples it resembles, so moderators see why."""
    return [
        f"Similar to ({item.category.value}): "
        + " · ".join(f"“{_clip(example)}”" for example in item.similar)
        for item in evidence
        if item.similar
    ]


def _clip(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message_line(text: str | None, flagged: Sequence[Category], *, has_media: bool) -> str:
    if text is None:
        return "Message: (text purged)"
    photo = " (with the photo, below)" if has_media else ""
    if not text.strip():
        return "Message: a photo with no caption (below)" if has_media else "Message: (no text)"
    return f"Message: “{safe_text(text, flagged)}”{photo}"


def appeal_card(
    *,
    appeal_id: int,
    case_id: int,
    author_name: str,
    author_id: str,
    flagged: Sequence[Category],
    status: str,
    text: str | None,
    reason: str | None,
    route: Route,
) -> Card:
    """The card for a learner's appeal against a case: what was decided, why they disagree, two buttons."""
    categories = ", ".join(category.value for category in flagged) or "held for review"
    lines = (
        f"From: {author_name} (id {author_id})",
        f"Case #{case_id}: {categories} · {status}",
        f"Message: “{safe_text(text, flagged)}”" if text is not None else "Message: (text purged)",
        f"Reason: {' '.join(mask_personal_data(reason).split())[:MAX_QUOTE] if reason else '(none given)'}",
        "Granting restores the message if it was hidden and lifts any strike; "
        "the learner is told either way.",
    )
    buttons = tuple(button(case_id, verb) for verb in APPEAL_VERBS)
    return Card(
        title=f"Appeal · case #{case_id}",
        lines=lines,
        buttons=buttons,
        route=route,
        key=f"appeal-{appeal_id}",
    )


def button(case_id: int, verb: Verb) -> Button:
    """The button for one decision on a case."""
    return Button(VERBS[verb], case_button_data(case_id, verb))


def outcome_line(verb: Verb, actor_name: str, when: datetime, problems: Sequence[str] = ()) -> str:
    """The line added to a card once a moderator has acted on it."""
    line = f"Outcome: {_DONE[verb]} by {actor_name} at {when:%H:%M} UTC"
    if problems:
        line += " (" + "; ".join(problems) + ")"
    return line


def _done(line: ActionLine) -> str:
    kind, outcome, detail = line
    if outcome == "ok":
        return {"hide": "hidden", "remind": "reminded", "warn": "warned", "strike": "strike recorded"}.get(
            kind, kind
        )
    return f"{kind} {outcome.upper()}" + (f" ({detail})" if detail else "")


def group_card(*, chat_id: str, title: str, added_by: str, leaves_at: datetime) -> Card:
    """The moderators' card for a group the bot was added to and nobody has authorised yet."""
    lines = (
        f"Group: {title} (id {chat_id})",
        f"Added by: {added_by}",
        "I read nothing there until it is authorised (policy clause 4.6: no unauthorised sites).",
        f"If nobody authorises it I leave at {leaves_at:%a %d %b %H:%M} UTC.",
    )
    buttons = tuple(Button(label, group_button_data(chat_id, verb)) for verb, label in GROUP_VERBS.items())
    return Card(
        title=f"Added to {title}",
        lines=lines,
        buttons=buttons,
        route=Route.MODERATORS,
        key=f"group-{chat_id}",
    )
