"""How the command line shows decisions, cases and the queue (Rich), and the ``check --json`` shape.

``classmod status`` has its own module, :mod:`bot.status_view`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from bot.cards import safe_text
from moderation.personal_data import mask_personal_data
from moderation.types import ActionKind, Author, Category, ChatMessage, Decision, Evidence, Role

if TYPE_CHECKING:
    from bot.learning import Learning
    from bot.pipeline import Outcome
    from bot.schema import SchemaUpgrade
    from bot.store import ActionRecord, AppealRecord, CaseRecord, GroupRecord
    from bot.transcript import TranscriptLine
    from moderation.policy import Policy
    from moderation.serving.loading import LoadedScorer

__all__ = [
    "decision_json",
    "message_for_check",
    "print_case",
    "print_decision",
    "print_groups",
    "print_learning",
    "print_policy",
    "print_queue",
    "print_replay",
    "print_schema_upgrade",
    "print_scorer_banner",
]

_ACTION_STYLE = {
    "allow": "green",
    "remind": "yellow",
    "warn": "dark_orange",
    "hide": "red",
    "escalate": "bold magenta",
}
_PREVIEW = 60


def message_for_check(text: str, role: Role, now: datetime) -> ChatMessage:
    """A stand-alone message for ``classmod check``, which has no chat or history."""
    return ChatMessage(
        platform="check",
        chat_id="check",
        message_id="check",
        author=Author("check", "check", role),
        text=text,
        sent_at=now,
    )


def decision_json(
    item_id: Any, decision: Decision, text: str | None = None, notes: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ``check --json`` output line for one decision (``text`` gives a head's evidence sentence).

    ``notes`` (``check --language``) are what the author would be sent, by action, in their language.
    """
    return {
        "id": item_id,
        "action": decision.action.value,
        "actions": [action.kind.value for action in decision.actions],
        "flagged": [category.value for category in decision.flagged],
        "scores": {category.value: score for category, score in decision.scores.items()},
        "clauses": list(decision.clauses),
        "evidence": [
            {
                "category": item.category.value,
                "kind": item.kind,
                "start": item.start,
                "end": item.end,
                "source": item.source,
                "score": item.score,
                **_head_evidence(item, text),
            }
            for item in decision.evidence
        ],
        "scorer": decision.scorer,
        "language": decision.language,
        "assessed": decision.assessed,
        "urgency": decision.urgency.value if decision.urgency is not None else None,
        **({"notes": dict(notes)} if notes is not None else {}),
    }


def _head_evidence(item: Evidence, text: str | None) -> dict[str, Any]:
    if item.threshold is None:
        return {}
    found: dict[str, Any] = {"threshold": item.threshold, "similar": list(item.similar)}
    if text is not None:
        found["sentence"] = text if item.start is None or item.end is None else text[item.start : item.end]
    return found


def print_scorer_banner(console: Console, loaded: LoadedScorer) -> None:
    """Say loudly when the bot is not scoring with Detoxify."""
    if loaded.is_fallback:
        console.print(
            Panel(
                f"Detoxify is NOT loaded: scoring with [bold]{escape(loaded.scorer.name)}[/bold] "
                f"and the policy's phrase detectors.\n{escape(loaded.reason or '')}",
                title="fallback scorer",
                border_style="bold yellow",
            )
        )


def print_decision(
    console: Console, text: str, decision: Decision, notes: Mapping[str, str] | None = None
) -> None:
    """One decision, explained, for ``classmod check``; ``notes`` replace the English reminder shown."""
    style = _ACTION_STYLE[decision.action.value]
    console.print(f"[{style}]{decision.action.value.upper()}[/{style}]  {escape(decision.explanation)}")
    if decision.clauses:
        console.print(f"clauses: {', '.join(decision.clauses)}")
    for item in decision.evidence:
        where = ""
        if item.start is not None and item.end is not None:
            fragment = text[item.start : item.end]
            shown = "[masked]" if item.category is Category.PERSONAL_DATA else escape(fragment)
            where = f" at {item.start}-{item.end} “{shown}”"
        console.print(f"  {item.category.value}: {item.kind} ({item.source}, {item.score:.2f}){where}")
        for example in item.similar:
            console.print(f"    similar to: “{escape(example)}”", style="dim")
    if decision.urgency is not None:
        console.print(f"urgency: {decision.urgency.value}")
    writes = any(action.kind in (ActionKind.REMIND, ActionKind.WARN) for action in decision.actions)
    if notes:
        for kind, note in notes.items():
            title = "formal warning to the author" if kind == "warn" else "private message to the author"
            console.print(Panel(escape(note), title=title, border_style="yellow"))
    elif decision.reminder and writes:
        console.print(
            Panel(escape(decision.reminder), title="private message to the author", border_style="yellow")
        )
    console.print(f"scorer: {escape(decision.scorer)}", style="dim")


