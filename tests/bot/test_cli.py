"""The ``classmod`` command line, driven in-process through Typer's runner, as a user would run it."""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import selectors
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import detoxify.detoxify
import pytest
import sqlalchemy as sa
import typer
from cryptography.fernet import Fernet
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner, Result

from bot.cli import app
from bot.cli.check import CHECK_BATCH
from bot.schema import VERSION_TABLE, head_revision
from bot.store import CASE_STATUSES, Store
from moderation.errors import ScorerError
from moderation.heads.dataset import HEAD_CATEGORIES
from moderation.policy import default_policy_path, load_policy
from moderation.serving.loading import LoadedScorer
from moderation.serving.sentence_encoder import DEFAULT_ENCODER_SHA256, verify_encoder
from moderation.types import Category
from tests.bot.test_learning import NARROW_FEATURES, decided_case, write_training_data
from tests.bot.test_schema import Database, build_previous_release
from tests.fakes.file_server import FileServer, serving

# The contracted keys (issue 12 keeps them), then the language, how fully it was assessed, and urgency.
CHECK_KEYS = {
    "id",
    "action",
    "actions",
    "flagged",
    "scores",
    "clauses",
    "evidence",
    "scorer",
    "language",
    "assessed",
    "urgency",
}
EVIDENCE_KEYS = {"category", "kind", "start", "end", "source", "score"}
FALLBACK = "fallback:alt-profanity-check"
PHONE_TEXT = "call me on 07700 900123"
POLISH_PHONE_TEXT = "Zadzwoń do mnie wieczorem, mój numer to 07700 900456, dziękuję bardzo"
STAFF_TEXT = "Add me on my personal instagram"
# Environment variables the test suite itself uses; loading the settings must ignore them.
SUITE_VARIABLES = {"CLASSMOD_TEST_POSTGRES_URL", "CLASSMOD_REQUIRE_POSTGRES", "CLASSMOD_HEADS"}


