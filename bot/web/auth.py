"""Sign-in to the web console without passwords: one-time links, sessions, roles, form tokens.

A listed moderator or safeguarding officer gets a link valid for ten minutes (``classmod console link``,
or ``/console`` to the bot). The link is single use and bound to the role the person had when it was
made; it is exchanged (by a POST, so a chat app's link preview cannot use it up) for a session cookie:
HttpOnly, SameSite=Strict, Secure when the console is reached over HTTPS, ending after 30 idle minutes
or 12 hours whatever. Only SHA-256 hashes of links and cookies are stored. Each session has its own
form token (CSRF), checked on every form sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.config import Settings
from bot.rota import staff_from
from bot.store import ConsoleSession, Store

__all__ = [
    "ABSOLUTE_LIFETIME",
    "IDLE_LIFETIME",
    "LINK_LIFETIME",
    "Attempts",
    "ConsoleRole",
    "Person",
    "csrf_matches",
    "issue_link",
    "redeem",
    "role_of",
    "signed_in",
]

LINK_LIFETIME = timedelta(minutes=10)
IDLE_LIFETIME = timedelta(minutes=30)
ABSOLUTE_LIFETIME = timedelta(hours=12)


class ConsoleRole(StrEnum):
    """What a person may see: moderators the ordinary cases, officers every case."""

    MODERATOR = "moderator"
    OFFICER = "officer"


@dataclass(frozen=True, slots=True)
class Person:
    """Who is signed in: ``telegram:4001`` as an officer, with their session's form token."""

    platform: str
    user_id: str
    role: ConsoleRole
    csrf: str
    session_hash: str

    @property
    def actor(self) -> str:
        """``platform:id``, as the audit log names people."""
        return f"{self.platform}:{self.user_id}"

    @property
    def is_officer(self) -> bool:
        """Whether they may see safeguarding and staff-conduct cases."""
        return self.role is ConsoleRole.OFFICER


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def role_of(settings: Settings, platform: str, user_id: str) -> ConsoleRole | None:
    """A person's role from the settings: officer (listed, or on the rota), moderator, or none."""
    if platform not in ("telegram", "discord"):
        return None
    staff = staff_from(settings, platform)
    if user_id in staff.safeguarding_officers:
        return ConsoleRole.OFFICER
    if user_id in staff.moderators:
        return ConsoleRole.MODERATOR
    return None


def issue_link(store: Store, settings: Settings, platform: str, user_id: str, now: datetime) -> str:
    """A one-time sign-in link for a listed moderator or officer.

    Raises:
        PermissionError: they are neither (the message says where people are listed).
    """
    role = role_of(settings, platform, user_id)
    if role is None:
        raise PermissionError(
            f"{platform}:{user_id} is not a listed moderator or safeguarding officer "
            f"(CLASSMOD_{platform.upper()}_MODERATORS, ..._SAFEGUARDING_OFFICERS, CLASSMOD_SAFEGUARDING_ROTA)"
        )
    token = secrets.token_urlsafe(32)
    store.add_console_link(
        _hash(token),
        platform=platform,
        user_id=user_id,
        role=role.value,
        at=now,
        expires_at=now + LINK_LIFETIME,
    )
    return f"{settings.console_url.rstrip('/')}/signin/{token}"


def redeem(store: Store, token: str, now: datetime) -> tuple[str, Person] | None:
    """Exchange a link's token for a new session: (the cookie's value, the person); ``None`` if refused."""
    if not token or len(token) > 100:
        return None
    claimed = store.redeem_console_link(_hash(token), now)
    if claimed is None:
        return None
    platform, user_id, role = claimed
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    store.add_console_session(_hash(cookie), platform=platform, user_id=user_id, role=role, csrf=csrf, at=now)
    return cookie, Person(platform, user_id, ConsoleRole(role), csrf, _hash(cookie))


def signed_in(store: Store, cookie: str | None, now: datetime) -> Person | None:
    """The person a session cookie belongs to, if the session is still open (it is touched)."""
    if not cookie or len(cookie) > 100:
        return None
    session_hash = _hash(cookie)
    found = store.console_session(session_hash)
    if found is None or not _is_open(found, now):
        return None
    store.touch_console_session(session_hash, now)
    return Person(found.platform, found.user_id, ConsoleRole(found.role), found.csrf, session_hash)


def _is_open(session: ConsoleSession, now: datetime) -> bool:
    return (
        session.revoked_at is None
        and now - session.last_seen_at < IDLE_LIFETIME
        and now - session.created_at < ABSOLUTE_LIFETIME
    )


def csrf_matches(person: Person, sent: object) -> bool:
    """Whether a form carried this session's token (compared in constant time)."""
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), person.csrf.encode())


class Attempts:
    """At most ``limit`` attempts per key (a client's address) in ``window`` seconds: link guessing slowed."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count an attempt; ``False`` once the key has used its share of the window."""
        now = time.monotonic()
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        if len(self._seen) > 10_000:  # forget quiet keys rather than grow without end
            self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] <= self.window}
        return True
