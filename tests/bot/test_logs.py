"""Logs: one event per line (text or JSON), and secrets never reach them, whoever logs them."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import ConfigError, load_settings
from bot.logs import configure_logging

TOKEN = "123456:AAE-very-secret-token"
WEBHOOK_SECRET = "webhook-secret-value"
DISCORD_TOKEN = "MTIz.discord-secret-token"
LONG_MESSAGE = "the network loop stopped after " + ", ".join(f"attempt {n} failed" for n in range(60))


class _Stream(io.StringIO):
    def __init__(self, *, is_terminal: bool) -> None:
        super().__init__()
        self._is_terminal = is_terminal

    def isatty(self) -> bool:
        return self._is_terminal


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.NOTSET)


def _logging_to(monkeypatch: pytest.MonkeyPatch, log_format: str, *, is_terminal: bool = False) -> _Stream:
    stream = _Stream(is_terminal=is_terminal)
    monkeypatch.setattr("sys.stderr", stream)
    configure_logging(
        load_settings(
            telegram_token=TOKEN,
            discord_token=DISCORD_TOKEN,
            telegram_webhook_secret=WEBHOOK_SECRET,
            log_format=log_format,
        )
    )
    return stream


def _log_secrets_everywhere() -> None:
    logger = logging.getLogger("telegram.ext")
    logger.error("POST https://api.telegram.org/bot%s/getMe failed", TOKEN)
    logger.error(f"The token `{TOKEN}` was rejected; webhook {WEBHOOK_SECRET}, discord {DISCORD_TOKEN}")
    try:
        try:
            raise OSError(f"Invalid port: '8081{TOKEN}'")
        except OSError as exc:
            raise RuntimeError(f"bad url /bot{TOKEN}/getUpdates\nsecond line of the error") from exc
    except RuntimeError:
        logger.exception("network loop failed")


def _fail_with_a_multi_line_exception() -> None:
    try:
        raise ValueError("first line of the error\nsecond line of the error")
    except ValueError:
        logging.getLogger("bot.pipeline").exception(LONG_MESSAGE)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_tokens_are_redacted_from_messages_arguments_and_tracebacks(
    monkeypatch: pytest.MonkeyPatch, log_format: str
) -> None:
    stream = _logging_to(monkeypatch, log_format)

    _log_secrets_everywhere()

    written = stream.getvalue()
    for secret in (TOKEN, WEBHOOK_SECRET, DISCORD_TOKEN, "AAE-very-secret-token"):
        assert secret not in written
        assert secret not in written.replace("\\n", "")
    assert written.count("***") >= 6
    assert "Invalid port: '8081***'" in written  # the cause's traceback too


def test_text_logs_are_one_line_per_event_when_not_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _logging_to(monkeypatch, "text")

    _fail_with_a_multi_line_exception()

    written = stream.getvalue()
    assert written.endswith("\n")
    assert len(written.splitlines()) == 1, written
    line = written.rstrip("\n")
    time, level, logger, rest = line.split(" ", 3)
    assert datetime.fromisoformat(time).utcoffset() is not None
    assert (level, logger) == ("ERROR", "bot.pipeline:")
    assert rest.startswith(LONG_MESSAGE)  # whole, never folded
    assert "Traceback (most recent call last):" in rest
    assert "ValueError: first line of the error\\nsecond line of the error" in rest


def test_on_a_terminal_a_traceback_keeps_its_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _logging_to(monkeypatch, "text", is_terminal=True)

    _fail_with_a_multi_line_exception()

    lines = stream.getvalue().splitlines()
    assert lines[0].endswith(f"ERROR bot.pipeline: {LONG_MESSAGE}")  # the event itself is still one line
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "second line of the error"


def test_json_logs_are_one_parseable_object_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _logging_to(monkeypatch, "json", is_terminal=True)  # JSON is one line even on a terminal

    logging.getLogger("bot.app").warning("scoring with %s instead", "fallback")
    logging.getLogger("bot.app").info("one\nevent\u2028with line breaks")
    _fail_with_a_multi_line_exception()
    _log_secrets_everywhere()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 6
    entries = [json.loads(line) for line in lines]
    assert entries[0].keys() == {"time", "level", "logger", "message"}
    assert entries[0]["level"] == "WARNING"
    assert entries[0]["logger"] == "bot.app"
    assert entries[0]["message"] == "scoring with fallback instead"
    assert datetime.fromisoformat(entries[0]["time"]).utcoffset() is not None
    assert entries[1]["message"] == "one\nevent\u2028with line breaks"
    failure = entries[2]
    assert failure.keys() == {"time", "level", "logger", "message", "exception"}
    assert failure["message"] == LONG_MESSAGE
    assert failure["exception"].startswith("Traceback (most recent call last):")
    assert failure["exception"].endswith("ValueError: first line of the error\nsecond line of the error")
    rendered = " ".join(f"{entry['message']} {entry.get('exception', '')}" for entry in entries)
    for secret in (TOKEN, WEBHOOK_SECRET, DISCORD_TOKEN):
        assert secret not in rendered


def test_httpx_request_lines_are_quiet_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = _logging_to(monkeypatch, "text")

    logging.getLogger("httpx").info("HTTP Request: POST https://example/bot123456:AAE-secret/getUpdates")

    assert "HTTP Request" not in stream.getvalue()


def test_an_unknown_log_format_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLASSMOD_LOG_FORMAT", "xml")

    with pytest.raises(ConfigError, match="CLASSMOD_LOG_FORMAT"):
        load_settings()


def test_the_command_line_logs_json_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CLASSMOD_") and name != "CLASSMOD_HEADS":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLASSMOD_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("CLASSMOD_MODEL_DIR", str(tmp_path / "models"))  # none: the fallback warning is logged
    monkeypatch.setenv("CLASSMOD_TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("CLASSMOD_LOG_FORMAT", "json")

    result = CliRunner().invoke(app, ["status"])

    assert result.exit_code == 0, result.output
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(
        entry["level"] == "WARNING" and entry["message"].startswith("DETOXIFY NOT LOADED") for entry in logged
    )
    assert TOKEN not in result.output
