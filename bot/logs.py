"""Logging set-up: one event per line, as text or JSON, with secrets redacted from every record.

python-telegram-bot and httpx put the bot token in URLs and some error messages, so a filter on the
handler redacts each record (message, arguments, exception, stack) with the settings'
:class:`~bot.redaction.Redaction` before anything is written, whoever logged it. Text mode writes
``time level logger: message``; a record never spans lines (its line breaks are escaped, as JSON does)
unless standard error is a terminal, where a traceback keeps its lines. JSON mode
(``CLASSMOD_LOG_FORMAT=json``, for log collectors) writes one object per line: time, level, logger,
message, and exception when there is one.

``CLASSMOD_LOG_LEVEL`` sets classmod's own loggers (``bot``, ``moderation``, ``adapters``). Other
libraries log payloads at DEBUG (python-telegram-bot whole updates, discord.py gateway events, httpx
request lines) and SQLAlchemy logs SQL parameters at INFO, all of which carry learners' words,
names and numbers: they are held at INFO at most, and httpx, httpcore and SQLAlchemy at WARNING,
whatever the level.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.redaction import Redaction

__all__ = [
    "CHATTY_LOGGERS",
    "OWN_LOGGERS",
    "PAYLOAD_LOGGERS",
    "JsonFormatter",
    "RedactSecrets",
    "TextFormatter",
    "configure_logging",
]

OWN_LOGGERS = ("bot", "moderation", "adapters")
"""classmod's loggers: these alone follow ``CLASSMOD_LOG_LEVEL`` down to DEBUG."""
PAYLOAD_LOGGERS = ("httpx", "httpcore", "sqlalchemy")
"""Libraries whose INFO records hold request lines or SQL parameters: WARNING and above only."""
CHATTY_LOGGERS = ("alembic",)
"""Libraries that narrate routine work at INFO (Alembic, at every start): WARNING and above only;
``bot.schema`` says itself when a migration ran."""

# Every character str.splitlines() breaks on: a log reader must not see two events in one.
_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# The ones json.dumps leaves as they are (it escapes the control characters itself).
_JSON_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")


class RedactSecrets(logging.Filter):
    """Redacts a record's message (arguments included), exception text and stack before it is written."""

    def __init__(self, redaction: Redaction) -> None:
        super().__init__()
        self._redact = redaction

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact, and always keep the record."""
        if not self._redact:
            return True
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: logging would print them raw; keep the record
            message = f"{record.msg} (its arguments did not fit the message)"
            record.msg, record.args = message, None
        redacted = self._redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            redacted = self._redact(record.exc_text)
            if redacted != record.exc_text:
                # Without exc_info, no formatter can render the traceback again from the exception.
                record.exc_text, record.exc_info = redacted, None
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


class _Formatter(logging.Formatter):
    def _time(self, record: logging.LogRecord) -> str:
        return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")

    def _exception(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return record.exc_text or ""


class TextFormatter(_Formatter):
    """``time level logger: message``, then the traceback and stack, if any, on lines of their own."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, line breaks and all (the handler decides whether they are escaped)."""
        parts = [f"{self._time(record)} {record.levelname} {record.name}: {record.getMessage()}"]
        parts += [part for part in (self._exception(record), record.stack_info) if part]
        return "\n".join(parts)


class JsonFormatter(_Formatter):
    """One JSON object on one line: time, level, logger, message, and exception and stack when present."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of JSON."""
        entry: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if exception := self._exception(record):
            entry["exception"] = exception
        if record.stack_info:
            entry["stack"] = record.stack_info
        line = json.dumps(entry, ensure_ascii=False)
        return _JSON_LINE_BREAKS.sub(lambda found: f"\\u{ord(found.group()):04x}", line)


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


class _StandardError(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (a test runner swaps it), one line per record."""

    def __init__(self, *, lines_on_a_terminal: bool) -> None:
        super().__init__()
        self._lines_on_a_terminal = lines_on_a_terminal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            text = self.format(record)
            if not (self._lines_on_a_terminal and _is_terminal(stream)):
                text = _one_line(text)
            stream.write(text + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def configure_logging(settings: Settings) -> None:
    """Send log records to standard error at the configured level and format, with secrets redacted."""
    is_json = settings.log_format == "json"
    handler = _StandardError(lines_on_a_terminal=not is_json)
    handler.setFormatter(JsonFormatter() if is_json else TextFormatter())
    handler.addFilter(RedactSecrets(Redaction.of(settings)))
    level = logging.getLevelName(settings.log_level)
    logging.basicConfig(level=max(level, logging.INFO), handlers=[handler], force=True)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in PAYLOAD_LOGGERS + CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