class Cli:
    """Runs ``classmod`` in-process in a scratch working directory."""

    def __init__(self, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.directory = directory
        self.database_url = f"sqlite:///{directory / 'x.db'}"
        self._monkeypatch = monkeypatch
        self._runner = CliRunner()

    def setenv(self, name: str, value: str) -> None:
        self._monkeypatch.setenv(name, value)

    def delenv(self, name: str) -> None:
        self._monkeypatch.delenv(name, raising=False)

    def __call__(self, *args: str, input: str | bytes | None = None) -> Result:
        return self._runner.invoke(app, list(args), input=input)

    def json_lines(self, *args: str, input: str | bytes | None = None) -> list[dict[str, object]]:
        result = self("check", "--json", *args, input=input)
        assert result.exit_code == 0, result.output
        # Strict JSON, as other languages read it: NaN and Infinity are not JSON.
        return [json.loads(line, parse_constant=_not_json) for line in result.stdout.splitlines()]


def _not_json(name: str) -> None:
    raise AssertionError(f"{name} in the output is not JSON")


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    for name in list(os.environ):
        if name.startswith("CLASSMOD_") and name not in SUITE_VARIABLES:
            monkeypatch.delenv(name)
    # CI sets these for the store's tests; they must not disturb the command line.
    monkeypatch.setenv("CLASSMOD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    monkeypatch.setenv("CLASSMOD_REQUIRE_POSTGRES", "0")
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # Rich tables one row per line
    monkeypatch.chdir(tmp_path)
    runner = Cli(tmp_path, monkeypatch)
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", runner.database_url)
    monkeypatch.setenv("CLASSMOD_MODEL_DIR", str(tmp_path / "models"))
    # `replay` quietens the pipeline's logger; keep that from leaking into other tests.
    pipeline_logger = logging.getLogger("bot.pipeline")
    level = pipeline_logger.level
    yield runner
    pipeline_logger.setLevel(level)


@pytest.fixture(scope="module")
def detoxify_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding the tiny model as the default variant, ``unbiased-small/``."""
    from tests.tinymodel import build_tiny_detoxify

    directory = tmp_path_factory.mktemp("detoxify-models")
    build_tiny_detoxify(directory, variant="unbiased-small")
    return directory


def _transcript(directory: Path, lines: list[dict[str, object]], name: str = "chat.jsonl") -> Path:
    path = directory / name
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def _class_chat(directory: Path, *, recent: bool = False) -> Path:
    """A small chat in January 2020: a tutor, two learners, a rude message edited away, a photo."""
    start = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)

    def at(minutes: int) -> str:
        return (start + timedelta(minutes=minutes)).isoformat()

    lines: list[dict[str, object]] = [
        {
            "id": "m1",
            "at": at(0),
            "author": "sam",
            "name": "Sam",
            "role": "tutor",
            "text": "Morning all, class is in Room 12 at 10:30.",
        },
        {
            "id": "m2",
            "at": at(1),
            "author": "amina",
            "name": "Amina",
            "text": "My number is 07700 900123, text me",
        },
        {"id": "m3", "at": at(2), "author": "piotr", "name": "Piotr", "text": "you are an idiot"},
        {
            "id": "m4",
            "at": at(3),
            "author": "piotr",
            "name": "Piotr",
            "edit_of": "m3",
            "text": "sorry, see you in class",
        },
        {"id": "m5", "at": at(4), "author": "amina", "name": "Amina", "text": "Our trip!", "photo": True},
        {"id": "m6", "at": at(5), "author": "sam", "name": "Sam", "role": "tutor", "text": STAFF_TEXT},
    ]
    if recent:
        lines.append(
            {
                "id": "m7",
                "at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                "author": "amina",
                "name": "Amina",
                "text": "this homework is shit",
            }
        )
    return _transcript(directory, lines)


def _table_rows(output: str) -> list[list[str]]:
    """The cells of each row of the Rich tables in ``output``."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


# --- check ---------------------------------------------------------------------------------------


def test_check_prints_the_action_the_clause_and_the_scorer(cli: Cli) -> None:
    result = cli("check", "you are an idiot")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ESCALATE")
    assert "4.2" in result.stdout
    assert "private message to the author" in result.stdout
    assert f"scorer: {FALLBACK}" in result.stdout


def test_check_allows_an_ordinary_message(cli: Cli) -> None:
    result = cli("check", "See you in class tomorrow, I will bring the book")

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ALLOW")
    assert "private message" not in result.stdout


def test_check_masks_personal_data_in_its_explanation(cli: Cli) -> None:
    result = cli("check", PHONE_TEXT)

    assert result.stdout.startswith("ESCALATE")
    assert "phone" in result.stdout
    assert "07700 900123" not in result.stdout


def test_check_json_prints_one_object_with_the_contracted_keys(cli: Cli) -> None:
    [decision] = cli.json_lines(PHONE_TEXT)

    assert set(decision) == CHECK_KEYS
    assert decision["id"] is None
    assert decision["action"] == "escalate"
    assert decision["actions"] == ["hide", "remind", "escalate"]
    assert decision["flagged"] == ["personal_data"]
    assert decision["clauses"] == ["4.7"]
    assert decision["scorer"] == FALLBACK
    scores = decision["scores"]
    assert isinstance(scores, dict)
    assert set(scores) == {category.value for category in Category}
    assert all(0.0 <= score <= 1.0 for score in scores.values())
    [evidence] = decision["evidence"]  # type: ignore[misc]
    assert set(evidence) == EVIDENCE_KEYS
    assert evidence["category"] == "personal_data"
    assert evidence["kind"] == "phone"
    assert PHONE_TEXT[evidence["start"] : evidence["end"]] == "07700 900123"


def test_check_language_shows_what_the_learner_would_receive_in_it(cli: Cli) -> None:
    [decision] = cli.json_lines("--language", "pl", PHONE_TEXT)
    [lines] = cli.json_lines("--language", "ar", input=json.dumps({"text": PHONE_TEXT}) + "\n")
    shown = cli("check", "--language", "pl", PHONE_TEXT)
    unknown = cli("check", "--language", "klingon", PHONE_TEXT)

    policy = load_policy()
    polish, english = policy.reminder_text(["clause:4.7"], "pl"), policy.reminder_text(["clause:4.7"])
    assert decision["notes"] == {"remind": f"{polish}\n\n{english}"}
    assert set(decision) == CHECK_KEYS | {"notes"}
    notes = lines["notes"]
    assert isinstance(notes, dict) and notes["remind"].startswith("\u2067")  # Arabic, isolated right-to-left
    assert "Polish" not in shown.stdout and (polish or "").split()[0] in shown.stdout
    assert unknown.exit_code != 0 and "pl Polski" in " ".join(unknown.stderr.split())


def test_check_json_says_the_language_and_that_another_is_assessed_in_part(cli: Cli) -> None:
    english, polish = cli.json_lines(
        input="\n".join(
            json.dumps({"text": text})
            for text in ("see you all tomorrow in room 12, bring the workbook", POLISH_PHONE_TEXT)
        )
    )

    assert (english["language"], english["assessed"]) == ("en", "full")
    assert (polish["language"], polish["assessed"]) == ("pl", "partial: personal data only")
    assert polish["flagged"] == ["personal_data"]  # personal data is found in any language


def test_check_json_gives_a_safeguarding_cases_urgency(cli: Cli) -> None:
    ordinary, disclosure, now = cli.json_lines(
        input="\n".join(
            json.dumps({"text": text})
            for text in (
                "see you all tomorrow",
                "my husband hits me and I'm scared to go home",
                "my husband hits me, he is outside now, please help",
            )
        )
    )
    assert ordinary["urgency"] is None
    assert (disclosure["urgency"], now["urgency"]) == ("high", "immediate")


def test_check_role_option_applies_staff_only_rules(cli: Cli) -> None:
    [as_learner] = cli.json_lines(STAFF_TEXT)
    [as_tutor] = cli.json_lines("--role", "tutor", STAFF_TEXT)

    assert as_learner["action"] == "allow"
    assert as_tutor["flagged"] == ["staff_conduct"]
    assert as_tutor["action"] == "escalate"


def test_check_json_lines_answers_each_line_in_order_and_survives_bad_ones(cli: Cli) -> None:
    lines = [
        json.dumps({"id": "a", "text": STAFF_TEXT, "role": "tutor"}),
        json.dumps({"id": "b", "text": STAFF_TEXT}),
        "",
        "this is not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "c", "text": 5}),
        "   ",
        json.dumps({"id": "d", "text": "hello", "role": "headteacher"}),
        json.dumps({"id": 7, "text": PHONE_TEXT}),
        json.dumps({"id": "e", "text": "See you on Monday"}),
    ]

    results = cli.json_lines(input="\n".join(lines) + "\n")

    assert [result["id"] for result in results] == ["a", "b", 4, 5, "c", "d", 7, "e"]
    assert results[0]["flagged"] == ["staff_conduct"]
    assert results[1]["action"] == "allow"
    for bad in results[2:6]:
        assert set(bad) == {"id", "error"}
    assert "line 4" in str(results[2]["error"])
    assert "object" in str(results[3]["error"])
    assert "text" in str(results[4]["error"])
    assert "headteacher" in str(results[5]["error"])
    assert results[6]["action"] == "escalate"
    assert results[6]["evidence"] == [
        {
            "category": "personal_data",
            "kind": "phone",
            "start": 11,
            "end": 23,
            "source": "personal_data",
            "score": 1.0,
        }
    ]
    assert set(results[7]) == CHECK_KEYS
    assert results[7]["action"] == "allow"
    assert all(result.get("scorer", FALLBACK) == FALLBACK for result in results)


def test_check_json_lines_keeps_order_across_batches(cli: Cli) -> None:
    # Batches are decided while the next is scored: order must hold across each boundary.
    count = 2 * CHECK_BATCH + 30
    lines = [json.dumps({"id": number, "text": f"message number {number}"}) for number in range(count)]
    broken = {40, CHECK_BATCH - 1, CHECK_BATCH, 2 * CHECK_BATCH + 1, count - 1}
    for number in broken:
        lines[number] = "{broken"
    lines[CHECK_BATCH + 5] = json.dumps({"id": CHECK_BATCH + 5, "text": PHONE_TEXT})

    results = cli.json_lines(input="\n".join(lines))

    # A line that cannot be read has no id of its own: its line number stands in.
    assert [result["id"] for result in results] == [
        number + 1 if number in broken else number for number in range(count)
    ]
    assert all(set(results[number]) == {"id", "error"} for number in broken)
    assert results[CHECK_BATCH + 5]["action"] == "escalate"
    assert all(results[n]["action"] == "allow" for n in range(count) if n not in broken | {CHECK_BATCH + 5})


def test_check_json_lines_answers_a_stream_as_it_comes(tmp_path: Path) -> None:
    # A program that sends a few lines and waits for their answers before sending more is answered:
    # check --json does not wait for a whole batch or for the end of its input.
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CLASSMOD_")}
    environment |= {
        "CLASSMOD_MODEL_DIR": str(tmp_path / "models"),
        "CLASSMOD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "CLASSMOD_HEADS": "false",
    }
    command = [
        sys.executable,
        "-c",
        "import sys; from bot.cli import app; sys.exit(app())",
        "check",
        "--json",
    ]
    with subprocess.Popen(
        command, env=environment, cwd=tmp_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
    ) as process:  # unbuffered: a line read is never one the selector has not been told of
        assert process.stdin is not None and process.stdout is not None
        answers = []
        for turn, texts in enumerate([["See you on Monday", PHONE_TEXT], ["thanks"]]):
            for number, text in enumerate(texts):
                process.stdin.write(json.dumps({"id": f"{turn}.{number}", "text": text}).encode() + b"\n")
            process.stdin.flush()
            answers += [_line_within(process.stdout, seconds=60) for _ in texts]
        process.stdin.close()
        assert process.wait(timeout=30) == 0

    assert [(answer["id"], answer["action"]) for answer in answers] == [
        ("0.0", "allow"),
        ("0.1", "escalate"),
        ("1.0", "allow"),
    ]


def _line_within(stream: IO[bytes], seconds: float) -> dict[str, object]:
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        assert selector.select(seconds), f"no answer within {seconds} s"
    answer: dict[str, object] = json.loads(stream.readline())
    return answer


def test_check_json_lines_reports_a_line_that_is_not_utf8_and_carries_on(cli: Cli) -> None:
    lines = b'{"id": 1, "text": "ok"}\n\xff\n{"id": 3, "text": "caf\xc3\xa9 at ten?"}\n'

    results = cli.json_lines(input=lines)

    assert [result["id"] for result in results] == [1, 2, 3]
    assert results[0]["action"] == "allow"
    assert results[1] == {"id": 2, "error": "line 2: not UTF-8 (byte 0xff at position 1); send UTF-8 text"}
    assert results[2]["action"] == "allow"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"id": NaN, "text": "hello"}', "NaN is not a JSON number"),
        ('{"id": Infinity, "text": "hello"}', "Infinity is not a JSON number"),
        ('{"id": -Infinity, "text": "hello"}', "-Infinity is not a JSON number"),
        ('{"id": 1e400, "text": "hello"}', "1e400 is too large"),
        ('{"id": "\\ud800", "text": "hello"}', "lone surrogate"),
    ],
)
def test_check_json_lines_output_is_always_valid_json(cli: Cli, line: str, expected: str) -> None:
    results = cli.json_lines(input=f'{line}\n{{"id": "next", "text": "hello"}}\n')

    assert set(results[0]) == {"id", "error"}
    assert results[0]["id"] == 1  # the line number stands in for an id that cannot be read
    assert str(results[0]["error"]).startswith("line 1: ")
    assert expected in str(results[0]["error"])
    assert results[1]["id"] == "next"
    assert results[1]["action"] == "allow"


