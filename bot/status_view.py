"""``classmod status``: what the bot runs with, and how the service is doing.

Besides the scorer, store and policy: safeguarding response times per level, and per group the messages in
languages the scorers do not cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from moderation.types import Urgency

if TYPE_CHECKING:
    from bot.app import Services
    from bot.store import ResponseTime

__all__ = ["RESPONSE_DAYS", "UNASSESSED_DAYS", "print_status"]

RESPONSE_DAYS = 30
"""How far back `classmod status` reports how fast safeguarding cases were acknowledged."""
UNASSESSED_DAYS = 7
"""How far back `classmod status` counts messages in languages the scorers do not cover."""


def print_status(console: Console, services: Services) -> None:
    """Scorer, store, policy and counts."""
    loaded = services.loaded
    table = Table(show_header=False, title="classmod status")
    table.add_column("what")
    table.add_column("value", overflow="fold")
    scorer = (
        f"[bold yellow]{escape(loaded.scorer.name)} (FALLBACK)[/bold yellow]\n{escape(loaded.reason or '')}"
        if loaded.is_fallback
        else escape(loaded.scorer.name)
    )
    table.add_row("scorer", scorer)
    table.add_row(
        "policy heads",
        escape(loaded.heads)
        if loaded.heads
        else f"[bold yellow]not in use[/bold yellow]: {escape(loaded.heads_reason or '')}",
    )
    if loaded.heads_engine:
        table.add_row("encoder engine", escape(loaded.heads_engine))
    engine = getattr(loaded.model, "engine", None)
    if engine is not None:
        drift = getattr(loaded.model, "engine_drift", None)
        measured = (
            f" (max drift from fp32 {drift:.4f} on the probes)" if drift is not None else " (fp32 reference)"
        )
        note = getattr(loaded.model, "engine_note", None)
        device = getattr(loaded.model, "device", None)
        where = f" on {device}" if device else ""
        table.add_row("engine", f"{engine}{where}{measured}" + (f"\n{escape(note)}" if note else ""))
    scoring = services.scoring
    if scoring is not None:
        lanes = (
            f"; messages over {scoring.long_text_chars} characters in a lane of their own"
            if scoring.long_text_chars is not None
            else "; one lane"
        )
        reuse = (
            f"; scores of the last {scoring.cache_size} distinct messages kept"
            if scoring.cache_size
            else "; every message scored, repeats too"
        )
        table.add_row(
            "batching",
            f"up to {scoring.max_batch} messages, {scoring.window * 1000:g} ms window{lanes}{reuse}",
        )
    table.add_row("store", escape(services.store.url_for_display))
    table.add_row("schema", f"revision {escape(services.store.schema_revision() or 'none')}")
    table.add_row("policy", f"{escape(services.policy.name)} (version {escape(services.policy.version)})")
    table.add_row("retention", f"{services.settings.retention_days} days")
    for name, count in services.store.counts().items():
        table.add_row(name.replace("_", " "), str(count))
    table.add_row(
        f"safeguarding response ({RESPONSE_DAYS} days)",
        _response_summary(services.store.response_times(datetime.now(UTC) - timedelta(days=RESPONSE_DAYS))),
    )
    since = datetime.now(UTC).date() - timedelta(days=UNASSESSED_DAYS)
    unassessed = services.store.unassessed_counts(since)
    table.add_row(
        f"not fully assessed ({UNASSESSED_DAYS} days)",
        "\n".join(
            f"{escape(item.platform)} {escape(item.chat_id)}: {item.messages} in {escape(item.language)}"
            for item in unassessed
        )
        or "none: every message was in a language the scorers cover",
    )
    console.print(table)


def _response_summary(times: Sequence[ResponseTime]) -> str:
    """Per level: cases, how many still unacknowledged, the median and slowest time to an answer."""
    lines = []
    for level in Urgency:
        cases = [item for item in times if item.urgency is level]
        if not cases:
            continue
        answered = sorted(item.seconds for item in cases if item.seconds is not None)
        waiting = len(cases) - len(answered)
        timing = (
            f"; acknowledged in median {_duration(median(answered))}, slowest {_duration(answered[-1])}"
            if answered
            else ""
        )
        alert = f", [bold red]{waiting} not yet acknowledged[/bold red]" if waiting else ""
        lines.append(f"{level.value}: {len(cases)} case(s){alert}{timing}")
    return "\n".join(lines) or "no safeguarding cases"


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"
