"""Secrets out of everything classmod writes: one redaction for the logs and the command line's errors.

python-telegram-bot builds every request URL from the bot token, and libraries quote URLs in their
exception messages, so any text that may carry a secret (a log record, an exception, a traceback, an
error line) passes through a :class:`Redaction` before it is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import SecretStr

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = ["MASK", "Redaction"]

MASK = "***"
# Shorter values would mask ordinary words; no real token or webhook secret is this short.
_SHORTEST_SECRET = 6


class Redaction:
    """Replaces each secret, as written or URL-encoded, with ``***``."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for secret in secrets for form in (secret, quote(secret, safe=""))}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = tuple(
            sorted((form for form in forms if len(form) >= _SHORTEST_SECRET), key=len, reverse=True)
        )

    @classmethod
    def of(cls, settings: Settings) -> Redaction:
        """The redaction of every secret setting (each ``SecretStr``: tokens, webhook secret, data keys).

        A comma-separated secret (``CLASSMOD_DATA_KEYS``) is masked whole and each of its parts alone.
        """
        values = [value.get_secret_value() for _, value in settings if isinstance(value, SecretStr)]
        return cls(
            [*values, *(part.strip() for value in values if "," in value for part in value.split(","))]
        )

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __call__(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text