def print_replay(console: Console, lines: Sequence[TranscriptLine], outcomes: Sequence[Outcome]) -> None:
    """A table of every message's decision, then a summary per category."""
    table = Table(title="Decisions", show_lines=False, expand=False)
    for column in ("#", "author", "role", "message", "action", "flagged", "clauses"):
        table.add_column(column, overflow="fold")
    per_category: Counter[str] = Counter()
    per_action: Counter[str] = Counter()
    for line, outcome in zip(lines, outcomes, strict=True):
        message = line.message
        decision = outcome.decision
        preview = _preview(mask_personal_data(message.text)) + (" [photo]" if message.has_photo else "")
        if message.is_edit:
            preview = f"(edit) {preview}"
        if outcome.error:
            action, flagged, clauses = "[red]error[/red]", escape(outcome.error), ""
        elif decision is None:
            action, flagged, clauses = "duplicate", "", ""
        else:
            plan = " + ".join(action.kind.value for action in decision.actions) or "allow"
            action = f"[{_ACTION_STYLE[decision.action.value]}]{plan}[/]"
            flagged = ", ".join(category.value for category in decision.flagged)
            clauses = ", ".join(decision.clauses)
            per_category.update(category.value for category in decision.flagged)
            per_action.update(action.kind.value for action in decision.actions)
            if not decision.actions:
                per_action["allow"] += 1
        table.add_row(
            str(line.number),
            escape(message.author.display_name),
            message.author.role.value,
            escape(preview),
            action,
            flagged,
            clauses,
        )
    console.print(table)
    summary = Table(title="Summary")
    summary.add_column("category")
    summary.add_column("messages flagged", justify="right")
    for category in Category:
        summary.add_row(category.value, str(per_category.get(category.value, 0)))
    console.print(summary)
    console.print(
        "actions: "
        + ", ".join(f"{kind} {per_action.get(kind, 0)}" for kind in _ACTION_STYLE)
        + f" · {len(lines)} messages"
    )


def print_queue(console: Console, cases: Sequence[CaseRecord], *, is_queue: bool = False) -> None:
    """A list of cases, titled with what it holds: the moderators' queue (open cases), or any cases."""
    still_open = sum(1 for case in cases if case.is_open)
    title = (
        f"Moderators' queue: {still_open} open case(s)"
        if is_queue
        else f"Cases, newest first: {len(cases)} shown, {still_open} open, {len(cases) - still_open} closed"
    )
    table = Table(title=title)
    for column in ("case", "status", "when", "author", "message (masked)", "flagged", "action", "route"):
        table.add_column(column, overflow="fold")
    for case in cases:
        text = "[text purged]" if case.text is None else _preview(mask_personal_data(case.text))
        table.add_row(
            f"#{case.id}",
            case.status,
            case.created_at.strftime("%a %d %b %H:%M"),
            escape(case.author_name),
            escape(text),
            ", ".join(category.value for category in case.flagged),
            case.top_action.value,
            (case.route.value if case.route else "") + (f" · {case.urgency.value}" if case.urgency else ""),
        )
    console.print(table)