class _FussyScorer:
    """Scores everything but texts containing ``poison``, on which it fails as a model can."""

    name = "fussy"
    labels = ("toxicity",)

    def score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        if any("poison" in text for text in texts):
            raise ScorerError("fussy could not score the batch")
        return [{"toxicity": 0.0} for _ in texts]


def test_check_json_lines_holds_only_the_message_the_scorer_fails_on(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.cli.load_scorer", lambda settings, policy: LoadedScorer(_FussyScorer(), False))
    texts = ["See you on Monday", "poison", "I will bring the book", "thanks", "poison again"]
    lines = [json.dumps({"id": number, "text": text}) for number, text in enumerate(texts)]

    results = cli.json_lines(input="\n".join(lines) + "\n")

    assert [result["action"] for result in results] == ["allow", "escalate", "allow", "allow", "escalate"]
    assert [result["scorer"] for result in results] == [
        "fussy",
        "fussy (failed: fussy could not score the batch)",
        "fussy",
        "fussy",
        "fussy (failed: fussy could not score the batch)",
    ]


def test_check_without_text_or_json_is_a_usage_error(cli: Cli) -> None:
    result = cli("check")

    assert result.exit_code == 2
    assert "give TEXT, or --json" in result.stderr


def test_check_with_an_unknown_role_is_a_usage_error(cli: Cli) -> None:
    result = cli("check", "--role", "headteacher", "hello")

    assert result.exit_code == 2
    assert "headteacher" in result.output


def test_check_uses_detoxify_when_a_bundle_is_present(cli: Cli, detoxify_models: Path) -> None:
    cli.setenv("CLASSMOD_MODEL_DIR", str(detoxify_models))

    [decision] = cli.json_lines(PHONE_TEXT)

    # auto picks the fastest engine that passes the equivalence check, and says which
    assert str(decision["scorer"]).startswith("detoxify:unbiased-small")
    assert "personal_data" in decision["flagged"]  # type: ignore[operator]


def test_check_on_the_fp32_engine_when_asked(cli: Cli, detoxify_models: Path) -> None:
    cli.setenv("CLASSMOD_MODEL_DIR", str(detoxify_models))
    cli.setenv("CLASSMOD_MODEL_ENGINE", "torch")

    [decision] = cli.json_lines(PHONE_TEXT)

    assert decision["scorer"] == "detoxify:unbiased-small"


# --- status and start-up -------------------------------------------------------------------------


def test_status_says_loudly_that_it_runs_on_the_fallback(cli: Cli) -> None:
    result = cli("status")

    assert result.exit_code == 0, result.output
    assert f"{FALLBACK} (FALLBACK)" in result.stdout
    assert "no Detoxify weights at" in result.stdout
    assert cli.database_url in result.stdout
    assert load_policy().name in result.stdout
    assert "90 days" in result.stdout
    assert re.search(rf"schema\s*│\s*revision {head_revision()}", result.stdout), result.stdout


def test_status_counts_each_groups_messages_in_languages_the_scorers_do_not_cover(cli: Cli) -> None:
    store = Store.open(cli.database_url)
    try:
        store.count_unassessed("telegram", "-1001", "pl", datetime.now(UTC).date())
        store.count_unassessed("telegram", "-1001", "pl", datetime.now(UTC).date())
    finally:
        store.close()

    result = cli("status")

    assert result.exit_code == 0, result.output
    assert "not fully assessed" in result.stdout and "telegram -1001: 2 in pl" in result.stdout


def test_status_shows_how_fast_safeguarding_cases_were_acknowledged(cli: Cli) -> None:
    from moderation.types import Action, ActionKind, Decision, Route, Urgency
    from tests.factories import make_message

    disclosure = Decision(
        scores={Category.SAFEGUARDING: 0.97},
        flagged=(Category.SAFEGUARDING,),
        evidence=(),
        clauses=("5",),
        actions=(Action(ActionKind.REMIND), Action(ActionKind.ESCALATE, Route.SAFEGUARDING)),
        reminder=None,
        explanation="",
        scorer="test",
        urgency=Urgency.IMMEDIATE,
    )
    store = Store.open(cli.database_url)
    try:
        store.record_case(make_message("I took all my tablets"), disclosure, datetime.now(UTC))
    finally:
        store.close()

    result = cli("status")

    assert result.exit_code == 0, result.output
    shown = " ".join(result.stdout.split())
    assert "safeguarding response" in shown and "immediate: 1 case(s), 1 not yet acknowledged" in shown


def test_status_shows_detoxify_when_a_bundle_is_present(cli: Cli, detoxify_models: Path) -> None:
    cli.setenv("CLASSMOD_MODEL_DIR", str(detoxify_models))
    cli.setenv("CLASSMOD_REQUIRE_DETOXIFY", "true")

    result = cli("status")

    assert result.exit_code == 0, result.output
    assert "detoxify:unbiased-small" in result.stdout
    assert "FALLBACK" not in result.stdout
    assert "engine" in result.stdout and "drift" in result.stdout
    assert "batching" in result.stdout and "over 400 characters" in result.stdout
    assert " on cpu" in result.stdout or " on cuda" in result.stdout  # CLASSMOD_MODEL_DEVICE=auto, resolved


def test_status_says_when_long_messages_share_the_one_lane(cli: Cli) -> None:
    cli.setenv("CLASSMOD_SCORING_LONG_TEXT_CHARS", "0")

    result = cli("status")

    assert result.exit_code == 0, result.output
    assert "5 ms window; one lane" in result.stdout


@pytest.mark.parametrize(
    ("size", "said"),
    [(None, "scores of the last 2048 distinct messages kept"), ("0", "every message scored")],
)
def test_status_says_whether_repeated_messages_are_scored_again(
    cli: Cli, size: str | None, said: str
) -> None:
    if size is not None:
        cli.setenv("CLASSMOD_SCORING_CACHE_SIZE", size)

    result = cli("status")

    assert result.exit_code == 0, result.output
    assert said in " ".join(result.stdout.split())


@pytest.mark.parametrize("command", [["status"], ["check", "hello"]])
def test_require_detoxify_without_weights_refuses_to_start(cli: Cli, command: list[str]) -> None:
    cli.setenv("CLASSMOD_REQUIRE_DETOXIFY", "true")

    result = cli(*command)

    assert result.exit_code == 2
    assert "no Detoxify weights at" in result.stderr
    assert str(cli.directory / "models" / "unbiased-small") in result.stderr.replace("\n", "")
    assert result.stdout == ""


def test_an_invalid_setting_names_the_variable(cli: Cli) -> None:
    cli.setenv("CLASSMOD_RETENTION_DAYS", "0")

    result = cli("status")

    assert result.exit_code == 2
    assert "CLASSMOD_RETENTION_DAYS" in result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://u:pw1234@localhost/db", "only SQLite and PostgreSQL, not 'mysql'"),
        ("mariadb+pymysql://u:pw1234@localhost/db", "only SQLite and PostgreSQL, not 'mariadb+pymysql'"),
        ("sqlite:///", "in-memory SQLite database, which loses every case"),
        ("sqlite:///:memory:", "in-memory SQLite database, which loses every case"),
    ],
)
def test_status_refuses_a_database_classmod_cannot_keep_cases_in(cli: Cli, url: str, expected: str) -> None:
    cli.setenv("CLASSMOD_DATABASE_URL", url)

    result = cli("status")

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "CLASSMOD_DATABASE_URL" in message
    assert expected in message
    assert "pw1234" not in result.output
    assert "Traceback" not in result.output


