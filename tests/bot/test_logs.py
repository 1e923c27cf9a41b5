"""Secrets never reach the log, whoever logs them (PTB and httpx put the token in URLs)."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from bot.config import load_settings
from bot.logs import configure_logging


@pytest.fixture
def restore_logging() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.NOTSET)


def test_tokens_are_redacted_from_messages_arguments_and_tracebacks(restore_logging: None) -> None:
    token = "123456:AAE-very-secret-token"
    out = io.StringIO()
    configure_logging(load_settings(telegram_token=token), Console(file=out, width=300))
    logger = logging.getLogger("telegram.ext")
    logger.error("POST https://api.telegram.org/bot%s/getMe failed", token)
    logger.error(f"The token `{token}` was rejected by the server.")
    try:
        raise RuntimeError(f"bad url /bot{token}/getUpdates")
    except RuntimeError:
        logger.exception("network loop failed")
    written = out.getvalue()
    assert token not in written
    assert written.count("***") >= 3


def test_httpx_request_lines_are_quiet_unless_debugging(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(load_settings(telegram_token="123456:AAE-secret"), Console(file=out, width=300))
    logging.getLogger("httpx").info("HTTP Request: POST https://example/bot123456:AAE-secret/getUpdates")
    assert "HTTP Request" not in out.getvalue()
