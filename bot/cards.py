"""The moderators' card for a case: who, where, when, what, why, what was done, and the buttons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from adapters.base import Button, Card
from moderation.policy import Policy
from moderation.scorers.personal_data import mask_personal_data
from moderation.types import Category, Route

__all__ = [
    "CALLBACK_PREFIX",
    "VERBS",
    "ActionLine",
    "build_card",
    "outcome_line",
    "parse_button",
    "safe_text",
]

CALLBACK_PREFIX = "cm"
MAX_QUOTE = 700

# verb -> button label; the verb travels in the button's data, e.g. "cm:12:mute1h".
VERBS: dict[str, str] = {
    "uphold": "Uphold",
    "restore": "Restore",
    "warn": "Warn",
    "mute1h": "Mute 1 h",
    "mute24h": "Mute 24 h",
    "remove": "Remove from group",
    "refer": "Refer to safeguarding officer",
}

ActionLine = tuple[str, str, str | None]
"""An action already taken: (kind, outcome, detail)."""


def safe_text(text: str, categories: Sequence[Category]) -> str:
    """The text moderators may see: personal details masked when personal data was flagged."""
    shown = mask_personal_data(text) if Category.PERSONAL_DATA in categories else text
    flat = " ".join(shown.split())
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
    evidence: Sequence[tuple[str, str, float]],
    scores: dict[str, float],
    explanation: str,
    scorer: str,
    done: Sequence[ActionLine],
    route: Route,
    was_hidden: bool,
) -> Card:
    """Build the card posted when a case is escalated."""
    categories = ", ".join(category.value for category in flagged) or "held for review"
    title = (
        f"Safeguarding · case #{case_id} · {categories}"
        if route is Route.SAFEGUARDING
        else f"Case #{case_id} · {categories}"
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
        f"Message: “{safe_text(text, flagged)}”" if text is not None else "Message: (text purged)",
        f"Clauses: {'; '.join(clause_titles) or '-'}",
        "Evidence: "
        + ("; ".join(f"{kind} ({source}, {score:.2f})" for kind, source, score in evidence) or "-"),
        f"Scores: {shown_scores or '-'}",
        f"Why: {explanation}",
        "Done: " + (" · ".join(_done(line) for line in done) or "nothing yet"),
        f"Scorer: {scorer}",
    ]
    verbs = [
        verb
        for verb in VERBS
        if (verb != "restore" or was_hidden) and (verb != "refer" or route is Route.MODERATORS)
    ]
    buttons = tuple(Button(VERBS[verb], f"{CALLBACK_PREFIX}:{case_id}:{verb}") for verb in verbs)
    return Card(title=title, lines=tuple(lines), buttons=buttons, route=route)


def outcome_line(verb: str, actor_name: str, when: datetime, problems: Sequence[str] = ()) -> str:
    """The line added to a card once a moderator has acted on it."""
    label = VERBS.get(verb, verb)
    line = f"Outcome: {label} by {actor_name} at {when:%H:%M} UTC"
    if problems:
        line += " (" + "; ".join(problems) + ")"
    return line


def parse_button(data: str) -> tuple[int, str] | None:
    """Read a button's data back as (case id, verb); anything malformed or unknown is ``None``."""
    parts = data.split(":")
    if len(parts) != 3 or parts[0] != CALLBACK_PREFIX or parts[2] not in VERBS:
        return None
    if not parts[1].isdigit() or len(parts[1]) > 12:
        return None
    return int(parts[1]), parts[2]


def _done(line: ActionLine) -> str:
    kind, outcome, detail = line
    if outcome == "ok":
        return {"hide": "hidden", "remind": "reminded", "warn": "warned", "strike": "strike recorded"}.get(
            kind, kind
        )
    return f"{kind} {outcome.upper()}" + (f" ({detail})" if detail else "")