def test_status_names_a_database_driver_that_is_not_installed(cli: Cli) -> None:
    cli.setenv("CLASSMOD_DATABASE_URL", "postgresql+asyncpg://u:pw1234@127.0.0.1/db")

    result = cli("status")

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "postgresql+asyncpg://u:***@127.0.0.1/db" in message
    assert "postgresql+psycopg://" in message
    assert "pw1234" not in result.output


# --- db ------------------------------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_then_has_nothing_to_do(cli: Cli) -> None:
    first = cli("db", "upgrade")
    again = cli("db", "upgrade")

    assert first.exit_code == 0, first.output
    assert f"created the database schema at revision {head_revision()} in {cli.database_url}" in first.stdout
    assert again.exit_code == 0, again.output
    assert f"is at revision {head_revision()}, the newest this classmod knows: nothing to do" in again.stdout


def test_db_upgrade_says_from_which_revision_to_which_on_a_previous_release_database(cli: Cli) -> None:
    build_previous_release(Database(cli.database_url, {}))

    result = cli("db", "upgrade")

    assert result.exit_code == 0, result.output
    assert "upgraded the database schema from revision 0001 (made before classmod had migrations" in (
        result.stdout
    )
    # Rich wraps at the terminal's width, and a test's scratch path can be long.
    assert f"to revision {head_revision()} in {cli.database_url}" in " ".join(result.stdout.split())


def test_db_upgrade_refuses_a_database_a_newer_classmod_upgraded(cli: Cli) -> None:
    assert cli("db", "upgrade").exit_code == 0
    engine = sa.create_engine(cli.database_url, poolclass=NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()

    result = cli("db", "upgrade")

    assert result.exit_code == 2
    assert "schema revision 9999" in result.stderr
    assert "upgraded by a newer classmod: upgrade classmod" in result.stderr


def test_policy_validate_does_not_need_valid_settings(cli: Cli) -> None:
    cli.setenv("CLASSMOD_RETENTION_DAYS", "0")

    result = cli("policy", "validate", str(default_policy_path()))

    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout


def test_a_broken_settings_file_is_reported(cli: Cli) -> None:
    (cli.directory / "classmod.toml").write_text("retention_days = [\n", encoding="utf-8")

    result = cli("status")

    assert result.exit_code == 2
    assert "configuration file" in result.stderr


def test_run_without_a_token_or_with_an_unknown_platform_says_what_to_do(cli: Cli) -> None:
    for platform, expected in (
        ("discord", "CLASSMOD_DISCORD_TOKEN"),
        ("telegram", "CLASSMOD_TELEGRAM_TOKEN"),
        ("slack", "use console, telegram or discord"),
    ):
        result = cli("run", platform)
        assert result.exit_code == 2
        assert expected in result.stderr


def test_run_console_moderates_what_is_typed(cli: Cli) -> None:
    result = cli("run", "console", input="See you on Monday\nthis homework is shit\n/quit\nnever read\n")

    assert result.exit_code == 0, result.output
    assert "✓" in result.stdout
    assert "private message to You" in result.stdout
    assert "4.1" in result.stdout


# --- replay and demo -----------------------------------------------------------------------------


def test_replay_shows_a_row_per_message_and_a_summary_per_category(cli: Cli) -> None:
    transcript = _class_chat(cli.directory)

    result = cli("replay", str(transcript))

    assert result.exit_code == 0, result.output
    decisions, summary = result.stdout.split("Summary", 1)
    rows = {row[0]: row for row in _table_rows(decisions) if row[0].isdigit()}
    assert set(rows) == {"1", "2", "3", "4", "5", "6"}
    assert rows["1"][1:3] == ["Sam", "tutor"] and rows["1"][4] == "allow"
    assert rows["2"][4] == "hide + remind + escalate" and rows["2"][5] == "personal_data"
    assert "07700" not in rows["2"][3]  # personal data is masked in the table
    assert rows["3"][5] == "harassment, civility"
    assert rows["4"][3].startswith("(edit)") and rows["4"][4] == "allow"
    assert rows["5"][3].endswith("[photo]") and rows["5"][5] == "photo_consent"
    assert rows["6"][1:3] == ["Sam", "tutor"] and rows["6"][5] == "staff_conduct"
    counts = {row[0]: int(row[1]) for row in _table_rows(summary) if len(row) == 2}
    assert counts == {
        "civility": 1,
        "harassment": 1,
        "incitement": 0,
        "extremism": 0,
        "defamation": 0,
        "personal_data": 1,
        "photo_consent": 1,
        "sexual": 0,
        "staff_conduct": 1,
        "safeguarding": 0,
    }
    assert "6 messages" in result.stdout
    assert not (cli.directory / "x.db").exists()  # a plain replay uses a throwaway store


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        ("{not json", "line 2: not JSON"),
        ('{"id": "m2", "text": "no author"}', "line 2: missing key 'author'"),
        ('{"id": "m2", "author": "x", "role": "headteacher"}', "line 2"),
        ('{"id": "m2", "author": "x", "at": "last tuesday"}', "line 2"),
        ('["a list"]', "line 2: expected a JSON object"),
    ],
)
def test_replay_reports_a_malformed_line_by_number(cli: Cli, bad_line: str, expected: str) -> None:
    transcript = cli.directory / "bad.jsonl"
    good = json.dumps({"id": "m1", "author": "amina", "text": "hello"})
    transcript.write_text(f"{good}\n{bad_line}\n{good}\n", encoding="utf-8")

    result = cli("replay", str(transcript))

    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_check_json_lines_answers_every_line_around_deeply_nested_json(cli: Cli, depth: int) -> None:
    nested = '{"id": "deep", "text": ' + "[" * depth + "]" * depth + "}"
    lines = [json.dumps({"id": "before", "text": "hello"}), nested, json.dumps({"id": "after", "text": "hi"})]

    results = cli.json_lines(input="\n".join(lines) + "\n")

    assert [result["id"] for result in results] == ["before", 2, "after"]
    assert results[1]["error"] == "line 2: not JSON that can be read: it is nested too deeply"
    assert results[0]["action"] == results[2]["action"] == "allow"