def print_case(
    console: Console,
    case: CaseRecord,
    actions: Sequence[ActionRecord],
    appeals: Sequence[AppealRecord] = (),
    audit: Sequence[tuple[datetime, str, str, str]] = (),
) -> None:
    """One case, in full, for a moderator; personal details are masked when personal data was flagged.

    ``audit``: who has seen an officer-only case (when, who, how, via).
    """
    text = (
        "[text purged after the retention period]"
        if case.text is None
        else safe_text(case.text, case.flagged)
    )
    body = [
        f"[bold]case #{case.id}[/bold] · {case.status} · {case.platform} "
        f"chat {escape(case.chat_id)} message {escape(case.message_id)}",
        f"author: {escape(case.author_name)} ({case.author_role.value}, id {escape(case.author_id)}) "
        f"· {case.created_at:%Y-%m-%d %H:%M} UTC",
        f"message: {escape(text)}",
        f"flagged: {', '.join(c.value for c in case.flagged)} · clauses {', '.join(case.clauses)}"
        + (f" · urgency {case.urgency.value}" if case.urgency else ""),
        f"explanation: {escape(case.explanation)}",
        f"scorer: {escape(case.scorer)}",
        "evidence:",
    ]
    body += [
        f"  {item.category.value}: {item.kind} ({item.source}, {item.score:.2f}) {item.start}-{item.end}"
        for item in case.evidence
    ]
    body.append("actions:")
    body += [
        f"  {record.at:%H:%M:%S} {escape(record.actor)} {record.action}: {record.outcome}"
        + (f" ({escape(record.detail)})" if record.detail else "")
        for record in actions
    ]
    body.append("appeals:" if appeals else "appeals: none")
    body += [
        f"  {appeal.at:%Y-%m-%d %H:%M} {appeal.status}: "
        + escape(
            " ".join(mask_personal_data(appeal.reason).split()) if appeal.reason else "(no reason given)"
        )
        for appeal in appeals
    ]
    if audit:
        body.append("seen by (audit log):")
        body += [
            f"  {at:%Y-%m-%d %H:%M} {escape(actor)} {action} via {via}" for at, actor, action, via in audit
        ]
    console.print(Panel("\n".join(body), border_style="magenta"))


def print_schema_upgrade(console: Console, upgrade: SchemaUpgrade, database: str) -> None:
    """What ``classmod db upgrade`` did to the schema: from which revision to which, or nothing."""
    where = escape(database)
    if upgrade.before is None:
        console.print(f"created the database schema at revision {upgrade.after} in {where}")
    elif upgrade.is_from_previous_release:
        console.print(
            f"upgraded the database schema from revision {upgrade.before} (made before classmod had "
            f"migrations, now stamped) to revision {upgrade.after} in {where}"
        )
    elif upgrade.is_change:
        console.print(
            f"upgraded the database schema from revision {upgrade.before} "
            f"to revision {upgrade.after} in {where}"
        )
    else:
        console.print(
            f"the database schema in {where} is at revision {upgrade.after}, the newest this classmod "
            "knows: nothing to do"
        )


def print_learning(console: Console, learning: Learning) -> None:
    """How many reviewed cases were used per label, and the heads before and after on the held-out split."""
    verdicts = learning.verdicts
    used = ", ".join(f"{label} {count}" for label, count in sorted(verdicts.used.items())) or "none"
    console.print(f"reviewed cases used: {escape(used)}")
    if verdicts.skipped:
        skipped = ", ".join(f"{count} ({reason})" for reason, count in sorted(verdicts.skipped.items()))
        console.print(f"left out: {escape(skipped)}")
    if not learning.after:
        return
    before = {score.category: score for score in learning.before or ()}
    compared = "in use → learned" if learning.before is not None else "learned"
    table = Table(title=f"held-out split, {compared} (in use: {escape(learning.before_name)})")
    for column in ("category", "recall", "false positives on ordinary", "precision"):
        table.add_column(column)
    for score in learning.after:
        old = before.get(score.category)
        table.add_row(
            score.category.value,
            _change(score.recall, old.recall if old else None),
            _change(score.false_positive_rate, old.false_positive_rate if old else None),
            _change(score.precision, old.precision if old else None),
        )
    console.print(table)


def _change(value: float, previous: float | None) -> str:
    return f"{value:.3f}" if previous is None else f"{previous:.3f} → {value:.3f}"


def print_policy(console: Console, policy: Policy) -> None:
    """The clauses as a table."""
    table = Table(title=f"{policy.name} (version {policy.version})", show_lines=True)
    for column in ("clause", "title", "applies to", "categories", "enforced"):
        table.add_column(column, overflow="fold")
    for clause in policy.clauses:
        enforced = "yes" if clause.is_enforced else f"no: {clause.not_enforced_reason}"
        table.add_row(
            clause.id,
            escape(clause.title),
            clause.applies_to.value,
            ", ".join(c.value for c in clause.categories),
            escape(enforced),
        )
    console.print(table)


def print_groups(console: Console, groups: Sequence[GroupRecord]) -> None:
    """Known groups."""
    table = Table(title="Groups")
    for column in ("platform", "chat", "title", "authorised", "by"):
        table.add_column(column)
    for group in groups:
        table.add_row(
            group.platform,
            escape(group.chat_id),
            escape(group.title or ""),
            "yes" if group.is_authorised else "no",
            escape(group.authorised_by or ""),
        )
    console.print(table)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _PREVIEW else flat[: _PREVIEW - 1] + "…"
