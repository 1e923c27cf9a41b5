"""``classmod check``: assess texts statelessly (no store, no history), one or a stream of JSON lines.

The texts are scored through the same :class:`ScoringService` as the running bot's (built by
``bot.app.scoring_service``): one scoring path, with its lanes, its digest cache and its handling of a
batch the model fails on. ``check --json`` hands it ``CHECK_BATCH`` lines at a time and lets it score
them as one batch (the chat's smaller batches are for latency, which a batch job does not need).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from bot import texts, views
from bot.app import scoring_service
from bot.cli import common
from bot.cli.common import _fail, _settings, app
from bot.config import Settings
from bot.json_input import read_object
from bot.languages import catalogue
from moderation.engine import assess
from moderation.errors import ModerationError, ScorerError
from moderation.language_detection import covered_languages
from moderation.policy import Policy, load_policy
from moderation.scorers.base import hits_of
from moderation.serving.batching import ScoringService
from moderation.serving.loading import LoadedScorer
from moderation.types import AuthorHistory, Decision, ModelScores, Role

__all__ = ["CHECK_BATCH", "check", "deciding"]

RoleOption = Annotated[Role, typer.Option("--role", help="the author's role")]
CHECK_BATCH = 128  # lines scored together by `check --json`: the encoder gains up to 1.6x over 32
Decide = Callable[[list[tuple[str, Role]]], list[Decision]]


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
    language: Annotated[
        str | None,
        typer.Option("--language", help="show what the author would be sent, in this language (pl, ar, ...)"),
    ] = None,
) -> None:
    """Assess text statelessly (no store, no history) and show the decision."""
    settings = _settings(ctx)
    if text is None and not as_json:
        raise _fail("give TEXT, or --json to read JSON lines from standard input")
    code = catalogue().resolve(language) if language is not None else None
    if language is not None and code is None:
        raise _fail(f"no texts in {language!r}; the languages are: {catalogue().listing()}")
    try:
        policy = load_policy(settings.policy_file)
        # A batch job keeps nobody waiting: batches as big as the lines it hands over at once.
        batch = max(settings.scoring_batch_size, CHECK_BATCH)
        scoring = scoring_service(settings, _load_scorer(settings, policy).scorer, max_batch=batch)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    languages = covered_languages(scoring.name, settings.encoder_languages)
    with deciding(scoring, policy, languages) as decide:
        if text is None:
            # Bytes, not text: one line that is not UTF-8 must not cost the lines around it.
            for line in _check_lines(sys.stdin.buffer, decide, policy, code):
                sys.stdout.buffer.write(line + b"\n")
                sys.stdout.buffer.flush()
            return
        decision = decide([(text, role)])[0]
    notes = None if code is None else texts.learner_notes(policy, decision, code)
    if as_json:
        sys.stdout.buffer.write(_json_line(views.decision_json(None, decision, text, notes)) + b"\n")
    else:
        views.print_decision(common.out, text, decision, notes)


def _load_scorer(settings: Settings, policy: Policy) -> LoadedScorer:
    # Looked up on the package when called: bot.cli.load_scorer is where a test swaps in its own model.
    from bot import cli

    return cli.load_scorer(settings, policy)


@contextlib.contextmanager
def deciding(
    scoring: ScoringService, policy: Policy, languages: frozenset[str] = frozenset({"en"})
) -> Iterator[Decide]:
    """Decide batches of texts statelessly, as ``check`` does, scoring them through ``scoring``.

    The service's workers live on one event loop, kept for the whole block and stopped at its end.

    Yields:
        A function from (text, role) pairs to their decisions, in the same order.
    """
    with asyncio.Runner() as runner:
        try:
            yield lambda items: runner.run(_decide(items, scoring, policy, languages))
        finally:
            runner.run(scoring.close())


def _check_lines(
    lines: Iterable[bytes], decide: Decide, policy: Policy, language: str | None = None
) -> Iterator[bytes]:
    pending: list[tuple[Any, str, Role]] = []

    def flush() -> Iterator[bytes]:
        return _flush(pending, decide, policy, language)

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
            yield from flush()
            yield _json_line({"id": item_id, "error": f"line {number}: {exc}"})
            continue
        pending.append((item_id, text, role))
        if len(pending) >= CHECK_BATCH:
            yield from flush()
    yield from flush()


def _json_line(item: dict[str, Any]) -> bytes:
    return json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _flush(
    pending: list[tuple[Any, str, Role]], decide: Decide, policy: Policy, language: str | None
) -> Iterator[bytes]:
    if not pending:
        return
    decisions = decide([(text, role) for _, text, role in pending])
    for (item_id, text, _), decision in zip(pending, decisions, strict=True):
        notes = None if language is None else texts.learner_notes(policy, decision, language)
        yield _json_line(views.decision_json(item_id, decision, text, notes))
    pending.clear()


async def _decide(
    items: list[tuple[str, Role]], scoring: ScoringService, policy: Policy, languages: frozenset[str]
) -> list[Decision]:
    now = datetime.now(UTC)
    decisions = []
    scored = await _score([text for text, _ in items], scoring)
    for (text, role), (scores, error) in zip(items, scored, strict=True):
        message = views.message_for_check(text, role, now)
        model = ModelScores(
            scorer=scoring.name, labels=scores or {}, error=error, hits=hits_of(scores), languages=languages
        )
        decisions.append(assess(message, AuthorHistory(), policy, now, model))
    return decisions


async def _score(
    texts: list[str], scoring: ScoringService
) -> list[tuple[dict[str, float] | None, str | None]]:
    # All at once, so the service fills whole batches; a batch the model fails on fails all its texts.
    answers = await asyncio.gather(*(scoring.score(text) for text in texts), return_exceptions=True)
    results: list[tuple[dict[str, float] | None, str | None]] = []
    for text, answer in zip(texts, answers, strict=True):
        if isinstance(answer, ScorerError) and len(texts) > 1:
            # One message the model cannot score must not cost its batch: find it by scoring it alone.
            results += await _score([text], scoring)
        elif isinstance(answer, ScorerError):
            results.append((None, str(answer)))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            results.append((answer, None))
    return results
