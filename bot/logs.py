"""Logging set-up: one handler, and secrets redacted from every record whoever logs it.

python-telegram-bot and httpx put the bot token in URLs and some error messages, so a filter on
the handler replaces every configured secret with ``***`` before anything is written, and httpx's
per-request lines are kept out unless the level is DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import SecretStr
from rich.console import Console
from rich.logging import RichHandler

from bot.config import Settings

__all__ = ["RedactSecrets", "configure_logging"]


class RedactSecrets(logging.Filter):
    """Replaces each secret with ``***`` in a record's message (arguments included)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({secret for secret in secrets if len(secret) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact, and always keep the record."""
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info, record.exc_text = None, text
        return True

    def redact(self, text: str) -> str:
        """The text with every secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def configure_logging(settings: Settings, console: Console) -> None:
    """Send log records to ``console`` at the configured level, with secrets redacted."""
    secrets: list[SecretStr | None] = [
        settings.telegram_token,
        settings.discord_token,
        settings.telegram_webhook_secret,
    ]
    handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
    handler.addFilter(RedactSecrets(secret.get_secret_value() for secret in secrets if secret is not None))
    logging.basicConfig(level=settings.log_level, format="%(message)s", handlers=[handler], force=True)
    if settings.log_level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