def test_replay_reports_deeply_nested_json_by_line(cli: Cli) -> None:
    transcript = cli.directory / "deep.jsonl"
    good = json.dumps({"id": "m1", "author": "amina", "text": "hello"})
    transcript.write_text(f"{good}\n" + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")

    result = cli("replay", str(transcript))

    assert result.exit_code == 2
    assert "line 2: not JSON that can be read: it is nested too deeply" in result.stderr
    assert "Traceback" not in result.output


def test_replay_of_a_missing_file_is_a_usage_error(cli: Cli) -> None:
    result = cli("replay", "nowhere.jsonl")

    assert result.exit_code == 2
    assert "nowhere.jsonl" in result.output


def test_replay_into_a_store_feeds_the_moderators_queue(cli: Cli) -> None:
    transcript = _class_chat(cli.directory)
    kept = f"sqlite:///{cli.directory / 'kept.db'}"

    assert cli("replay", str(transcript), "--database-url", kept).exit_code == 0
    cli.setenv("CLASSMOD_DATABASE_URL", kept)
    queue = cli("cases", "list")
    case = cli("cases", "show", "1")
    missing = cli("cases", "show", "999")

    assert queue.exit_code == 0, queue.output
    assert "3 shown, 2 open, 1 closed" in queue.stdout  # not called "open" while it lists closed ones
    listed = {row[0]: row for row in _table_rows(queue.stdout) if row[0].startswith("#")}
    # Case 4 (a tutor's message, staff conduct) is for the safeguarding officer's eyes only.
    assert set(listed) == {"#1", "#2", "#3"}
    assert "1 safeguarding or staff-conduct case(s) not shown" in " ".join(queue.stdout.split())
    assert listed["#1"][1] == "open" and listed["#1"][-1] == "moderators"
    assert listed["#1"][4] == "My number is [phone removed], text me"
    assert listed["#2"][1] == "open" and listed["#2"][-1] == "moderators"
    assert "07700" not in queue.stdout
    assert case.exit_code == 0, case.output
    assert "case #1" in case.stdout
    # Moderators see the message, with the personal details that got it flagged masked.
    assert "My number is [phone removed], text me" in case.stdout
    assert "07700" not in case.stdout
    assert "personal_data: phone" in case.stdout
    assert "bot hide: ok" in case.stdout
    assert "appeals: none" in case.stdout
    assert missing.exit_code == 1
    assert "no case #999" in missing.stderr


def test_only_a_named_officer_sees_safeguarding_cases_and_each_view_is_audited(cli: Cli) -> None:
    transcript = _class_chat(cli.directory)
    kept = f"sqlite:///{cli.directory / 'kept.db'}"
    assert cli("replay", str(transcript), "--database-url", kept).exit_code == 0
    cli.setenv("CLASSMOD_DATABASE_URL", kept)
    cli.setenv("CLASSMOD_TELEGRAM_SAFEGUARDING_OFFICERS", "[33333333]")
    cli.setenv("CLASSMOD_TELEGRAM_MODERATORS", "[22222222]")

    refused = cli("cases", "show", "4")
    not_officer = cli("cases", "show", "4", "--as", "telegram:22222222")
    listed = cli("cases", "list", "--as", "telegram:33333333")
    shown = cli("cases", "show", "4", "--as", "telegram:33333333")

    assert refused.exit_code == 1 and "only a safeguarding officer" in " ".join(refused.stderr.split())
    assert "Sam" not in refused.output
    assert not_officer.exit_code == 1 and "not a safeguarding officer" in " ".join(not_officer.stderr.split())
    rows = {row[0]: row for row in _table_rows(listed.stdout) if row[0].startswith("#")}
    assert rows["#4"][3] == "Sam" and rows["#4"][-1] == "safeguarding"
    assert shown.exit_code == 0, shown.output
    assert "case #4" in shown.stdout and "seen by (audit log)" in shown.stdout
    store = Store.open(kept)
    try:
        log = store.audit_log(4)
    finally:
        store.close()
    assert [(actor, action) for _, actor, action, _ in log] == [
        ("telegram:33333333", "list"),
        ("telegram:33333333", "view"),
    ]


def test_cases_show_of_an_id_beyond_any_database_says_there_is_no_such_case(cli: Cli) -> None:
    result = cli("cases", "show", "99999999999999999999")

    assert result.exit_code == 1
    assert "no case #99999999999999999999" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_cases_list_refuses_an_unknown_status_and_names_the_valid_ones(cli: Cli) -> None:
    result = cli("cases", "list", "--status", "bogus")

    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "'bogus' is not a case status" in message
    assert ", ".join(CASE_STATUSES) in message


@pytest.mark.parametrize("limit", ["0", "-1", "1001"])
def test_cases_list_limit_must_be_between_1_and_1000(cli: Cli, limit: str) -> None:
    result = cli("cases", "list", "--limit", limit)

    assert result.exit_code == 2
    assert "--limit" in result.output


def test_cases_list_filters_by_status(cli: Cli) -> None:
    transcript = _class_chat(cli.directory)
    assert cli("replay", str(transcript), "--database-url", cli.database_url).exit_code == 0

    every = cli("cases", "list", "--limit", "1000")
    by_status = {status: cli("cases", "list", "--status", status) for status in ("open", "closed")}

    def statuses(result: Result) -> list[str]:
        assert result.exit_code == 0, result.output
        return [row[1] for row in _table_rows(result.stdout) if row[0].startswith("#")]

    assert set(statuses(by_status["open"])) == {"open"}
    assert set(statuses(by_status["closed"])) == {"closed"}
    assert sorted(statuses(every)) == sorted(statuses(by_status["open"]) + statuses(by_status["closed"]))


def test_replay_into_an_unusable_database_is_refused(cli: Cli) -> None:
    transcript = _class_chat(cli.directory)

    result = cli("replay", str(transcript), "--database-url", "mysql://u:pw1234@localhost/db")

    assert result.exit_code == 2
    assert "only SQLite and PostgreSQL" in " ".join(result.stderr.split())
    assert "pw1234" not in result.output


@pytest.mark.parametrize("columns", [None, "60"])
def test_replay_tables_are_at_least_120_columns_wide_when_piped(cli: Cli, columns: str | None) -> None:
    if columns is None:
        cli.delenv("COLUMNS")
    else:
        cli.setenv("COLUMNS", columns)
    transcript = _class_chat(cli.directory)

    result = cli("replay", str(transcript))

    assert result.exit_code == 0, result.output
    decisions = result.stdout.split("Summary", 1)[0]
    assert max(len(line) for line in decisions.splitlines()) == 120
    rows = {row[0]: row for row in _table_rows(decisions) if row[0].isdigit()}
    assert rows["1"][1:3] == ["Sam", "tutor"]
    assert rows["3"][5] == "harassment, civility"  # not folded over two lines


def test_demo_shows_every_category_and_the_queue(cli: Cli) -> None:
    result = cli("demo")

    assert result.exit_code == 0, result.output
    summary = result.stdout.split("Summary", 1)[1]
    counts = {row[0]: int(row[1]) for row in _table_rows(summary) if len(row) == 2 and row[1].isdigit()}
    assert set(counts) == {category.value for category in Category}
    assert all(count > 0 for count in counts.values()), counts
    assert "Moderators' queue" in summary
    assert not (cli.directory / "x.db").exists()  # the demo never touches the configured store


# --- purge ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("period", ["0d", "90", "d", "-1d", "3y", "00d", "²d"])
def test_purge_refuses_a_meaningless_period(cli: Cli, period: str) -> None:
    result = cli("purge", "--older-than", period)

    assert result.exit_code == 2
    assert "--older-than" in result.stderr


@pytest.mark.parametrize("period", ["999999999d", "999999999w", "99999999999999999999h", "3651d", "522w"])
def test_purge_refuses_a_period_beyond_ten_years(cli: Cli, period: str) -> None:
    result = cli("purge", "--older-than", period)

    assert result.exit_code == 2
    assert f"--older-than {period!r} is too long: at most 3650d" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_purge_accepts_ten_years(cli: Cli) -> None:
    result = cli("purge", "--older-than", "3650d")

    assert result.exit_code == 0, result.output
    assert "purged the text of 0 case(s) older than 3650d" in result.stdout


def test_purge_erases_the_text_of_old_cases_only(cli: Cli) -> None:
    transcript = _class_chat(cli.directory, recent=True)
    assert cli("replay", str(transcript), "--database-url", cli.database_url).exit_code == 0

    result = cli("purge", "--older-than", "1d")

    assert result.exit_code == 0, result.output
    assert "purged the text of 4 case(s) older than 1d" in result.stdout
    old = cli("cases", "show", "1").stdout
    assert "[text purged" in old and "07700" not in old
    assert "this homework is shit" in cli("cases", "show", "5").stdout
    again = cli("purge")  # the retention setting, 90 days: nothing left to purge
    assert "purged the text of 0 case(s) older than 90d" in again.stdout


# --- keys ----------------------------------------------------------------------------------------


def test_keys_generate_prints_a_valid_key_and_how_to_use_it(cli: Cli) -> None:
    result = cli("keys", "generate")

    assert result.exit_code == 0, result.output
    key, advice = result.stdout.splitlines()
    Fernet(key)
    assert "CLASSMOD_DATA_KEYS" in advice and "keys rotate" in advice
    assert result.stderr == ""
    assert cli("keys", "generate").stdout.splitlines()[0] != key


def test_sealed_cases_need_their_key_and_survive_rotation(cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    old, new = _generated_key(cli), _generated_key(cli)
    database = cli.directory / "x.db"
    cli.setenv("CLASSMOD_DATA_KEYS", old)
    transcript = _class_chat(cli.directory, recent=True)
    assert cli("replay", str(transcript), "--database-url", cli.database_url).exit_code == 0
    assert b"07700" not in database.read_bytes() and b"My number" not in database.read_bytes()
    assert "My number is [phone removed]" in cli("cases", "show", "1").stdout

    cli.delenv("CLASSMOD_DATA_KEYS")
    refused = cli("cases", "list")
    assert refused.exit_code == 2
    assert "the case store holds encrypted case texts: set CLASSMOD_DATA_KEYS" in refused.stderr
    cli.setenv("CLASSMOD_DATA_KEYS", new)
    wrong = cli("cases", "show", "1")
    assert wrong.exit_code == 2 and "cannot decrypt case texts" in wrong.stderr

    cli.setenv("CLASSMOD_DATA_KEYS", f"{new},{old}")
    rotated = cli("keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    assert re.search(r"re-encrypted [1-9]\d* stored texts", rotated.stdout)
    assert "re-encrypted 0 stored texts" in cli("keys", "rotate").stdout
    cli.setenv("CLASSMOD_DATA_KEYS", new)
    assert "My number is [phone removed]" in cli("cases", "show", "1").stdout
    purged = cli("purge", "--older-than", "1d")
    assert purged.exit_code == 0 and "purged the text of 4 case(s)" in purged.stdout
    assert "[text purged" in cli("cases", "show", "1").stdout

    for result in (refused, wrong, rotated, purged):
        assert old not in result.output and new not in result.output
    assert old not in caplog.text and new not in caplog.text


def test_keys_rotate_without_a_key_says_which_setting_to_set(cli: Cli) -> None:
    result = cli("keys", "rotate")

    assert result.exit_code == 2
    assert "set CLASSMOD_DATA_KEYS" in result.stderr and "keys generate" in result.stderr


def test_a_key_that_is_not_a_key_is_refused_without_repeating_it(cli: Cli) -> None:
    cli.setenv("CLASSMOD_DATA_KEYS", "hunter2-is-not-a-fernet-key")

    result = cli("cases", "list")

    assert result.exit_code == 2
    assert "CLASSMOD_DATA_KEYS (environment): key 1 of 1 is not a valid key" in result.stderr
    assert "hunter2" not in result.output


def _generated_key(cli: Cli) -> str:
    return cli("keys", "generate").stdout.splitlines()[0]


# --- policy --------------------------------------------------------------------------------------


def test_policy_validate_accepts_the_bundled_policy(cli: Cli) -> None:
    result = cli("policy", "validate", str(default_policy_path()))

    assert result.exit_code == 0, result.output
    assert "OK" in result.stdout


def test_policy_validate_lists_the_languages_and_warns_of_a_missing_translation(cli: Cli) -> None:
    shipped = cli("policy", "validate", str(default_policy_path()))
    source = default_policy_path().read_text(encoding="utf-8")
    # Polish without its support message: still valid (learners get it in English), but listed.
    start = source.index("\n  pl:\n")
    line = source.index("    support_message:", start)
    trimmed = cli.directory / "trimmed.yaml"
    trimmed.write_text(source[:line] + source[source.index("\n", line) + 1 :], encoding="utf-8")

    result = cli("policy", "validate", str(trimmed))

    assert shipped.exit_code == 0 and "warning" not in shipped.stdout
    assert "languages: en, ar (draft)" in " ".join(shipped.stdout.split())
    assert result.exit_code == 0, result.output
    assert "warning: pl: policy text(s) missing: support (sent in English)" in " ".join(result.stdout.split())


def test_policy_validate_reports_a_bad_pattern_with_its_line(cli: Cli) -> None:
    lines = default_policy_path().read_text(encoding="utf-8").splitlines()
    number = next(index for index, line in enumerate(lines) if line.strip() == "patterns:") + 2
    indent = lines[number - 1][: len(lines[number - 1]) - len(lines[number - 1].lstrip())]
    lines[number - 1] = f"{indent}- '(unclosed'"
    broken = cli.directory / "broken.yaml"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = cli("policy", "validate", str(broken))

    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert f"broken.yaml:{number}" in message
    assert "(unclosed" in message


def test_policy_validate_of_a_missing_file_says_so(cli: Cli) -> None:
    result = cli("policy", "validate", "missing.yaml")

    assert result.exit_code == 1
    assert "missing.yaml" in result.stderr


def test_policy_show_lists_the_clauses(cli: Cli) -> None:
    result = cli("policy", "show")

    assert result.exit_code == 0, result.output
    clause_ids = {row[0] for row in _table_rows(result.stdout)}
    assert {"4.1", "4.1a", "4.7", "4.10"} <= clause_ids


# --- groups and consent --------------------------------------------------------------------------


def test_groups_authorise_and_list_round_trip_through_the_store(cli: Cli) -> None:
    authorised = cli("groups", "authorise", "telegram", "-1001234567", "--title", "ESOL E3", "--by", "alice")
    listed = cli("groups", "list")

    assert authorised.exit_code == 0, authorised.output
    assert "-1001234567 is authorised" in authorised.stdout
    assert ["telegram", "-1001234567", "ESOL E3", "yes", "alice"] in _table_rows(listed.stdout)
    with Store.open(cli.database_url) as store:
        assert store.is_authorised("telegram", "-1001234567")


def test_consent_add_is_recorded_in_the_store(cli: Cli) -> None:
    result = cli("consent", "add", "telegram", "42", "--by", "Mrs Hughes")

    assert result.exit_code == 0, result.output
    assert "photo consent recorded" in result.stdout
    with Store.open(cli.database_url) as store:
        assert store.has_consent("telegram", "42")
        assert not store.has_consent("telegram", "43")


def test_version_prints_the_installed_version(cli: Cli) -> None:
    result = cli("--version")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"classmod {importlib.metadata.version('classmod')}\n"


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, sub in getattr(command, "commands", {}).items():  # a group's commands
        yield from _command_paths(sub, (*path, name))


def test_help_shows_no_raw_markup(cli: Cli) -> None:
    # Typer shows docstrings as they are written: reStructuredText or Markdown would show as symbols.
    paths = list(_command_paths(typer.main.get_command(app)))
    assert ("run",) in paths and ("cases", "show") in paths

    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        for markup in ("``", "**", ":class:", ":func:"):
            assert markup not in result.stdout, (path, result.stdout)


def test_help_lists_the_commands(cli: Cli) -> None:
    result = cli("--help")

    assert result.exit_code == 0
    for command in ("check", "replay", "demo", "run", "status", "cases", "purge", "policy"):
        assert re.search(rf"\b{command}\b", result.stdout)


# --- model fetch ---------------------------------------------------------------------------------


def _publish_checkpoint(cli: Cli, files: FileServer, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    from tests.tinymodel import build_tiny_detoxify

    bundle = build_tiny_detoxify(cli.directory / "build", variant="unbiased-small")
    files.publish(name, (bundle / "checkpoint.ckpt").read_bytes())
    monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, "unbiased-small", files.url(name))


def test_model_fetch_installs_the_encoder_and_detoxify_quietly_when_piped(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(cli.directory / "upstream") as files:
        _publish_checkpoint(cli, files, monkeypatch, "tiny.ckpt")
        cli.setenv("CLASSMOD_MODEL_HUB_URL", files.base_url)

        result = cli("model", "fetch")

    assert result.exit_code == 0, result.output
    # No progress bars in logs and pipes: a log record per file, nothing more.
    assert "━" not in result.stderr and "kB" not in result.stderr
    assert all(re.match(r"\S+ INFO ", line) for line in result.stderr.splitlines())
    assert len(result.stderr.splitlines()) <= 3
    models = cli.directory / "models"
    assert f"sentence encoder all-MiniLM-L6-v2 is ready at {models / 'encoders' / 'all-MiniLM-L6-v2'}" in (
        result.stdout
    )
    assert f"Detoxify unbiased-small is ready at {models / 'unbiased-small'}" in result.stdout
    assert verify_encoder(models / "encoders" / "all-MiniLM-L6-v2") == DEFAULT_ENCODER_SHA256
    assert sorted(path.name for path in models.iterdir()) == ["encoders", "unbiased-small"]


def test_model_fetch_shows_progress_when_asked(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(cli.directory / "upstream") as files:
        _publish_checkpoint(cli, files, monkeypatch, "tiny.ckpt")

        result = cli("model", "fetch", "--progress")

    assert result.exit_code == 0, result.output
    assert "tiny.ckpt" in result.stderr and "kB" in result.stderr and "/s" in result.stderr
    assert files.base_url not in result.stderr


def test_model_fetch_keeps_the_encoder_when_detoxify_fails(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(cli.directory / "upstream") as files:
        monkeypatch.setitem(detoxify.detoxify.MODEL_URLS, "unbiased-small", files.url("absent-0123abcd.ckpt"))

        result = cli("model", "fetch")

    assert result.exit_code == 2
    error = [line for line in result.stderr.splitlines() if not re.match(r"\S+ INFO ", line)]
    assert len(error) == 1 and result.stderr.endswith(error[0] + "\n")
    assert error[0].startswith("error: could not download the Detoxify checkpoint from") and "404" in error[0]
    encoder = cli.directory / "models" / "encoders" / "all-MiniLM-L6-v2"
    assert f"sentence encoder all-MiniLM-L6-v2 is ready at {encoder}" in result.stdout
    assert verify_encoder(encoder) == DEFAULT_ENCODER_SHA256


# --- the policy heads -----------------------------------------------------------------------------


def test_check_json_with_the_heads_routes_a_reworded_disclosure_and_shows_why(cli: Cli) -> None:
    cli.setenv("CLASSMOD_HEADS", "true")
    text = (
        "Hi miss. Sorry I missed class on Monday and Wednesday, I will catch up with the reading and the "
        "homework sheets this weekend. I don't really want to go home tonight, my mum's boyfriend gets "
        "angry and I end up with bruises. See you soon"
    )

    [decision] = cli.json_lines(input=json.dumps({"id": "d1", "text": text}) + "\n")

    assert decision["action"] == "escalate" and decision["flagged"] == ["safeguarding"]
    assert decision["actions"] == ["remind", "escalate"]
    assert str(decision["scorer"]).startswith("heads:all-MiniLM-L6-v2")
    evidence = [item for item in decision["evidence"] if item["source"] == "heads"]  # type: ignore[union-attr]
    [found] = evidence
    assert found["sentence"].startswith("I don't really want to go home tonight")
    assert text[found["start"] : found["end"]] == found["sentence"]
    assert found["score"] >= found["threshold"] and len(found["similar"]) == 2


def test_status_names_the_heads_in_use_and_why_not_when_they_are_off(cli: Cli) -> None:
    cli.setenv("CLASSMOD_HEADS", "true")
    result = cli("status")
    assert result.exit_code == 0, result.output
    assert "policy heads" in result.stdout and "(shipped) over all-MiniLM-L6-v2" in result.stdout
    assert "encoder engine" in result.stdout and "torch" in result.stdout

    cli.setenv("CLASSMOD_ENCODER_ENGINE", "auto")  # int8 moves the heads' probabilities by tenths: onnx
    shown = " ".join(cli("status").stdout.replace("│", " ").split())
    assert "encoder engine onnx (drift from fp32 0.0000 on the probes)" in shown, shown
    assert "auto skipped onnx-int8 drifted" in shown, shown

    cli.setenv("CLASSMOD_HEADS", "false")
    assert "not in use: turned off" in cli("status").stdout


# --- learn ---------------------------------------------------------------------------------------


def test_learn_help_names_the_rule_rollback_and_dry_run(cli: Cli) -> None:
    result = cli("learn", "--help")

    assert result.exit_code == 0, result.output
    assert "--rollback" in result.stdout and "--dry-run" in result.stdout
    assert "0.02" in result.stdout and "0.01" in result.stdout


def test_learn_without_reviewed_cases_says_so_and_trains_nothing(cli: Cli) -> None:
    with Store.open(cli.database_url) as store:
        decided_case(store, "you are an idiot", (Category.CIVILITY,), "closed")  # the bot's own, no verdict

    result = cli("learn")

    assert result.exit_code == 0, result.output
    assert "no reviewed cases to learn from: nothing trained" in result.stdout
    assert "you are an idiot" not in result.output
    assert not (cli.directory / "models" / "heads").exists()


def test_learn_installs_then_refuses_worse_heads_in_one_line_and_rolls_back_only_when_it_can(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.learning
    from tests.tinyencoder import TinyEncoder

    real_learn = bot.learning.learn
    monkeypatch.setattr(
        bot.learning,
        "learn",
        lambda *args, **options: real_learn(*args[:3], TinyEncoder, spec=NARROW_FEATURES, **options),
    )
    data = write_training_data(cli.directory / "data")
    with Store.open(cli.database_url) as store:
        decided_case(store, "you are a complete idiot", (Category.CIVILITY,), "warned")

    result = cli("learn", "--data", str(data))

    assert result.exit_code == 0, result.output
    assert "reviewed cases used: civility 1" in result.stdout
    assert {row[0] for row in _table_rows(result.stdout)} >= {category.value for category in HEAD_CATEGORIES}
    installed = cli.directory / "models" / "heads"
    assert f"learned heads installed at {installed}" in " ".join(result.stdout.split())
    manifest = (installed / "heads.json").read_bytes()

    with Store.open(cli.database_url) as store:
        for n in range(40):
            text = f"honestly {('stepdad hits me', 'he hurts me', 'bruises at home')[n % 3]} again {n}"
            decided_case(store, text, (Category.SAFEGUARDING,), "no_concern")
    refused = cli("learn", "--data", str(data))

    assert refused.exit_code == 1
    shown = " ".join(refused.stderr.split())  # Rich wraps long lines at the width
    error = shown[shown.index("error: ") :]
    assert error.startswith("error: the new heads are worse than those in use, nothing was replaced: ")
    assert "safeguarding recall 1.000 → 0.000" in error
    [safeguarding] = [row for row in _table_rows(refused.stdout) if row[0] == "safeguarding"]
    assert safeguarding[1] == "1.000 → 0.000"
    assert "reviewed cases used: civility 1, none 40" in refused.stdout
    assert "hits me" not in refused.output and "complete idiot" not in refused.output
    assert (installed / "heads.json").read_bytes() == manifest

    no_previous = cli("learn", "--rollback")
    assert no_previous.exit_code == 2
    assert no_previous.stderr.startswith("error: no previous learned heads at")


def test_status_shows_learned_heads_with_their_date(cli: Cli) -> None:
    import shutil

    from moderation.heads.model import default_heads_dir

    learned = cli.directory / "models" / "heads"
    shutil.copytree(default_heads_dir(), learned)
    manifest = json.loads((learned / "heads.json").read_text(encoding="utf-8"))
    manifest.update(origin="learned", created="2027-01-15T09:00:00+00:00")
    (learned / "heads.json").write_text(json.dumps(manifest), encoding="utf-8")
    cli.setenv("CLASSMOD_HEADS", "true")

    result = cli("status")

    assert result.exit_code == 0, result.output
    assert "heads 2027-01-15 (learned) over all-MiniLM-L6-v2" in result.stdout


def test_check_shows_no_private_message_when_only_a_moderator_reviews(cli: Cli) -> None:
    result = cli("check", "text me on my personal number", "--role", "tutor")  # staff conduct: escalate only

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ESCALATE")
    assert "private message to the author" not in result.stdout


def test_tampered_encoder_weights_turn_the_heads_off_loudly_not_silently(cli: Cli) -> None:
    cli.setenv("CLASSMOD_HEADS", "true")
    assert "(shipped) over all-MiniLM-L6-v2" in cli("status").stdout  # unpacked into the model folder
    weights = cli.directory / "models" / "encoders" / "all-MiniLM-L6-v2" / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.seek(5000)
        handle.write(b"\x00\x01\x02\x03")

    result = cli("status")

    assert result.exit_code == 0, result.output
    shown = result.stdout.replace("│", " ")
    assert "not in use" in shown and "pinned" in shown, shown


def test_check_json_lines_answers_every_line_of_seeded_hostile_input(cli: Cli) -> None:
    # A smaller run of what bench/hostile.py sends by the tens of thousands (same generator).
    from tests.hostile_lines import answers_are_sound, hostile_lines

    sent = hostile_lines(400, seed=13)

    answers = cli.json_lines(input=b"\n".join(sent) + b"\n")

    assert answers_are_sound(sent, answers) == []
    assert any("error" in answer for answer in answers) and any("action" in answer for answer in answers)
