"""The URLs the settings name, checked and normalised.

The database, Telegram's Bot API, Discord's API and gateway, and the model hub. Each check raises
``ValueError`` with what to write instead; the settings turn it into one line that names where the
value came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = [
    "DISCORD_API_URL",
    "DISCORD_GATEWAY_URL",
    "check_database_url",
    "discord_api_url",
    "discord_gateway_url",
    "hub_url",
    "normalise_bot_api_url",
]

DISCORD_API_URL = "https://discord.com/api/v10"
"""Discord's REST API, the version discord.py 2 speaks included."""
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"
"""Discord's gateway (the websocket that brings events)."""
_DISCORD_API_PATH = "/api/v10"

# A Telegram bot token (digits, a colon, the secret) anywhere in a URL's path.
_TOKEN = re.compile(r"\d+:[\w-]{6,}")


def check_database_url(url: str) -> str:
    """Return ``url`` if classmod can keep its cases there: an SQLite file or PostgreSQL.

    Raises:
        ValueError: another database, an in-memory SQLite database, or not a URL; the message never
            repeats the URL, which may hold a password.
    """
    if not url.startswith(("sqlite:", "postgresql")):
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        raise ValueError(
            f"classmod supports only SQLite and PostgreSQL, not {scheme!r}: use sqlite:///classmod.db "
            "or postgresql+psycopg://user:password@host/database"
        )
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            "is not a database URL: use sqlite:///classmod.db or postgresql+psycopg://user:password@host/database"
        ) from None
    if parsed.get_backend_name() == "postgresql" and not parsed.database:
        # psycopg would connect to the server's default database and create classmod's tables there.
        raise ValueError(
            "names no database: end the URL with the database's name, e.g. "
            "postgresql+psycopg://user:password@host/classmod"
        )
    if parsed.get_backend_name() == "sqlite" and _is_in_memory(parsed.database, parsed.query):
        raise ValueError(
            "names an in-memory SQLite database, which loses every case when classmod stops: "
            "give a file, e.g. sqlite:///classmod.db"
        )
    return url


def normalise_bot_api_url(url: str) -> str:
    """The Bot API's base URL as python-telegram-bot wants it (ending in ``/bot``), or ``ValueError``."""
    # python-telegram-bot appends the token to this URL: without the /bot the token became the port
    # ("Invalid port: '8081123456:AAE...'") and was printed. The messages never repeat the URL.
    parts = urlsplit(url.strip())
    try:
        is_server = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
    except ValueError:  # a port that is not a number from 1 to 65535
        is_server = False
    if not is_server or parts.query or parts.fragment or re.search(r"\s", url.strip()):
        raise ValueError(
            "is not the http:// or https:// address of a Bot API server: give e.g. "
            "https://api.telegram.org/bot or http://127.0.0.1:8081 (with or without /bot)"
        )
    if _TOKEN.search(parts.path):
        raise ValueError(
            "holds the bot token: give the server's address only (e.g. https://api.telegram.org/bot) "
            "and the token in CLASSMOD_TELEGRAM_TOKEN"
        )
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path if path.endswith("/bot") else f"{path}/bot", "", ""))


def discord_api_url(url: str) -> str:
    """The REST base discord.py builds every URL from: a proxy's root, its ``/api``, or ``/api/v10``."""
    example = "https://discord.com or a REST proxy's http://host:port"
    base = _web_url(url, ("http", "https"), example).rstrip("/")
    path = urlsplit(base).path
    if path.endswith("/api"):
        base, path = base + "/v10", path + "/v10"
    version = re.search(r"/api/(v\d+)$", path)
    if version is None:
        return base + _DISCORD_API_PATH
    if version[1] != "v10":
        raise ValueError(
            f"names API {version[1]}, but classmod speaks v10: end it with /api/v10 or leave the path out"
        )
    return base


def discord_gateway_url(url: str) -> str:
    """A gateway discord.py can open: ws:// or wss://, without the query it adds itself."""
    example = "wss://gateway.discord.gg/ or a self-hosted gateway's ws://host:port"
    gateway = _web_url(url, ("ws", "wss"), example)
    return gateway if urlsplit(gateway).path else gateway + "/"


def hub_url(url: str) -> str:
    """The Hub's root, without a trailing slash; it is public, so it needs no credentials."""
    parts = urlsplit(url.strip())
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError(
            "must hold no user name or password, and no query or fragment: give the Hub's or the mirror's "
            "address only, e.g. https://huggingface.co"
        )
    return _web_url(url, ("http", "https"), "https://huggingface.co or a mirror's http(s)://host").rstrip("/")


def _web_url(url: str, schemes: tuple[str, ...], example: str) -> str:
    """``url`` if it has one of ``schemes``, a host, a valid port, and no credentials, query or fragment.

    The messages never repeat the URL: a mistaken one may carry a password or a token.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError(f"has an invalid host or port: use {example}")
    if parts.scheme not in schemes:
        raise ValueError(f"use {' or '.join(f'{scheme}://' for scheme in schemes)}, e.g. {example}")
    if not parts.hostname:
        raise ValueError(f"has no host: use {example}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must hold no user name or password (discord.py sends the bot token itself)")
    if parts.query or parts.fragment:
        raise ValueError("must have no query or fragment (discord.py adds its own)")
    return url.strip()


def _is_in_memory(database: str | None, query: Mapping[str, Any]) -> bool:
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return True
    return "mode=memory" in database or query.get("mode") == "memory"
