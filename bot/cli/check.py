"""``classmod check``: assess texts statelessly (no store, no history), one or a stream of JSON lines.

The texts are scored through the same :class:`ScoringService` as the running bot's (built by
``bot.app.scoring_service``): one scoring path, with its lanes, its digest cache and its handling of a
batch the model fails on. ``check --json`` hands it ``CHECK_BATCH`` lines at a time and lets it score
them as one batch (the chat's smaller batches are for latency, which a batch job does not need),
and decides and prints each batch while the next is scored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from queue import Empty, Queue
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

__all__ = ["CHECK_BATCH", "Decider", "check", "deciding"]

RoleOption = Annotated[Role, typer.Option("--role", help="the author's role")]
CHECK_BATCH = 128  # lines scored together by `check --json`: the encoder gains up to 1.6x over 32
_PAUSE_S = 0.05
"""Input this late is a pause: ``check --json`` scores and prints what it has read meanwhile."""


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


class Decider:
    """Decides texts statelessly, as ``check`` does, with the scoring service on its own event loop.

    The loop runs in a thread of its own, so scoring a batch (:meth:`start`) and deciding the batch
    scored before it (:meth:`finish`, on the caller's thread) overlap: ``check --json`` reads and scores
    the next lines while it decides and prints these. Calling the decider does both for one batch.
    """

    def __init__(self, scoring: ScoringService, policy: Policy, languages: frozenset[str]) -> None:
        self.scoring = scoring
        self.policy = policy
        self.languages = languages
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="classmod-check", daemon=True)
        self._thread.start()

    def start(self, items: list[tuple[str, Role]]) -> Scored:
        """Start scoring the texts; the decisions come from :meth:`finish`."""
        future = asyncio.run_coroutine_threadsafe(_score([t for t, _ in items], self.scoring), self._loop)
        return Scored(items, future)

    def finish(self, scored: Scored) -> list[Decision]:
        """The decisions on a batch :meth:`start` began, in its order (waiting for its scores)."""
        now = datetime.now(UTC)
        decisions = []
        for (text, role), (scores, error) in zip(scored.items, scored.future.result(), strict=True):
            message = views.message_for_check(text, role, now)
            model = ModelScores(
                scorer=self.scoring.name,
                labels=scores or {},
                error=error,
                hits=hits_of(scores),
                languages=self.languages,
            )
            decisions.append(assess(message, AuthorHistory(), self.policy, now, model))
        return decisions

    def __call__(self, items: list[tuple[str, Role]]) -> list[Decision]:
        """Score and decide one batch."""
        return self.finish(self.start(items))

    def close(self) -> None:
        """Stop the scoring service's workers, then the loop and its thread."""
        try:
            asyncio.run_coroutine_threadsafe(self.scoring.close(), self._loop).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()


@dataclass(frozen=True, slots=True)
class Scored:
    """A batch being scored: its (text, role) pairs and, when done, each text's scores or error."""

    items: list[tuple[str, Role]]
    future: concurrent.futures.Future[list[tuple[dict[str, float] | None, str | None]]]


@contextlib.contextmanager
def deciding(
    scoring: ScoringService, policy: Policy, languages: frozenset[str] = frozenset({"en"})
) -> Iterator[Decider]:
    """A :class:`Decider` for the block, its scoring service stopped at the block's end."""
    decider = Decider(scoring, policy, languages)
    try:
        yield decider
    finally:
        decider.close()


def _check_lines(
    lines: Iterable[bytes], decider: Decider, policy: Policy, language: str | None = None
) -> Iterator[bytes]:
    """Each line's output, in input order.

    Lines are scored ``CHECK_BATCH`` at a time, each batch while the one before it is decided and
    printed, so the model is not idle while decisions are written. When the input pauses (a stream,
    not a file), what has been read is scored and printed without waiting for a whole batch.
    """
    chunk: list[tuple[Any, str, Role] | bytes] = []  # lines in order: items to decide, or error lines
    previous: tuple[list[tuple[Any, str, Role] | bytes], Scored] | None = None

    def finish() -> Iterator[bytes]:
        nonlocal previous
        if previous is None:
            return
        entries, scored = previous
        previous = None
        decisions = iter(decider.finish(scored))
        for entry in entries:
            if isinstance(entry, bytes):
                yield entry
                continue
            item_id, text, _ = entry
            decision = next(decisions)
            notes = None if language is None else texts.learner_notes(policy, decision, language)
            yield _json_line(views.decision_json(item_id, decision, text, notes))

    def close_chunk() -> Iterator[bytes]:
        nonlocal chunk, previous
        scored = decider.start([(entry[1], entry[2]) for entry in chunk if not isinstance(entry, bytes)])
        yield from finish()
        previous, chunk = (chunk, scored), []

    items = 0
    number = 0
    for raw in _read_ahead(lines):
        if raw is None:  # a pause in the input
            yield from close_chunk() if chunk else finish()
            continue
        number += 1
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
            chunk.append(_json_line({"id": item_id, "error": f"line {number}: {exc}"}))
            continue
        chunk.append((item_id, text, role))
        items += 1
        if items % CHECK_BATCH == 0:
            yield from close_chunk()
    if chunk:
        yield from close_chunk()
    yield from finish()


def _read_ahead(lines: Iterable[bytes]) -> Iterator[bytes | None]:
    """The lines, read in a thread of their own; ``None`` each time the next is ``_PAUSE_S`` late."""
    # A few lines ahead is enough to keep the main thread from waiting on a read; more would only hold
    # more of a hostile input's megabyte lines in memory beside the two batches in hand.
    queue: Queue[bytes | BaseException | None] = Queue(maxsize=16)

    def read() -> None:
        try:
            for line in lines:
                queue.put(line)
        except BaseException as exc:  # an unreadable input ends it; the reader says why
            queue.put(exc)
        queue.put(None)

    threading.Thread(target=read, name="classmod-check-input", daemon=True).start()
    while True:
        try:
            line = queue.get(timeout=_PAUSE_S)
        except Empty:
            yield None
            continue
        if line is None:
            return
        if isinstance(line, BaseException):
            raise line
        yield line


def _json_line(item: dict[str, Any]) -> bytes:
    return json.dumps(item, ensure_ascii=False, allow_nan=False).encode("utf-8")


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
