"""``classmod check``: assess texts statelessly (no store, no history), one or a stream of JSON lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from bot import views
from bot.cli import common
from bot.cli.common import _fail, _settings, app
from bot.config import Settings
from bot.json_input import read_object
from moderation.engine import assess
from moderation.errors import ModerationError
from moderation.policy import Policy, load_policy
from moderation.scorers.base import TextScorer, hits_of
from moderation.scorers.detoxify_scorer import LoadedScorer
from moderation.types import AuthorHistory, Decision, ModelScores, Role

__all__ = ["CHECK_BATCH", "check"]

RoleOption = Annotated[Role, typer.Option("--role", help="the author's role")]
CHECK_BATCH = 128  # lines scored together by `check --json`: the encoder gains up to 1.6x over 32


@app.command()
def check(
    ctx: typer.Context,
    text: Annotated[
        str | None, typer.Argument(help="text to assess; omit with --json to read JSON lines")
    ] = None,
    role: RoleOption = Role.LEARNER,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON output; with no TEXT, JSON lines in and out")
    ] = False,
) -> None:
    """Assess text statelessly (no store, no history) and show the decision."""
    settings = _settings(ctx)
    if text is None and not as_json:
        raise _fail("give TEXT, or --json to read JSON lines from standard input")
    try:
        policy = load_policy(settings.policy_file)
        scorer = _load_scorer(settings, policy).scorer
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    if text is None:
        # Bytes, not text: one line that is not UTF-8 must not cost the lines around it.
        for line in _check_lines(sys.stdin.buffer, scorer, policy):
            sys.stdout.buffer.write(line + b"\n")
            sys.stdout.buffer.flush()
        return
    decision = _decide([(text, role)], scorer, policy)[0]
    if as_json:
        sys.stdout.buffer.write(_json_line(views.decision_json(None, decision, text)) + b"\n")
    else:
        views.print_decision(common.out, text, decision)


def _load_scorer(settings: Settings, policy: Policy) -> LoadedScorer:
    # Looked up on the package when called: bot.cli.load_scorer is where a test swaps in its own model.
    from bot import cli

    return cli.load_scorer(settings, policy)


def _check_lines(lines: Iterable[bytes], scorer: TextScorer, policy: Policy) -> Iterator[bytes]:
    pending: list[tuple[Any, str, Role]] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        item_id: Any = number
        try:
            item = read_object(raw)
            item_id = item.get("id", number)
            text = item.get("text")
            if not isinstance(text, str):
                raise ValueError("'text' must be a string")
            role = Role(item.get("role", "learner"))
        except ValueError as exc:
            # Keep the output in input order: finish what is pending, then report this line.
            yield from _flush(pending, scorer, policy)
            yield _json_line({"id": item_id, "error": f"line {number}: {exc}"})
            continue
        pending.append((item_id, text, role))
        if len(pending) >= CHECK_BATCH:
            yield from _flush(pending, scorer, policy)
    yield from _flush(pending, scorer, policy)


def _json_line(item: dict[str, Any]) -> bytes:
    return json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _flush(pending: list[tuple[Any, str, Role]], scorer: TextScorer, policy: Policy) -> Iterator[bytes]:
    if not pending:
        return
    decisions = _decide([(text, role) for _, text, role in pending], scorer, policy)
    for (item_id, text, _), decision in zip(pending, decisions, strict=True):
        yield _json_line(views.decision_json(item_id, decision, text))
    pending.clear()


def _decide(items: list[tuple[str, Role]], scorer: TextScorer, policy: Policy) -> list[Decision]:
    now = datetime.now(UTC)
    decisions = []
    for (text, role), (scores, error) in zip(items, _score([text for text, _ in items], scorer), strict=True):
        message = views.message_for_check(text, role, now)
        model = ModelScores(scorer=scorer.name, labels=scores or {}, error=error, hits=hits_of(scores))
        decisions.append(assess(message, AuthorHistory(), policy, now, model))
    return decisions


def _score(texts: list[str], scorer: TextScorer) -> list[tuple[dict[str, float] | None, str | None]]:
    try:
        return [(labels, None) for labels in scorer.score_batch(texts)]
    except ModerationError as exc:
        if len(texts) == 1:
            return [(None, str(exc))]
    # One message the model cannot score must not cost its batch: find it by scoring them singly.
    return [result for text in texts for result in _score([text], scorer)]
