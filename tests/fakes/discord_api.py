"""A fake Discord (REST API v10 and gateway websocket) on 127.0.0.1 for driving the real discord.py in tests.

``FakeDiscord`` is an aiohttp server that answers the REST routes the bot uses, runs the gateway
(HELLO, heartbeats, IDENTIFY/RESUME, READY, GUILD_CREATE, then dispatches), keeps the state a test
asserts on (guilds, members, messages, timeouts, interaction responses) and records every REST call::

    async with FakeDiscord() as fake:                  # also points discord.py at the fake
        fake.add_guild(GUILD, "Maths L2", channels=[(CHAN, "general")], members=[ann])
        client = discord.Client(intents=..., guild_ready_timeout=0.1)
        async with running_client(client, fake.token):
            fake.send_message(CHAN, ann, "hello")
            call = await fake.wait_for_call("POST", "/channels/{channel_id}/messages")

How discord.py is redirected: ``discord.http.Route.BASE`` (every REST and webhook URL is built from it
when a ``Route`` is made) and ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``; a
plain ``Client`` never calls ``/gateway/bot``, an ``AutoShardedClient`` does and then connects to the
``url`` it answers). ``start()`` sets both and ``stop()`` restores them (``redirect=False`` turns that
off; then use ``redirected()`` or ``patch(monkeypatch)``). classmod's own tests pass ``redirect=False``
and give the bot ``api_base`` and ``gateway_url`` as its settings, as a deployment gives a REST proxy and
a self-hosted gateway.

Facts about discord.py 2.7 this fake is built on (read from its source):

* REST replies must carry ``Content-Type: application/json`` exactly (``json_or_text`` compares the
  whole header, so ``; charset=utf-8`` makes every reply a plain string).
* A 429 is retried only with a ``Via`` header and a JSON body holding ``retry_after`` (float seconds)
  and ``global``; otherwise it is taken for a Cloudflare ban and raised as ``HTTPException``. 500, 502,
  504 and 524 are retried after 1, 3, 5... seconds (slow in tests); other errors raise at once:
  403 ``Forbidden``, 404 ``NotFound``, 5xx ``DiscordServerError``, else ``HTTPException``. The
  ``X-RateLimit-*`` headers are sent on every reply, with plenty remaining so no bucket ever blocks.
* The gateway URL asks for ``compress=zlib-stream`` and IDENTIFY says ``compress: true``, but text frames
  are read as plain JSON, so the fake sends text frames only.
* ``on_ready`` waits ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE: pass e.g.
  ``guild_ready_timeout=0.1``. GUILD_CREATE's ``member_count`` equals the members sent (the bot
  included), so ``guild.chunked`` is true and no chunking starts (op 8 is answered anyway).
* A re-IDENTIFY (after an invalid session) runs ``Client.before_identify_hook``, which sleeps 5 s unless
  overridden; a RESUME does not sleep. A server close with 4000 (or a dropped connection) makes the
  client RESUME at ``resume_gateway_url``.

Differences from Discord, on purpose: events dispatched while no session can take them (before the
bot connects, or after it closed) wait and are delivered after the next READY and GUILD_CREATEs, as
the Telegram fake keeps pending updates (``holds_missed_events=False`` loses them, as Discord does,
which never sends an event twice: a bot that was down must read the channel's history); events
carry every field discord.py reads, not every field Discord sends; rate limits happen only when a
test asks for them.

What the bot does over REST is also dispatched back over the gateway as Discord does: its own
messages arrive as MESSAGE_CREATE / MESSAGE_UPDATE / MESSAGE_DELETE (ephemeral ones never), a timeout
as GUILD_MEMBER_UPDATE, a kick as GUILD_MEMBER_REMOVE, leaving a guild as GUILD_DELETE
(``echo_rest_events=False`` turns this off).

Intents are honoured: MESSAGE_* events need GUILD_MESSAGES (guild) or DIRECT_MESSAGES (DM), member events
need GUILD_MEMBERS, and without MESSAGE_CONTENT a message's content, embeds, attachments and
components are empty unless it is a DM, the bot's own, or mentions the bot. Asking for a privileged
intent not in ``privileged_intents`` (the developer-portal switches) closes the gateway with 4014,
which discord.py raises as ``PrivilegedIntentsRequired``.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import hashlib
import itertools
import json
import mimetypes
import re
import struct
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import yarl
from aiohttp import WSMsgType, web

from tests.fakes.http import serve_app
from tests.fakes.recording import CallRecord

if TYPE_CHECKING:
    import discord
    import pytest

JSONDict = dict[str, Any]

DEFAULT_TOKEN = "MTAwMDAwMDAwMDAwMDAwMDAx.fake.discord-bot-token"
DEFAULT_BOT_ID = 1_000_000_000_000_000_001
API_VERSION = 10
DISCORD_EPOCH_MS = 1_420_070_400_000
HEARTBEAT_INTERVAL_MS = 41_250
MAX_TIMEOUT = datetime.timedelta(days=28)
#: How long Discord remembers a nonce sent with ``enforce_nonce`` ("the past few minutes").
NONCE_WINDOW = datetime.timedelta(minutes=5)

# ---------------------------------------------------------------------------------- permissions
CREATE_INSTANT_INVITE = 1 << 0
KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_NICKNAMES = 1 << 27
MANAGE_ROLES = 1 << 28
USE_APPLICATION_COMMANDS = 1 << 31
MODERATE_MEMBERS = 1 << 40
ALL_PERMISSIONS = (1 << 51) - 1

DEFAULT_EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_APPLICATION_COMMANDS
)
#: What the bot needs to moderate: read/send, delete others' messages, time out, kick.
DEFAULT_BOT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | MANAGE_MESSAGES
    | MODERATE_MEMBERS
    | KICK_MEMBERS
)

# -------------------------------------------------------------------------------------- intents
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Application flags (the "limited" ones: what an unverified bot gets when the portal switch is on).
APP_FLAG_GATEWAY_PRESENCE_LIMITED = 1 << 13
APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED = 1 << 15
APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19

# ---------------------------------------------------------------------------------- error codes
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_EXECUTE_ON_DM = 50003
CANNOT_EDIT_OTHERS_MESSAGE = 50005
EMPTY_MESSAGE = 50006
CANNOT_SEND_TO_USER = 50007
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035

MSG_UNKNOWN_MESSAGE = "Unknown Message"
MSG_CANNOT_SEND_TO_USER = "Cannot send messages to this user"
MSG_MISSING_PERMISSIONS = "Missing Permissions"

EPHEMERAL = 1 << 6
LOADING = 1 << 7

#: Routes a test rarely wants to see: ``calls_to()`` without arguments leaves them out.
LOGIN_ROUTES = frozenset(
    {("GET", "/users/@me"), ("GET", "/oauth2/applications/@me"), ("GET", "/gateway/bot"), ("GET", "/gateway")}
)

_MENTION_USER = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE = re.compile(r"<@&(\d+)>")


def _import_discord() -> ModuleType:
    """discord.py, imported with its ``audioop`` DeprecationWarning (Python 3.11+) silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        import discord
        import discord.gateway
        import discord.http

    return discord


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _iso(moment: datetime.datetime | None = None) -> str:
    return (moment or _now()).isoformat()


def _png(width: int = 1, height: int = 1) -> bytes:
    """A valid, tiny, all-white RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


TINY_PNG = _png()


def _snowflake_str(value: int | str) -> str:
    return str(int(value))


def _as_param(value: str) -> int | str:
    return int(value) if value.isdigit() else value


@dataclass(frozen=True)
class DiscordCall:
    """One REST request the bot made.

    ``route`` is discord.py's route template (``/channels/{channel_id}/messages``), or the raw path for
    routes the fake does not implement; ``params`` holds the path parameters (ints where numeric) and
    the JSON body (a list body is under ``"json"``; a multipart body's ``payload_json`` is merged).
    """

    method: str
    route: str
    params: dict[str, Any]
    ok: bool
    status: int = 200
    code: int | None = None
    message: str | None = None
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """``"METHOD /route"``, the form ``fail_next`` and ``rate_limit`` accept."""
        return f"{self.method} {self.route}"


@dataclass(frozen=True)
class GatewayEvent:
    """One dispatch (op 0) the fake sent, or queued for a disconnected session."""

    t: str
    s: int
    d: JSONDict
    session_id: str


class DiscordError(Exception):
    """Raised inside a route handler to answer with a Discord error body ``{"message", "code"}``."""

    def __init__(self, status: int, code: int, message: str, errors: JSONDict | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors


@dataclass
class _Failure:
    keys: tuple[str, ...] | None
    status: int
    code: int
    message: str
    retry_after: float | None = None
    is_global: bool = False
    left: int = 1


@dataclass
class _Guild:
    id: int
    name: str
    owner_id: int
    bot_role_id: int
    joined_at: str
    roles: dict[int, JSONDict] = field(default_factory=dict)
    channels: dict[int, JSONDict] = field(default_factory=dict)
    members: dict[int, JSONDict] = field(default_factory=dict)
    bot_present: bool = True


@dataclass
class _Interaction:
    id: int
    token: str
    type: int
    payload: JSONDict
    channel_id: int
    guild_id: int | None
    responded: bool = False
    response_type: int | None = None
    original_message_id: int | None = None


@dataclass
class _Event:
    t: str
    d: JSONDict
    guild_id: int | None


class _Conn:
    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.request = request
        self.queue: asyncio.Queue[tuple[str, int | None] | None] = asyncio.Queue()
        self.session: _Session | None = None
        self.writer: asyncio.Task[None] | None = None
        self.closed = False
        self.server_closed = False

    @property
    def live(self) -> bool:
        return not self.closed and not self.ws.closed

    def send(self, payload: JSONDict, seq: int | None = None) -> None:
        if self.live:
            self.queue.put_nowait((json.dumps(payload), seq))


@dataclass
class _Session:
    id: str
    shard: tuple[int, int] | None
    intents: int
    seq: int = 0
    delivered: int = 0
    log: list[tuple[int, str, _Event]] = field(default_factory=list)
    conn: _Conn | None = None
    dead: bool = False

    def covers(self, guild_id: int | None) -> bool:
        if self.shard is None:
            return True
        shard_id, count = self.shard
        if guild_id is None:
            return shard_id == 0
        return (guild_id >> 22) % count == shard_id


_Handler = Callable[["_Request"], Any]


@dataclass
class _Request:
    method: str
    route: str
    path: str
    params: dict[str, Any]
    body: Any
    query: dict[str, str]
    files: list[tuple[str, str, bytes]]

    def json(self) -> JSONDict:
        return self.body if isinstance(self.body, dict) else {}


class _Redirect:
    def __init__(self, fake: FakeDiscord) -> None:
        self._fake = fake
        self._restore: Callable[[], None] | None = None

    def __enter__(self) -> FakeDiscord:
        self._restore = self._fake._apply_redirect()
        return self._fake

    def __exit__(self, *exc_info: object) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None

    async def __aenter__(self) -> FakeDiscord:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.__exit__()


class Hold:
    """A gate on one route of the fake (:meth:`FakeDiscord.hold`): ``reached`` once a request waits."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.released = asyncio.Event()

    def release(self) -> None:
        """Let the waiting requests (and every later one) through."""
        self.released.set()


class FakeDiscord(CallRecord[DiscordCall]):
    """A local Discord with guilds, members, messages and a gateway; see the module doc."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_id: int = DEFAULT_BOT_ID,
        bot_name: str = "ClassMod",
        application_id: int | None = None,
        shard_count: int = 1,
        privileged_intents: int = INTENT_GUILD_MEMBERS | INTENT_MESSAGE_CONTENT,
        heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS,
        echo_rest_events: bool = True,
        redirect: bool = True,
        advertised_gateway_url: str | None = None,
        holds_missed_events: bool = True,
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.application_id = application_id if application_id is not None else bot_id
        self.shard_count = shard_count
        self.privileged_intents = privileged_intents
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.echo_rest_events = echo_rest_events
        self.redirect = redirect
        #: What ``GET /gateway/bot`` answers as the gateway URL (None: this fake's own gateway). Set it to
        #: Discord's to check that a client uses the self-hosted gateway it was configured with.
        self.advertised_gateway_url = advertised_gateway_url
        #: True: events no session could take wait for the next one (see the module doc). False: as on
        #: Discord, they are lost, and a new session (IDENTIFY) gets nothing an older one missed.
        self.holds_missed_events = holds_missed_events

        #: Every REST request, in order.
        #: The last ``communication_disabled_until`` set per (guild id, user id): ISO text, or None.
        self.timeouts: dict[tuple[int, int], str | None] = {}
        #: (guild id, user id) of every kick, in order.
        self.kicked: list[tuple[int, int]] = []
        #: (guild id, user id) of every ban, in order.
        self.banned: list[tuple[int, int]] = []
        #: Guild ids the bot left, in order.
        self.left_guilds: list[int] = []
        #: The callback body (``{"type", "data"}``) per interaction id.
        self.interaction_responses: dict[int, JSONDict] = {}
        #: Registered application commands: key None for global, else the guild id.
        self.commands: dict[int | None, list[JSONDict]] = {}
        #: Gateway: the IDENTIFY payloads (token left out), counts and the last intents asked for.
        self.identify_payloads: list[JSONDict] = []
        self.identify_count = 0
        self.resume_count = 0
        self.intents: int | None = None
        #: The query strings the gateway was opened with (``v``, ``encoding``, ``compress``).
        self.gateway_queries: list[dict[str, str]] = []
        #: Every dispatch sent (or queued for replay), in order.
        self.events: list[GatewayEvent] = []

        self._users: dict[int, JSONDict] = {}
        self._guilds: dict[int, _Guild] = {}
        self._dm_channels: dict[int, JSONDict] = {}  # by channel id
        self._dm_by_user: dict[int, int] = {}
        self._closed_dms: set[int] = set()
        self._messages: dict[int, JSONDict] = {}
        self._deleted: set[int] = set()
        self._files: dict[int, tuple[str, str, bytes]] = {}  # attachment id -> (filename, type, data)
        self._interactions: dict[int, _Interaction] = {}
        self._interactions_by_token: dict[str, _Interaction] = {}

        self._sessions: dict[str, _Session] = {}
        self._conns: set[_Conn] = set()
        self._pending: list[_Event] = []

        self._failures: list[_Failure] = []
        self._holds: dict[str, Hold] = {}
        self._last_snowflake = 0
        self._increment = itertools.count()
        self._session_numbers = itertools.count(1)
        self._routes: list[tuple[str, str, re.Pattern[str], _Handler, bool]] = []
        self._register_routes()

        self._runner: web.AppRunner | None = None
        self._restore: Callable[[], None] | None = None
        self.port = 0

        self._users[bot_id] = self.bot_user

    # ----------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """The value for ``discord.http.Route.BASE``."""
        return f"{self.base_url}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """The gateway websocket, for ``DiscordWebSocket.DEFAULT_GATEWAY`` and ``resume_gateway_url``."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1 (the same port again after ``stop()``) and redirect discord.py.

        State (guilds, messages, calls) survives a stop/start; gateway sessions do not.
        """
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_route("*", "/api/v{version}/{tail:.*}", self._handle)
        self._runner, self.port = await serve_app(app, self.port, shutdown_timeout=1.0)
        if self.redirect and self._restore is None:
            self._restore = self._apply_redirect()

    async def stop(self) -> None:
        """Close every gateway connection (1001) and the server, promptly; undo the redirect."""
        for conn in list(self._conns):
            conn.server_closed = True
            await self._close_conn(conn, 1001)
        for session in self._sessions.values():
            self._kill_session(session)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        if self._restore is not None:
            restore, self._restore = self._restore, None
            restore()
        self._pulse()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _apply_redirect(self) -> Callable[[], None]:
        discord = _import_discord()
        route_cls = discord.http.Route
        ws_cls = discord.gateway.DiscordWebSocket
        old_base, old_gateway = route_cls.BASE, ws_cls.DEFAULT_GATEWAY
        route_cls.BASE = self.api_base
        ws_cls.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)

        def restore() -> None:
            route_cls.BASE = old_base
            ws_cls.DEFAULT_GATEWAY = old_gateway

        return restore

    def redirected(self) -> _Redirect:
        """Point discord.py at this fake for a ``with`` or ``async with`` block (for ``redirect=False``)."""
        return _Redirect(self)

    def patch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point discord.py at this fake until the test ends (after ``start()``: the port is needed)."""
        discord = _import_discord()
        monkeypatch.setattr(discord.http.Route, "BASE", self.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(self.gateway_url))

    # ------------------------------------------------------------------------------------- ids

    def snowflake(self) -> int:
        """A new, increasing Discord snowflake (timestamp-based, so ``created_at`` is now)."""
        value = ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(self._increment) & 0xFFF)
        value = max(value, self._last_snowflake + 1)
        self._last_snowflake = value
        return value

    # ------------------------------------------------------------------------------ users, guilds

    @property
    def bot_user(self) -> JSONDict:
        """The bot as a User JSON (what ``GET /users/@me`` answers)."""
        return {
            "id": str(self.bot_id),
            "username": self.bot_name,
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "flags": 0,
            "public_flags": 0,
            "locale": "en-US",
            "email": None,
        }

    def application_flags(self) -> int:
        flags = 0
        if self.privileged_intents & INTENT_GUILD_MEMBERS:
            flags |= APP_FLAG_GATEWAY_GUILD_MEMBERS_LIMITED
        if self.privileged_intents & INTENT_MESSAGE_CONTENT:
            flags |= APP_FLAG_GATEWAY_MESSAGE_CONTENT_LIMITED
        if self.privileged_intents & INTENT_GUILD_PRESENCES:
            flags |= APP_FLAG_GATEWAY_PRESENCE_LIMITED
        return flags

    def make_user(
        self, user_id: int, username: str, *, global_name: str | None = None, bot: bool = False
    ) -> JSONDict:
        """A User JSON, remembered so that members, mentions and DMs know them."""
        user: JSONDict = {
            "id": str(user_id),
            "username": username,
            "discriminator": "0",
            "global_name": global_name if global_name is not None else username.title(),
            "avatar": None,
            "public_flags": 0,
        }
        if bot:
            user["bot"] = True
        self._users[user_id] = user
        return copy.deepcopy(user)

    def _user(self, user: JSONDict | int) -> JSONDict:
        if isinstance(user, dict):
            user_id = int(user["id"])
            self._users.setdefault(user_id, copy.deepcopy(user))
            return copy.deepcopy(self._users[user_id])
        if user not in self._users:
            raise KeyError(f"unknown user {user}: make it with make_user() first")
        return copy.deepcopy(self._users[user])

    @staticmethod
    def _member_json(user: JSONDict, roles: Iterable[int] = (), *, joined_at: str | None = None) -> JSONDict:
        return {
            "user": copy.deepcopy(user),
            "roles": [str(role) for role in roles],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": joined_at or _iso(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }

    @staticmethod
    def _role_json(role_id: int, name: str, permissions: int, position: int, **extra: Any) -> JSONDict:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": False,
            "mentionable": False,
            "flags": 0,
            **extra,
        }

    @staticmethod
    def _text_channel_json(guild_id: int, channel_id: int, name: str, position: int) -> JSONDict:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440,
            "flags": 0,
        }

    @staticmethod
    def overwrite(target_id: int, *, allow: int = 0, deny: int = 0, member: bool = False) -> JSONDict:
        """A permission overwrite for ``add_guild(channels=[(id, name, [overwrites...])])``."""
        return {"id": str(target_id), "type": 1 if member else 0, "allow": str(allow), "deny": str(deny)}

    def add_guild(
        self,
        guild_id: int,
        name: str,
        *,
        channels: Iterable[tuple[int, str] | tuple[int, str, list[JSONDict]] | JSONDict] = (),
        roles: Iterable[tuple[int, str, int] | JSONDict] = (),
        members: Iterable[JSONDict | tuple[JSONDict, Iterable[int]]] = (),
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        owner_id: int | None = None,
    ) -> JSONDict:
        """A guild the bot is in; returns its GUILD_CREATE payload.

        ``channels``: text channels as (id, name), (id, name, overwrites) or partial channel JSON.
        ``roles``: (id, name, permissions) besides @everyone (id = guild id, ``everyone_permissions``)
        and the bot's managed role (``bot_permissions``, placed highest). ``members``: user JSONs, or
        (user, role ids); the bot is added as a member. ``owner_id`` defaults to a user who is not a
        member, so every listed member can be timed out or kicked.
        """
        bot_role_id = self.snowflake()
        guild = _Guild(
            id=guild_id,
            name=name,
            owner_id=owner_id if owner_id is not None else self.snowflake(),
            bot_role_id=bot_role_id,
            joined_at=_iso(),
        )
        guild.roles[guild_id] = self._role_json(guild_id, "@everyone", everyone_permissions, 0)
        position = 0
        for role in roles:
            position += 1
            if isinstance(role, dict):
                role_json = self._role_json(int(role["id"]), role.get("name", "role"), 0, position)
                role_json.update({**role, "id": str(role["id"])})
                if "permissions" in role:
                    role_json["permissions"] = str(role["permissions"])
            else:
                role_id, role_name, permissions = role
                role_json = self._role_json(role_id, role_name, permissions, position)
            guild.roles[int(role_json["id"])] = role_json
        guild.roles[bot_role_id] = self._role_json(
            bot_role_id,
            self.bot_name,
            bot_permissions,
            position + 1,
            managed=True,
            tags={"bot_id": str(self.bot_id)},
        )
        for index, channel in enumerate(channels):
            if isinstance(channel, dict):
                channel_json = self._text_channel_json(
                    guild_id, int(channel["id"]), channel.get("name", "chan"), index
                )
                channel_json.update({**channel, "id": str(channel["id"]), "guild_id": str(guild_id)})
            else:
                channel_json = self._text_channel_json(guild_id, channel[0], channel[1], index)
                if len(channel) > 2:
                    channel_json["permission_overwrites"] = list(channel[2])  # type: ignore[misc]
            guild.channels[int(channel_json["id"])] = channel_json
        guild.members[self.bot_id] = self._member_json(
            self.bot_user, [bot_role_id], joined_at=guild.joined_at
        )
        for entry in members:
            user, role_ids = (entry, ()) if isinstance(entry, dict) else entry
            user = self._user(user)
            guild.members[int(user["id"])] = self._member_json(user, role_ids)
        self._guilds[guild_id] = guild
        self._pulse()
        return self.guild_payload(guild_id)

    def guild_create(self, guild_id: int, name: str, **kwargs: Any) -> JSONDict:
        """``add_guild`` while connected: the bot joins it live (GUILD_CREATE is dispatched)."""
        payload = self.add_guild(guild_id, name, **kwargs)
        self.dispatch("GUILD_CREATE", payload, guild_id=guild_id)
        return payload

    def _guild(self, guild_id: int) -> _Guild:
        try:
            return self._guilds[guild_id]
        except KeyError:
            raise KeyError(f"unknown guild {guild_id}: add it with add_guild() first") from None

    def guild_payload(self, guild_id: int) -> JSONDict:
        """The GUILD_CREATE payload of a known guild (every field discord.py reads)."""
        guild = self._guild(guild_id)
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": copy.deepcopy(list(guild.roles.values())),
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-GB",
            "nsfw_level": 0,
            "nsfw": False,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "joined_at": guild.joined_at,
            "large": False,
            "unavailable": False,
            "lazy": True,
            "member_count": len(guild.members),
            "members": copy.deepcopy(list(guild.members.values())),
            "channels": [
                {key: value for key, value in channel.items() if key != "guild_id"}
                for channel in copy.deepcopy(list(guild.channels.values()))
            ],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "incidents_data": None,
        }

    def add_member(self, guild_id: int, user: JSONDict, roles: Iterable[int] = ()) -> JSONDict:
        """Put ``user`` in a guild without an event (before connecting); returns the member JSON."""
        guild = self._guild(guild_id)
        user = self._user(user)
        guild.members[int(user["id"])] = self._member_json(user, roles)
        self._pulse()
        return copy.deepcopy(guild.members[int(user["id"])])

    def member(self, guild_id: int, user_id: int) -> JSONDict | None:
        """The member JSON (with ``user``), or None when not a member."""
        found = self._guild(guild_id).members.get(user_id)
        return copy.deepcopy(found) if found is not None else None

    def set_bot_permissions(self, guild_id: int, permissions: int) -> None:
        """Change the bot role's permissions (GUILD_ROLE_UPDATE is dispatched)."""
        guild = self._guild(guild_id)
        role = guild.roles[guild.bot_role_id]
        role["permissions"] = str(permissions)
        self.dispatch(
            "GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": copy.deepcopy(role)}, guild_id=guild_id
        )

    def bot_role_id(self, guild_id: int) -> int:
        return self._guild(guild_id).bot_role_id

    def permissions(self, guild_id: int, user_id: int, channel_id: int | None = None) -> int:
        """A member's permissions in the guild, or in a channel (overwrites applied) as Discord computes."""
        guild = self._guild(guild_id)
        if user_id == guild.owner_id:
            return ALL_PERMISSIONS
        member = guild.members.get(user_id)
        role_ids = [int(role) for role in member["roles"]] if member else []
        base = int(guild.roles[guild.id]["permissions"])
        for role_id in role_ids:
            if role_id in guild.roles:
                base |= int(guild.roles[role_id]["permissions"])
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        if channel_id is None or channel_id not in guild.channels:
            return base
        overwrites = {int(o["id"]): o for o in guild.channels[channel_id].get("permission_overwrites", [])}
        everyone = overwrites.get(guild.id)
        if everyone:
            base = (base & ~int(everyone["deny"])) | int(everyone["allow"])
        allow = deny = 0
        for role_id in role_ids:
            found = overwrites.get(role_id)
            if found and int(found.get("type", 0)) == 0:
                allow |= int(found["allow"])
                deny |= int(found["deny"])
        base = (base & ~deny) | allow
        own = overwrites.get(user_id)
        if own and int(own.get("type", 1)) == 1:
            base = (base & ~int(own["deny"])) | int(own["allow"])
        if not base & VIEW_CHANNEL:
            return 0
        return base

    # ------------------------------------------------------------------------------------ DMs

    def dm_channel_id(self, user_id: int) -> int:
        """The bot's DM channel with a user (made on first use, as ``POST /users/@me/channels`` does)."""
        if user_id not in self._dm_by_user:
            user = self._user(user_id)
            channel_id = self.snowflake()
            self._dm_channels[channel_id] = {
                "id": str(channel_id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [user],
            }
            self._dm_by_user[user_id] = channel_id
        return self._dm_by_user[user_id]

    def close_dms(self, user_id: int) -> None:
        """Sending to this user's DM channel answers 403 with code 50007 from now on."""
        self._closed_dms.add(user_id)

    def open_dms(self, user_id: int) -> None:
        self._closed_dms.discard(user_id)

    def dms_to(self, user_id: int) -> list[JSONDict]:
        """The bot's messages in its DM channel with ``user_id`` (empty if it never opened one)."""
        channel_id = self._dm_by_user.get(user_id)
        return [] if channel_id is None else self.sent_messages(channel_id)

    # ------------------------------------------------------------------------------- messages

    def _channel_guild(self, channel_id: int) -> _Guild | None:
        for guild in self._guilds.values():
            if channel_id in guild.channels:
                return guild
        if channel_id in self._dm_channels:
            return None
        raise KeyError(
            f"unknown channel {channel_id}: add it with add_guild(channels=...) or dm_channel_id()"
        )

    def channel_payload(self, channel_id: int) -> JSONDict:
        guild = self._channel_guild(channel_id)
        if guild is None:
            return copy.deepcopy(self._dm_channels[channel_id])
        return copy.deepcopy(guild.channels[channel_id])

    def _attachment_json(self, channel_id: int, spec: str | JSONDict) -> JSONDict:
        spec = {"filename": spec} if isinstance(spec, str) else dict(spec)
        filename = spec.pop("filename", "image.png")
        data: bytes = spec.pop("data", None) or (TINY_PNG if filename.endswith(".png") else b"fake file")
        content_type = spec.pop("content_type", None) or mimetypes.guess_type(filename)[0] or "image/png"
        attachment_id = int(spec.pop("id", None) or self.snowflake())
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{filename}"
        attachment: JSONDict = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
        }
        if content_type.startswith("image/"):
            attachment.update(width=640, height=480)
        attachment.update(spec)
        self._files[attachment_id] = (filename, content_type, data)
        return attachment

    def _mentions(self, content: str, guild: _Guild | None) -> tuple[list[JSONDict], list[str]]:
        mentions: list[JSONDict] = []
        for match in _MENTION_USER.finditer(content):
            user_id = int(match.group(1))
            if user_id not in self._users or any(int(m["id"]) == user_id for m in mentions):
                continue
            mention = copy.deepcopy(self._users[user_id])
            if guild is not None and user_id in guild.members:
                member = copy.deepcopy(guild.members[user_id])
                member.pop("user")
                mention["member"] = member
            mentions.append(mention)
        roles = [match.group(1) for match in _MENTION_ROLE.finditer(content)]
        return mentions, roles

    def _message_json(
        self,
        channel_id: int,
        author: JSONDict,
        content: str,
        *,
        message_id: int | None = None,
        attachments: Iterable[str | JSONDict] | None = None,
        embeds: list[JSONDict] | None = None,
        components: list[JSONDict] | None = None,
        flags: int = 0,
        message_type: int = 0,
    ) -> JSONDict:
        guild = self._channel_guild(channel_id)
        mentions, mention_roles = self._mentions(content, guild)
        message: JSONDict = {
            "id": str(message_id or self.snowflake()),
            "channel_id": str(channel_id),
            "author": copy.deepcopy(author),
            "content": content,
            "timestamp": _iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": "@everyone" in content or "@here" in content,
            "mentions": mentions,
            "mention_roles": mention_roles,
            "attachments": [self._attachment_json(channel_id, spec) for spec in attachments or ()],
            "embeds": copy.deepcopy(embeds or []),
            "reactions": [],
            "pinned": False,
            "type": message_type,
            "flags": flags,
            "components": copy.deepcopy(components or []),
        }
        if guild is not None:
            message["guild_id"] = str(guild.id)
            member = guild.members.get(int(author["id"]))
            if member is not None:
                member_part = copy.deepcopy(member)
                member_part.pop("user")
                message["member"] = member_part
        return message

    def _store(self, message: JSONDict) -> JSONDict:
        self._messages[int(message["id"])] = message
        channel_id = int(message["channel_id"])
        guild = self._channel_guild(channel_id)
        channel = guild.channels[channel_id] if guild is not None else self._dm_channels[channel_id]
        channel["last_message_id"] = message["id"]
        self._pulse()
        return message

    def send_message(
        self,
        channel_id: int,
        user: JSONDict,
        content: str,
        *,
        attachments: Iterable[str | JSONDict] | None = None,
        embeds: list[JSONDict] | None = None,
        reply_to: int | None = None,
    ) -> JSONDict:
        """A user posts in a channel (a guild text channel or a DM channel): MESSAGE_CREATE.

        ``attachments``: filenames, or dicts with ``filename`` and optionally ``data`` (bytes; a
        tiny PNG by default), ``content_type`` (guessed from the name), ``size``, ``width``... The
        attachment URLs point at this fake, so ``Attachment.read()`` works. Returns the message JSON.
        """
        user = self._user(user)
        message = self._message_json(channel_id, user, content, attachments=attachments, embeds=embeds)
        if reply_to is not None:
            message["type"] = 19
            message["message_reference"] = {"message_id": str(reply_to), "channel_id": str(channel_id)}
            if "guild_id" in message:
                message["message_reference"]["guild_id"] = message["guild_id"]
            original = self._messages.get(reply_to)
            message["referenced_message"] = (
                None
                if original is None or reply_to in self._deleted
                else self._public(original, strip_member=True)
            )
        self._store(message)
        self.dispatch("MESSAGE_CREATE", message)
        return copy.deepcopy(message)

    def add_undelivered_message(self, channel_id: int, user: JSONDict, content: str) -> JSONDict:
        """A message in a channel whose MESSAGE_CREATE the bot never got (it was down). Returns its JSON."""
        message = self._message_json(channel_id, self._user(user), content, attachments=None, embeds=None)
        self._store(message)
        return copy.deepcopy(message)

    def edit_message(
        self,
        channel_id: int,
        message_id: int,
        user: JSONDict,
        content: str,
        *,
        embeds: list[JSONDict] | None = None,
    ) -> JSONDict:
        """A user edits their message: MESSAGE_UPDATE with the full message and ``edited_timestamp``."""
        user = self._user(user)
        stored = self._messages.get(message_id)
        if stored is None:
            # An edit of a message the fake never saw (e.g. from before the bot started).
            stored = self._message_json(channel_id, user, content, message_id=message_id)
            stored["timestamp"] = _iso(_now() - datetime.timedelta(hours=1))
            self._messages[message_id] = stored
        stored["content"] = content
        mentions, mention_roles = self._mentions(content, self._channel_guild(channel_id))
        stored.update(mentions=mentions, mention_roles=mention_roles, edited_timestamp=_iso())
        if embeds is not None:
            stored["embeds"] = copy.deepcopy(embeds)
        self._pulse()
        self.dispatch("MESSAGE_UPDATE", copy.deepcopy(stored))
        return copy.deepcopy(stored)

    def message_deleted(self, channel_id: int, message_id: int) -> None:
        """Someone (not the bot) deleted a message: MESSAGE_DELETE."""
        self._deleted.add(message_id)
        guild = self._channel_guild(channel_id)
        data: JSONDict = {"id": str(message_id), "channel_id": str(channel_id)}
        if guild is not None:
            data["guild_id"] = str(guild.id)
        self._pulse()
        self.dispatch("MESSAGE_DELETE", data)

    def member_join(self, guild_id: int, user: JSONDict, *, roles: Iterable[int] = ()) -> JSONDict:
        """A user joins a guild: GUILD_MEMBER_ADD. Returns the member JSON."""
        member = self.add_member(guild_id, user, roles)
        self.dispatch("GUILD_MEMBER_ADD", {**member, "guild_id": str(guild_id)})
        return member

    def create_channel(self, guild_id: int, channel_id: int, name: str) -> JSONDict:
        """An admin adds a text channel to a guild: CHANNEL_CREATE. Returns the channel JSON."""
        guild = self._guild(guild_id)
        channel = self._text_channel_json(guild_id, channel_id, name, len(guild.channels))
        guild.channels[channel_id] = channel
        self._pulse()
        self.dispatch("CHANNEL_CREATE", copy.deepcopy(channel), guild_id=guild_id)
        return copy.deepcopy(channel)

    def member_leave(self, guild_id: int, user_id: int) -> None:
        """A member leaves: GUILD_MEMBER_REMOVE."""
        member = self._guild(guild_id).members.pop(user_id)
        self._pulse()
        self.dispatch("GUILD_MEMBER_REMOVE", {"guild_id": str(guild_id), "user": member["user"]})

    @staticmethod
    def _public(message: JSONDict, *, strip_member: bool = False) -> JSONDict:
        public = copy.deepcopy(message)
        if strip_member:
            public.pop("member", None)
        return public

    def message(self, channel_id: int, message_id: int) -> JSONDict:
        """A known message's current JSON, with ``deleted`` added."""
        found = self._messages.get(message_id)
        if found is None or int(found["channel_id"]) != channel_id:
            raise KeyError(f"unknown message {message_id} in channel {channel_id}")
        return {**copy.deepcopy(found), "deleted": message_id in self._deleted}

    def messages(self, channel_id: int) -> list[JSONDict]:
        """Every message in a channel (users' and the bot's), oldest first, with ``deleted`` added."""
        return [
            {**copy.deepcopy(message), "deleted": message_id in self._deleted}
            for message_id, message in sorted(self._messages.items())
            if int(message["channel_id"]) == channel_id
        ]

    def sent_messages(self, channel_id: int) -> list[JSONDict]:
        """The bot's messages in a channel (interaction responses included), as they are now."""
        return [m for m in self.messages(channel_id) if int(m["author"]["id"]) == self.bot_id]

    def is_deleted(self, channel_id: int, message_id: int) -> bool:
        return self.message(channel_id, message_id)["deleted"]

    def timeout_of(self, guild_id: int, user_id: int) -> datetime.datetime | None:
        """When a member's timeout ends (None if never timed out or cleared)."""
        value = self.timeouts.get((guild_id, user_id))
        return None if value is None else datetime.datetime.fromisoformat(value)

    # ---------------------------------------------------------------------------- interactions

    def _interaction(
        self,
        interaction_type: int,
        user: JSONDict,
        *,
        channel_id: int,
        data: JSONDict,
        message: JSONDict | None = None,
        locale: str = "en-GB",
    ) -> JSONDict:
        user = self._user(user)
        user_id = int(user["id"])
        guild = self._channel_guild(channel_id)
        interaction_id = self.snowflake()
        token = f"fake-interaction-token-{interaction_id}"
        channel = self.channel_payload(channel_id)
        payload: JSONDict = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "channel_id": str(channel_id),
            "channel": channel,
        }
        if guild is not None:
            member = guild.members.get(user_id) or self._member_json(user)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-GB", "features": []},
                guild_locale="en-GB",
                member={
                    **copy.deepcopy(member),
                    "permissions": str(self.permissions(guild.id, user_id, channel_id)),
                },
                app_permissions=str(self.permissions(guild.id, self.bot_id, channel_id)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user,
                app_permissions=str(
                    VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY
                ),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        if message is not None:
            payload["message"] = message
        record = _Interaction(
            id=interaction_id,
            token=token,
            type=interaction_type,
            payload=payload,
            channel_id=channel_id,
            guild_id=guild.id if guild else None,
        )
        self._interactions[interaction_id] = record
        self._interactions_by_token[token] = record
        self.dispatch("INTERACTION_CREATE", payload)
        return copy.deepcopy(payload)

    def press_button(
        self,
        user: JSONDict,
        message: JSONDict,
        custom_id: str,
        *,
        guild_id: int | None = None,
        check: bool = True,
    ) -> JSONDict:
        """``user`` presses a button on ``message`` (a bot message JSON): INTERACTION_CREATE type 3.

        The message's current state is sent (after any edits). With ``check`` the button must be on
        it (a ValueError says which custom ids are). Returns the interaction JSON (``id``, ``token``).
        """
        message_id = int(message["id"])
        channel_id = int(message["channel_id"])
        current = copy.deepcopy(self._messages.get(message_id, message))
        current.pop("member", None)
        if check:
            found = list(_custom_ids(current.get("components", [])))
            if custom_id not in found:
                raise ValueError(f"no button {custom_id!r} on message {message_id}; it has {found}")
        if guild_id is not None and self._channel_guild(channel_id) is not None:
            assert self._channel_guild(channel_id).id == guild_id, (
                "guild_id does not match the message's channel"
            )  # type: ignore[union-attr]
        return self._interaction(
            3,
            user,
            channel_id=channel_id,
            data={"custom_id": custom_id, "component_type": 2, "id": 1},
            message=current,
        )

    def submit_modal(
        self, user: JSONDict, channel_id: int, custom_id: str, values: Mapping[str, str]
    ) -> JSONDict:
        """``user`` submits a form (modal) the bot opened: INTERACTION_CREATE type 5 with its text inputs."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": name, "value": value}]}
            for name, value in values.items()
        ]
        return self._interaction(
            5, user, channel_id=channel_id, data={"custom_id": custom_id, "components": rows}
        )

    def slash_command(
        self,
        user: JSONDict,
        name: str,
        options: Mapping[str, Any] | list[JSONDict] | None = None,
        *,
        channel_id: int,
        guild_id: int | None = None,
        command_guild_id: int | None = None,
        resolved: JSONDict | None = None,
        locale: str = "en-GB",
    ) -> JSONDict:
        """``user`` runs ``/name`` in a channel: INTERACTION_CREATE type 2 (chat input).

        ``locale`` is the language the user's Discord is set to (``pl``, ``zh-CN``).

        ``options``: ``{"name": value}`` (str, int, float or bool; their Discord option types are
        inferred) or raw option dicts. ``command_guild_id``: set it when the command was registered
        for that guild (``tree.command(guild=...)``); discord.py looks guild commands up by it.
        """
        if isinstance(options, Mapping):
            option_list = [_option(key, value) for key, value in options.items()]
        else:
            option_list = list(options or [])
        registered = self.commands.get(command_guild_id, [])
        command_id = (
            next((int(c["id"]) for c in registered if c.get("name") == name), None) or self.snowflake()
        )
        data: JSONDict = {"id": str(command_id), "name": name, "type": 1, "options": option_list}
        if command_guild_id is not None:
            data["guild_id"] = str(command_guild_id)
        if resolved is not None:
            data["resolved"] = resolved
        if guild_id is not None and self._channel_guild(channel_id) is not None:
            assert self._channel_guild(channel_id).id == guild_id, "guild_id does not match the channel"  # type: ignore[union-attr]
        return self._interaction(2, user, channel_id=channel_id, data=data, locale=locale)

    def interaction_response(self, interaction: JSONDict | int) -> JSONDict | None:
        """The callback body the bot answered an interaction with, or None yet."""
        interaction_id = int(interaction["id"]) if isinstance(interaction, dict) else interaction
        return copy.deepcopy(self.interaction_responses.get(interaction_id))

    async def wait_for_interaction_response(
        self, interaction: JSONDict | int, timeout: float = 5.0
    ) -> JSONDict:
        interaction_id = int(interaction["id"]) if isinstance(interaction, dict) else interaction
        await self.wait_until(lambda: interaction_id in self.interaction_responses, timeout)
        return copy.deepcopy(self.interaction_responses[interaction_id])

    # ------------------------------------------------------------------------------- gateway

    def dispatch(self, t: str, data: JSONDict, *, guild_id: int | None = None) -> None:
        """Send an op 0 dispatch to every session whose shard holds the guild, or hold it until one does."""
        if guild_id is None:
            guild_id = _guild_of(t, data)
        event = _Event(t, copy.deepcopy(data), guild_id)
        targets = [s for s in self._sessions.values() if not s.dead and s.covers(guild_id)]
        if not targets and self.holds_missed_events:
            self._pending.append(event)
        for session in targets:
            self._send_event(session, event)
        self._pulse()

    def _send_event(self, session: _Session, event: _Event) -> None:
        data = _visible(session.intents, event, self.bot_id)
        if data is None:
            return
        session.seq += 1
        payload = {"op": 0, "t": event.t, "s": session.seq, "d": data}
        text = json.dumps(payload)
        session.log.append((session.seq, text, event))
        self.events.append(GatewayEvent(t=event.t, s=session.seq, d=data, session_id=session.id))
        if session.conn is not None and session.conn.live:
            session.conn.queue.put_nowait((text, session.seq))

    @property
    def connected(self) -> bool:
        """Whether some gateway session is identified and has a live connection."""
        return any(s.conn is not None and s.conn.live and not s.dead for s in self._sessions.values())

    async def disconnect_gateway(self, code: int | None = 4000) -> None:
        """Close every gateway connection with ``code`` (None: drop the TCP connection) to force a reconnect.

        Sessions stay resumable: discord.py RESUMEs (4000, 1006...) and gets what it missed, then
        RESUMED. Codes 4004 and 4010-4014 make it give up, as with Discord.
        """
        for conn in list(self._conns):
            conn.server_closed = True
            await self._close_conn(conn, code)

    async def invalidate_session(self, *, resumable: bool = False) -> None:
        """Send op 9 (invalid session). Not resumable: discord.py re-IDENTIFIES (after its 5 s hook)."""
        for conn in list(self._conns):
            if conn.session is not None and not resumable:
                self._kill_session(conn.session)
            conn.send({"op": 9, "d": resumable, "s": None, "t": None})

    async def request_reconnect(self) -> None:
        """Send op 7 (reconnect): discord.py closes and RESUMEs."""
        for conn in list(self._conns):
            conn.send({"op": 7, "d": None, "s": None, "t": None})

    async def _close_conn(self, conn: _Conn, code: int | None) -> None:
        conn.closed = True
        transport = conn.request.transport
        if code is None:
            if transport is not None:
                transport.abort()
            return
        try:
            await asyncio.wait_for(conn.ws.close(code=code, message=b"fake close"), 2.0)
        except (TimeoutError, ConnectionError, RuntimeError):
            if transport is not None:
                transport.abort()

    def _kill_session(self, session: _Session) -> None:
        if session.dead:
            return
        session.dead = True
        if self.holds_missed_events:
            # What the client never got goes to the next session that covers its guild.
            self._pending.extend(event for seq, _, event in session.log if seq > session.delivered)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(timeout=2.0, max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws, request)
        self._conns.add(conn)
        self.gateway_queries.append(dict(request.query))
        conn.writer = asyncio.create_task(self._write_loop(conn), name="fake-discord-gateway-writer")
        conn.send({"op": 10, "d": {"heartbeat_interval": self.heartbeat_interval_ms}, "s": None, "t": None})
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
        finally:
            conn.closed = True
            self._conns.discard(conn)
            conn.queue.put_nowait(None)
            with suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(conn.writer, 1.0)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if not conn.server_closed and ws.close_code in (1000, 1001):
                    self._kill_session(session)  # a clean close by the client ends its session
            self._pulse()
        return ws

    async def _write_loop(self, conn: _Conn) -> None:
        while True:
            item = await conn.queue.get()
            if item is None:
                return
            text, seq = item
            try:
                await conn.ws.send_str(text)
            except Exception:
                return
            if seq is not None and conn.session is not None and conn.session.conn is conn:
                conn.session.delivered = max(conn.session.delivered, seq)

    async def _on_gateway_message(self, conn: _Conn, message: JSONDict) -> None:
        op, data = message.get("op"), message.get("d")
        if op == 1:
            conn.send({"op": 11, "d": None, "s": None, "t": None})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        # op 3 (presence) and 4 (voice state) need no answer.

    async def _identify(self, conn: _Conn, data: JSONDict) -> None:
        if data.get("token") != self.token:
            conn.server_closed = True
            await self._close_conn(conn, 4004)
            return
        intents = int(data.get("intents", 0))
        self.identify_count += 1
        self.intents = intents
        self.identify_payloads.append({key: value for key, value in data.items() if key != "token"})
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            conn.server_closed = True
            await self._close_conn(conn, 4014)
            return
        shard = tuple(data["shard"]) if data.get("shard") else None
        # Older sessions of this shard that lost their connection will never be resumed now.
        for old in self._sessions.values():
            if not old.dead and old.shard == shard and (old.conn is None or not old.conn.live):
                self._kill_session(old)
        session = _Session(id=f"fake-session-{next(self._session_numbers)}", shard=shard, intents=intents)  # type: ignore[arg-type]
        session.conn = conn
        conn.session = session
        self._sessions[session.id] = session
        guilds = [g for g in self._guilds.values() if g.bot_present and session.covers(g.id)]
        ready: JSONDict = {
            "v": API_VERSION,
            "user": self.bot_user,
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags()},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "user_settings": {},
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        self._send_event(session, _Event("READY", ready, None))
        for guild in guilds:
            self._send_event(session, _Event("GUILD_CREATE", self.guild_payload(guild.id), guild.id))
        pending, self._pending = self._pending, []
        for event in pending:
            if session.covers(event.guild_id):
                self._send_event(session, event)
            else:
                self._pending.append(event)
        self._pulse()

    async def _resume(self, conn: _Conn, data: JSONDict) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or session.dead or data.get("token") != self.token:
            conn.send({"op": 9, "d": False, "s": None, "t": None})
            return
        self.resume_count += 1
        if session.conn is not None and session.conn is not conn:
            session.conn.session = None
        session.conn = conn
        conn.session = session
        since = int(data.get("seq") or 0)
        for seq, text, _ in session.log:
            if seq > since:
                conn.queue.put_nowait((text, seq))
        self._send_event(session, _Event("RESUMED", {}, None))
        self._pulse()

    def _request_members(self, conn: _Conn, data: JSONDict) -> None:
        if conn.session is None:
            return
        guild = self._guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        if data.get("user_ids"):
            wanted = {int(user_id) for user_id in data["user_ids"]}
            members = [m for m in members if int(m["user"]["id"]) in wanted]
        elif data.get("query"):
            members = [m for m in members if m["user"]["username"].lower().startswith(data["query"].lower())]
        if data.get("limit"):
            members = members[: int(data["limit"])]
        chunk: JSONDict = {
            "guild_id": str(guild.id),
            "members": copy.deepcopy(members),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        self._send_event(conn.session, _Event("GUILD_MEMBERS_CHUNK", chunk, guild.id))

    # --------------------------------------------------------------------------------- call record

    def _matches(self, call: DiscordCall, method: str | None, route: str | None) -> bool:
        if method is not None and " " in method and route is None:
            method, route = method.split(" ", 1)
        if method is not None and call.method != method.upper():
            return False
        return route is None or route in (call.route, call.path)

    def calls_to(
        self, method: str | None = None, route: str | None = None, *, ok: bool | None = None
    ) -> list[DiscordCall]:
        """Recorded calls by method and/or route (template or path; ``"POST /route"`` works as method).

        With neither, every call except login (``/users/@me``, ``/oauth2/applications/@me``, gateway).
        """
        found = [
            call
            for call in self.calls
            if self._matches(call, method, route) and (ok is None or call.ok == ok)
        ]
        if method is None and route is None:
            found = [call for call in found if (call.method, call.route) not in LOGIN_ROUTES]
        return found

    def find_call(
        self,
        method: str | None = None,
        route: str | None = None,
        predicate: Callable[[DiscordCall], bool] | None = None,
        *,
        ok: bool | None = None,
    ) -> DiscordCall | None:
        for call in self.calls_to(method, route, ok=ok):
            if predicate is None or predicate(call):
                return call
        return None

    async def wait_for_call(
        self,
        method: str | None = None,
        route: str | None = None,
        predicate: Callable[[DiscordCall], bool] | None = None,
        *,
        ok: bool | None = None,
        timeout: float = 5.0,
    ) -> DiscordCall:
        """The first recorded call (already made, or made within ``timeout``) matching; else TimeoutError."""
        return await self._wait_for(
            lambda: self.find_call(method, route, predicate, ok=ok),
            timeout,
            lambda: f"no {method or ''} {route or ''} call",
        )

    async def expect_no_call(
        self,
        method: str | None = None,
        route: str | None = None,
        predicate: Callable[[DiscordCall], bool] | None = None,
        *,
        within: float = 0.3,
    ) -> None:
        """Wait ``within`` seconds and fail if a matching call was made (or had been made)."""
        await self._expect_none(
            lambda: self.find_call(method, route, predicate),
            within,
            lambda call: f"unexpected call {call.key}: {call.params}",
        )

    def _seen(self) -> list[str]:
        return [f"{call.key}{'' if call.ok else f' !{call.status}'}" for call in self.calls_to()]

    # ------------------------------------------------------------------------------------ failures

    def hold(self, method_and_route: str) -> Hold:
        """Requests to ``"METHOD /route/{template}"`` wait, unanswered, until the hold is released."""
        held = self._holds[method_and_route] = Hold()
        return held

    def fail_next(
        self,
        route_or_method: str | None = None,
        status: int = 400,
        code: int = 0,
        message: str = "injected failure",
        times: int = 1,
    ) -> None:
        """The next ``times`` matching requests fail with ``status`` and ``{"message", "code"}``.

        ``route_or_method``: ``"DELETE /channels/{channel_id}/messages/{message_id}"``, a route template
        (any method), a method (any route), or None (any request). 500/502/504 are retried by discord.py
        after 1, 3, 5 s; use 503 for a server error it raises at once. A 429 here is a proper rate limit.
        """
        self._failures.append(
            _Failure(
                None if route_or_method is None else (route_or_method,),
                status,
                code,
                message,
                retry_after=0.1 if status == 429 else None,
                left=times,
            )
        )

    def rate_limit(
        self,
        times: int,
        retry_after: float = 0.1,
        routes: Iterable[str] | None = None,
        *,
        is_global: bool = False,
    ) -> None:
        """A 429 storm: the next ``times`` requests (to any of ``routes``, in ``fail_next``'s forms) get 429.

        Each 429 carries ``Via``, ``X-RateLimit-*`` and ``{"retry_after", "global"}``, so discord.py
        sleeps ``retry_after`` and retries (up to 5 tries per request).
        """
        keys = tuple(routes) if routes is not None else None
        self._failures.append(
            _Failure(keys, 429, 0, "You are being rate limited.", retry_after, is_global, left=times)
        )

    def _take_failure(self, method: str, route: str) -> _Failure | None:
        forms = {method, route, f"{method} {route}"}
        for failure in self._failures:
            if failure.keys is None or forms.intersection(failure.keys):
                failure.left -= 1
                if failure.left <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    # ---------------------------------------------------------------------------------- REST

    def _register_routes(self) -> None:
        def add(method: str, template: str, handler: _Handler, *, auth: bool = True) -> None:
            # Ids match digits only, so e.g. ``/messages/pins`` is not taken for a message id.
            pattern = re.sub(
                r"\\\{(\w+)\\\}",
                lambda m: f"(?P<{m.group(1)}>{'[^/]+' if m.group(1).endswith('token') else '[0-9]+'})",
                re.escape(template),
            )
            self._routes.append((method, template, re.compile(f"^{pattern}$"), handler, auth))

        add("GET", "/users/@me", lambda r: self.bot_user)
        add("GET", "/oauth2/applications/@me", self._get_application)
        add("GET", "/gateway", lambda r: {"url": self.gateway_url})
        add("GET", "/gateway/bot", self._get_gateway_bot)
        add("POST", "/users/@me/channels", self._create_dm)
        add("GET", "/users/@me/guilds", self._get_my_guilds)
        add("DELETE", "/users/@me/guilds/{guild_id}", self._leave_guild)
        add("GET", "/users/{user_id}", self._get_user)
        add("GET", "/guilds/{guild_id}", self._get_guild)
        add("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        add("GET", "/guilds/{guild_id}/roles", self._get_guild_roles)
        add("GET", "/guilds/{guild_id}/members", self._get_members)
        add("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)
        add("PATCH", "/guilds/{guild_id}/members/{user_id}", self._edit_member)
        add("DELETE", "/guilds/{guild_id}/members/{user_id}", self._kick)
        add("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._add_role)
        add("DELETE", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._remove_role)
        add("PUT", "/guilds/{guild_id}/bans/{user_id}", self._ban)
        add("GET", "/channels/{channel_id}", self._get_channel)
        add("POST", "/channels/{channel_id}/typing", self._typing)
        add("GET", "/channels/{channel_id}/messages", self._get_messages)
        add("POST", "/channels/{channel_id}/messages", self._send)
        add("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        add("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit)
        add("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete)
        add("GET", "/applications/{application_id}/commands", self._get_commands)
        add("PUT", "/applications/{application_id}/commands", self._put_commands)
        add("POST", "/applications/{application_id}/commands", self._post_command)
        add("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands)
        add("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands)
        add("POST", "/applications/{application_id}/guilds/{guild_id}/commands", self._post_command)
        add("POST", "/interactions/{webhook_id}/{webhook_token}/callback", self._callback, auth=False)
        add("POST", "/webhooks/{webhook_id}/{webhook_token}", self._followup, auth=False)
        for method, handler in (
            ("GET", self._get_webhook_message),
            ("PATCH", self._edit_webhook_message),
            ("DELETE", self._delete_webhook_message),
        ):
            add(method, "/webhooks/{webhook_id}/{webhook_token}/messages/@original", handler, auth=False)
            add(method, "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}", handler, auth=False)

    def _ratelimit_headers(
        self, method: str, route: str, *, remaining: int = 49, reset_after: float = 1.0
    ) -> dict[str, str]:
        bucket = hashlib.sha1(f"{method} {route}".encode()).hexdigest()[:16]
        return {
            "X-RateLimit-Limit": "50",
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    @staticmethod
    def _json(status: int, payload: Any, headers: Mapping[str, str]) -> web.Response:
        # Exactly "application/json": discord.py compares the header as a whole.
        return web.Response(
            status=status,
            body=json.dumps(payload).encode(),
            headers={**headers, "Content-Type": "application/json"},
        )

    async def _read_body(self, request: web.Request) -> tuple[Any, list[tuple[str, str, bytes]]]:
        files: list[tuple[str, str, bytes]] = []
        if request.content_type.startswith("multipart/"):
            body: Any = None
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":  # type: ignore[union-attr]
                    body = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    data = await part.read()  # type: ignore[union-attr]
                    content_type = part.headers.get("Content-Type", "application/octet-stream")  # type: ignore[union-attr]
                    files.append((part.filename or "file", content_type, bytes(data)))  # type: ignore[union-attr]
            return body, files
        raw = await request.read()
        if not raw:
            return None, files
        try:
            return json.loads(raw), files
        except ValueError:
            return raw.decode("utf-8", "replace"), files

    def _match(self, method: str, path: str) -> tuple[str, _Handler, dict[str, Any], bool] | None:
        for route_method, template, pattern, handler, auth in self._routes:
            if route_method != method:
                continue
            found = pattern.match(path)
            if found:
                params = {key: _as_param(value) for key, value in found.groupdict().items()}
                return template, handler, params, auth
        return None

    def _record(
        self, request: _Request, ok: bool, status: int, code: int | None, message: str | None
    ) -> None:
        params = dict(request.params)
        if isinstance(request.body, dict):
            params.update(copy.deepcopy(request.body))
        elif request.body is not None:
            params["json"] = copy.deepcopy(request.body)
        self.calls.append(
            DiscordCall(
                method=request.method,
                route=request.route,
                params=params,
                ok=ok,
                status=status,
                code=code,
                message=message,
                path=request.path,
                query=dict(request.query),
                files=tuple(name for name, _, _ in request.files),
            )
        )
        self._pulse()

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.method
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        found = self._match(method, path)
        if found is None:
            req = _Request(method, path, path, {}, body, dict(request.query), files)
            message = f"fake does not implement {method} {path}"
            self._record(req, False, 404, 0, message)
            return self._json(404, {"message": message, "code": 0}, {})
        route, handler, params, auth = found
        req = _Request(method, route, path, params, body, dict(request.query), files)
        headers = self._ratelimit_headers(method, route)
        if request.match_info["version"] != str(API_VERSION):
            self._record(req, False, 400, 50041, "Invalid API version")
            return self._json(400, {"message": "Invalid API version", "code": 50041}, headers)
        if auth and request.headers.get("Authorization") != f"Bot {self.token}":
            self._record(req, False, 401, 0, "401: Unauthorized")
            return self._json(401, {"message": "401: Unauthorized", "code": 0}, headers)
        held = self._holds.get(f"{method} {route}")
        if held is not None:
            held.reached.set()
            await held.released.wait()
        failure = self._take_failure(method, route)
        if failure is not None:
            self._record(req, False, failure.status, failure.code, failure.message)
            if failure.status == 429:
                retry_after = failure.retry_after or 0.1
                limit_headers = {
                    **self._ratelimit_headers(method, route, remaining=0, reset_after=retry_after),
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, round(retry_after))),
                    "X-RateLimit-Scope": "global" if failure.is_global else "user",
                }
                if failure.is_global:
                    limit_headers["X-RateLimit-Global"] = "true"
                payload = {
                    "message": failure.message,
                    "retry_after": retry_after,
                    "global": failure.is_global,
                }
                return self._json(429, payload, limit_headers)
            return self._json(failure.status, {"message": failure.message, "code": failure.code}, headers)
        try:
            result = handler(req)
            if isinstance(result, Awaitable):
                result = await result
        except DiscordError as exc:
            self._record(req, False, exc.status, exc.code, exc.message)
            payload: JSONDict = {"message": exc.message, "code": exc.code}
            if exc.errors is not None:
                payload["errors"] = exc.errors
            return self._json(exc.status, payload, headers)
        self._record(req, True, 204 if result is None else 200, None, None)
        if result is None:
            return web.Response(status=204, headers=headers)
        return self._json(200, result, headers)

    async def _attachment(self, request: web.Request) -> web.Response:
        found = self._files.get(int(request.match_info["attachment_id"]))
        if found is None:
            return web.Response(status=404, text="Not Found")
        _, content_type, data = found
        return web.Response(body=data, headers={"Content-Type": content_type})

    # ------------------------------------------------------------------------------ route handlers

    def _get_application(self, request: _Request) -> JSONDict:
        owner = {"id": "1", "username": "owner", "discriminator": "0", "global_name": "Owner", "avatar": None}
        return {
            "id": str(self.application_id),
            "name": self.bot_name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "owner": owner,
            "team": None,
            "flags": self.application_flags(),
            "hook": True,
            "tags": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self._guilds),
            "bot": self.bot_user,
        }

    def _get_gateway_bot(self, request: _Request) -> JSONDict:
        return {
            "url": self.advertised_gateway_url or self.gateway_url,
            "shards": self.shard_count,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 14_400_000,
                "max_concurrency": 1,
            },
        }

    def _guild_for_bot(self, guild_id: int) -> _Guild:
        guild = self._guilds.get(guild_id)
        if guild is None or not guild.bot_present:
            raise DiscordError(404, UNKNOWN_GUILD, "Unknown Guild")
        return guild

    def _require(self, guild: _Guild, permission: int, channel_id: int | None = None) -> None:
        if not self.permissions(guild.id, self.bot_id, channel_id) & permission:
            raise DiscordError(403, MISSING_PERMISSIONS, MSG_MISSING_PERMISSIONS)

    def _channel_for_bot(self, channel_id: int) -> tuple[JSONDict, _Guild | None]:
        if channel_id in self._dm_channels:
            return self._dm_channels[channel_id], None
        for guild in self._guilds.values():
            if channel_id in guild.channels:
                if not guild.bot_present:
                    raise DiscordError(403, MISSING_ACCESS, "Missing Access")
                if not self.permissions(guild.id, self.bot_id, channel_id) & VIEW_CHANNEL:
                    raise DiscordError(403, MISSING_ACCESS, "Missing Access")
                return guild.channels[channel_id], guild
        raise DiscordError(404, UNKNOWN_CHANNEL, "Unknown Channel")

    def _shares_guild(self, user_id: int) -> bool:
        return any(g.bot_present and user_id in g.members for g in self._guilds.values())

    def _create_dm(self, request: _Request) -> JSONDict:
        recipient = int(request.json().get("recipient_id", 0))
        if recipient not in self._users:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        return copy.deepcopy(self._dm_channels[self.dm_channel_id(recipient)])

    def _get_my_guilds(self, request: _Request) -> list[JSONDict]:
        return [
            {
                "id": str(g.id),
                "name": g.name,
                "icon": None,
                "owner": False,
                "permissions": "0",
                "features": [],
            }
            for g in self._guilds.values()
            if g.bot_present
        ]

    def _leave_guild(self, request: _Request) -> None:
        guild = self._guild_for_bot(request.params["guild_id"])
        guild.bot_present = False
        guild.members.pop(self.bot_id, None)
        self.left_guilds.append(guild.id)
        if self.echo_rest_events:
            self.dispatch("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id)
        return None

    def _get_user(self, request: _Request) -> JSONDict:
        user = (
            self._users.get(request.params["user_id"]) if isinstance(request.params["user_id"], int) else None
        )
        if user is None:
            raise DiscordError(404, UNKNOWN_USER, "Unknown User")
        return copy.deepcopy(user)

    def _get_guild(self, request: _Request) -> JSONDict:
        guild = self._guild_for_bot(request.params["guild_id"])
        payload = self.guild_payload(guild.id)
        for key in (
            "members",
            "channels",
            "threads",
            "presences",
            "voice_states",
            "member_count",
            "joined_at",
        ):
            payload.pop(key, None)
        return payload

    def _get_guild_channels(self, request: _Request) -> list[JSONDict]:
        return copy.deepcopy(list(self._guild_for_bot(request.params["guild_id"]).channels.values()))

    def _get_guild_roles(self, request: _Request) -> list[JSONDict]:
        return copy.deepcopy(list(self._guild_for_bot(request.params["guild_id"]).roles.values()))

    def _get_members(self, request: _Request) -> list[JSONDict]:
        guild = self._guild_for_bot(request.params["guild_id"])
        limit = int(request.query.get("limit", 1))
        return copy.deepcopy(list(guild.members.values())[:limit])

    def _member_for(self, request: _Request) -> tuple[_Guild, JSONDict]:
        guild = self._guild_for_bot(request.params["guild_id"])
        member = (
            guild.members.get(request.params["user_id"])
            if isinstance(request.params["user_id"], int)
            else None
        )
        if member is None:
            raise DiscordError(404, UNKNOWN_MEMBER, "Unknown Member")
        return guild, member

    def _get_member(self, request: _Request) -> JSONDict:
        return copy.deepcopy(self._member_for(request)[1])

    def _may_moderate(self, guild: _Guild, user_id: int) -> None:
        if user_id in (guild.owner_id, self.bot_id) or self.permissions(guild.id, user_id) & ADMINISTRATOR:
            raise DiscordError(403, MISSING_PERMISSIONS, MSG_MISSING_PERMISSIONS)

    def _edit_member(self, request: _Request) -> JSONDict:
        guild, member = self._member_for(request)
        body = request.json()
        user_id = int(member["user"]["id"])
        if "communication_disabled_until" in body:
            self._require(guild, MODERATE_MEMBERS)
            self._may_moderate(guild, user_id)
            until = body["communication_disabled_until"]
            if until is not None:
                moment = datetime.datetime.fromisoformat(until)
                if moment - _now() > MAX_TIMEOUT + datetime.timedelta(seconds=5):
                    raise DiscordError(
                        400,
                        INVALID_FORM_BODY,
                        "Invalid Form Body",
                        {
                            "communication_disabled_until": {
                                "_errors": [
                                    {
                                        "code": "BASE_TYPE_BAD_TIME",
                                        "message": "Timeout must be less than 28 days",
                                    }
                                ]
                            }
                        },
                    )
            member["communication_disabled_until"] = until
            self.timeouts[(guild.id, user_id)] = until
        if "nick" in body:
            member["nick"] = body["nick"]
        if "roles" in body:
            self._require(guild, MANAGE_ROLES)
            member["roles"] = [str(role) for role in body["roles"]]
        for key in ("mute", "deaf"):
            if key in body:
                member[key] = bool(body[key])
        self._echo_member_update(guild, member)
        return copy.deepcopy(member)

    def _echo_member_update(self, guild: _Guild, member: JSONDict) -> None:
        if self.echo_rest_events:
            self.dispatch(
                "GUILD_MEMBER_UPDATE", {**copy.deepcopy(member), "guild_id": str(guild.id)}, guild_id=guild.id
            )

    def _kick(self, request: _Request) -> None:
        guild, member = self._member_for(request)
        self._require(guild, KICK_MEMBERS)
        user_id = int(member["user"]["id"])
        self._may_moderate(guild, user_id)
        del guild.members[user_id]
        self.kicked.append((guild.id, user_id))
        if self.echo_rest_events:
            self.dispatch(
                "GUILD_MEMBER_REMOVE", {"guild_id": str(guild.id), "user": member["user"]}, guild_id=guild.id
            )
        return None

    def _ban(self, request: _Request) -> None:
        guild = self._guild_for_bot(request.params["guild_id"])
        self._require(guild, BAN_MEMBERS)
        user_id = int(request.params["user_id"])
        self._may_moderate(guild, user_id)
        member = guild.members.pop(user_id, None)
        self.banned.append((guild.id, user_id))
        if member is not None and self.echo_rest_events:
            self.dispatch(
                "GUILD_MEMBER_REMOVE", {"guild_id": str(guild.id), "user": member["user"]}, guild_id=guild.id
            )
        return None

    def _add_role(self, request: _Request) -> None:
        guild, member = self._member_for(request)
        self._require(guild, MANAGE_ROLES)
        role = str(request.params["role_id"])
        if int(role) not in guild.roles:
            raise DiscordError(404, 10011, "Unknown Role")
        if role not in member["roles"]:
            member["roles"].append(role)
        self._echo_member_update(guild, member)
        return None

    def _remove_role(self, request: _Request) -> None:
        guild, member = self._member_for(request)
        self._require(guild, MANAGE_ROLES)
        role = str(request.params["role_id"])
        if role in member["roles"]:
            member["roles"].remove(role)
        self._echo_member_update(guild, member)
        return None

    def _get_channel(self, request: _Request) -> JSONDict:
        channel, _ = self._channel_for_bot(request.params["channel_id"])
        return copy.deepcopy(channel)

    def _typing(self, request: _Request) -> None:
        self._channel_for_bot(request.params["channel_id"])
        return None

    def _known_message(self, channel_id: int, message_id: Any) -> JSONDict:
        message = self._messages.get(message_id) if isinstance(message_id, int) else None
        if message is None or message_id in self._deleted or int(message["channel_id"]) != channel_id:
            raise DiscordError(404, UNKNOWN_MESSAGE, MSG_UNKNOWN_MESSAGE)
        return message

    def _get_messages(self, request: _Request) -> list[JSONDict]:
        """A page of a channel's history, newest first, as Discord answers it.

        ``before``: the ``limit`` newest messages older than that id; ``after``: the ``limit`` oldest
        newer than it (still newest first); ``around``: about half each side; none: the newest.
        """
        channel_id = request.params["channel_id"]
        _, guild = self._channel_for_bot(channel_id)
        if guild is not None:
            self._require(guild, READ_MESSAGE_HISTORY, channel_id)
        query = request.query
        anchors = [key for key in ("before", "after", "around") if key in query]
        limit = int(query.get("limit", 50))
        if not 1 <= limit <= 100 or len(anchors) > 1:
            raise DiscordError(400, INVALID_FORM_BODY, "Invalid Form Body")
        ids = sorted(  # ephemeral replies are only their user's: never in the history
            mid
            for mid, m in self._messages.items()
            if int(m["channel_id"]) == channel_id
            and mid not in self._deleted
            and not int(m.get("flags", 0)) & EPHEMERAL
        )
        anchor = int(query[anchors[0]]) if anchors else None
        if anchor is None:
            chosen = ids[-limit:]
        elif anchors[0] == "before":
            chosen = [mid for mid in ids if mid < anchor][-limit:]
        elif anchors[0] == "after":
            chosen = [mid for mid in ids if mid > anchor][:limit]
        else:
            older = [mid for mid in ids if mid < anchor][-(limit // 2) :] if limit > 1 else []
            chosen = older + [mid for mid in ids if mid >= anchor][: limit - len(older)]
        return [self._public(self._messages[mid], strip_member=True) for mid in reversed(chosen)]

    def _get_message(self, request: _Request) -> JSONDict:
        channel_id = request.params["channel_id"]
        _, guild = self._channel_for_bot(channel_id)
        if guild is not None:
            self._require(guild, READ_MESSAGE_HISTORY, channel_id)
        return self._public(self._known_message(channel_id, request.params["message_id"]), strip_member=True)

    def _bot_message(
        self,
        channel_id: int,
        body: JSONDict,
        files: list[tuple[str, str, bytes]],
        *,
        flags: int | None = None,
        message_type: int = 0,
    ) -> JSONDict:
        content = body.get("content") or ""
        embeds = [{"type": "rich", **embed} for embed in body.get("embeds") or []]
        if len(content) > 2000:
            raise DiscordError(
                400,
                INVALID_FORM_BODY,
                "Invalid Form Body",
                {
                    "content": {
                        "_errors": [
                            {"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
                        ]
                    }
                },
            )
        if not (
            content
            or embeds
            or files
            or body.get("components")
            or body.get("sticker_ids")
            or body.get("poll")
        ):
            raise DiscordError(400, EMPTY_MESSAGE, "Cannot send an empty message")
        attachments: list[JSONDict] = [
            {"filename": name, "content_type": content_type, "data": data}
            for name, content_type, data in files
        ]
        return self._message_json(
            channel_id,
            self.bot_user,
            content,
            attachments=attachments,
            embeds=embeds,
            components=body.get("components") or [],
            flags=int(body.get("flags") or 0) if flags is None else flags,
            message_type=message_type,
        )

    def _send(self, request: _Request) -> JSONDict:
        channel_id = request.params["channel_id"]
        channel, guild = self._channel_for_bot(channel_id)
        body = request.json()
        if guild is None:
            recipient = int(channel["recipients"][0]["id"])
            if (
                recipient in self._closed_dms
                or not self._shares_guild(recipient)
                or channel["recipients"][0].get("bot")
            ):
                raise DiscordError(403, CANNOT_SEND_TO_USER, MSG_CANNOT_SEND_TO_USER)
        else:
            self._require(guild, SEND_MESSAGES, channel_id)
        earlier = self._same_nonce(body)
        if earlier is not None:
            return self._public(earlier, strip_member=True)
        reference = body.get("message_reference")
        message = self._bot_message(channel_id, body, request.files, message_type=19 if reference else 0)
        if reference:
            ref_id = int(reference["message_id"])
            original = self._messages.get(ref_id)
            if original is None or ref_id in self._deleted:
                if reference.get("fail_if_not_exists", True):
                    raise DiscordError(
                        400,
                        INVALID_FORM_BODY,
                        "Invalid Form Body",
                        {
                            "message_reference": {
                                "_errors": [
                                    {
                                        "code": "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                                        "message": "Unknown message",
                                    }
                                ]
                            }
                        },
                    )
                message["type"] = 0
            else:
                message["message_reference"] = {
                    "type": 0,
                    "message_id": str(ref_id),
                    "channel_id": str(channel_id),
                    **({"guild_id": str(guild.id)} if guild else {}),
                }
                message["referenced_message"] = self._public(original, strip_member=True)
        if body.get("nonce") is not None:
            message["nonce"] = body["nonce"]
        self._store(message)
        if self.echo_rest_events:
            self.dispatch("MESSAGE_CREATE", message)
        return self._public(message, strip_member=True)

    def _same_nonce(self, body: JSONDict) -> JSONDict | None:
        """With ``enforce_nonce``, the bot's message of the last few minutes that has this nonce, if any."""
        nonce = body.get("nonce")
        if nonce is None or not body.get("enforce_nonce"):
            return None
        since = _now() - NONCE_WINDOW
        for message in reversed(list(self._messages.values())):
            if (
                message.get("nonce") == nonce
                and int(message["author"]["id"]) == int(self.bot_user["id"])
                and datetime.datetime.fromisoformat(message["timestamp"]) >= since
            ):
                return message
        return None

    def _apply_edit(self, message: JSONDict, body: JSONDict, files: list[tuple[str, str, bytes]]) -> None:
        if "content" in body:
            message["content"] = body["content"] or ""
            mentions, roles = self._mentions(
                message["content"], self._channel_guild(int(message["channel_id"]))
            )
            message.update(mentions=mentions, mention_roles=roles)
        if "embeds" in body:
            message["embeds"] = [{"type": "rich", **embed} for embed in body["embeds"] or []]
        if "components" in body:
            message["components"] = copy.deepcopy(body["components"] or [])
        if "flags" in body and body["flags"] is not None:
            message["flags"] = (int(message.get("flags", 0)) & EPHEMERAL) | int(body["flags"])
        if "attachments" in body or files:
            kept_ids = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in kept_ids]
            channel_id = int(message["channel_id"])
            added = [
                self._attachment_json(
                    channel_id, {"filename": name, "content_type": content_type, "data": data}
                )
                for name, content_type, data in files
            ]
            message["attachments"] = kept + added
        message["edited_timestamp"] = _iso()
        self._pulse()

    def _edit(self, request: _Request) -> JSONDict:
        channel_id = request.params["channel_id"]
        self._channel_for_bot(channel_id)
        message = self._known_message(channel_id, request.params["message_id"])
        if int(message["author"]["id"]) != self.bot_id:
            raise DiscordError(
                403, CANNOT_EDIT_OTHERS_MESSAGE, "Cannot edit a message authored by another user"
            )
        self._apply_edit(message, request.json(), request.files)
        self._echo_update(message)
        return self._public(message, strip_member=True)

    def _echo_update(self, message: JSONDict) -> None:
        if self.echo_rest_events and not int(message.get("flags", 0)) & EPHEMERAL:
            self.dispatch("MESSAGE_UPDATE", message)

    def _delete(self, request: _Request) -> None:
        channel_id = request.params["channel_id"]
        _, guild = self._channel_for_bot(channel_id)
        message = self._known_message(channel_id, request.params["message_id"])
        if int(message["author"]["id"]) != self.bot_id:
            if guild is None:
                raise DiscordError(403, CANNOT_EXECUTE_ON_DM, "Cannot execute action on a DM channel")
            self._require(guild, MANAGE_MESSAGES, channel_id)
        self._delete_stored(message)
        return None

    def _delete_stored(self, message: JSONDict) -> None:
        message_id = int(message["id"])
        self._deleted.add(message_id)
        self._pulse()
        if self.echo_rest_events and not int(message.get("flags", 0)) & EPHEMERAL:
            data: JSONDict = {"id": message["id"], "channel_id": message["channel_id"]}
            if "guild_id" in message:
                data["guild_id"] = message["guild_id"]
            self.dispatch("MESSAGE_DELETE", data)

    # ----------------------------------------------------------------------- application commands

    def _command_key(self, request: _Request) -> int | None:
        if request.params["application_id"] != self.application_id:
            raise DiscordError(403, MISSING_ACCESS, "Missing Access")
        guild_id = request.params.get("guild_id")
        if guild_id is not None:
            self._guild_for_bot(guild_id)
        return guild_id

    def _command_json(self, key: int | None, command: JSONDict) -> JSONDict:
        existing = next((c for c in self.commands.get(key, []) if c["name"] == command.get("name")), None)
        result: JSONDict = {
            "type": 1,
            "description": "",
            "options": [],
            "default_member_permissions": None,
            "dm_permission": True,
            "nsfw": False,
            **copy.deepcopy(command),
            "id": existing["id"] if existing else str(self.snowflake()),
            "application_id": str(self.application_id),
            "version": str(self.snowflake()),
        }
        if key is not None:
            result["guild_id"] = str(key)
        return result

    def _get_commands(self, request: _Request) -> list[JSONDict]:
        return copy.deepcopy(self.commands.get(self._command_key(request), []))

    def _put_commands(self, request: _Request) -> list[JSONDict]:
        key = self._command_key(request)
        body = request.body if isinstance(request.body, list) else []
        self.commands[key] = [self._command_json(key, command) for command in body]
        self._pulse()
        return copy.deepcopy(self.commands[key])

    def _post_command(self, request: _Request) -> JSONDict:
        key = self._command_key(request)
        command = self._command_json(key, request.json())
        kept = [c for c in self.commands.get(key, []) if c["name"] != command["name"]]
        self.commands[key] = [*kept, command]
        self._pulse()
        return copy.deepcopy(command)

    # ---------------------------------------------------------------------- interaction responses

    def _interaction_for(self, request: _Request) -> _Interaction:
        token = str(request.params["webhook_token"])
        found = self._interactions_by_token.get(token)
        webhook_id = request.params["webhook_id"]
        if request.route.startswith("/interactions/"):
            if found is None or found.id != webhook_id:
                raise DiscordError(404, UNKNOWN_INTERACTION, "Unknown interaction")
        elif found is None or webhook_id != self.application_id:
            raise DiscordError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        return found

    def _interaction_message(
        self, interaction: _Interaction, body: JSONDict, files: list[Any], *, flags: int
    ) -> JSONDict:
        payload = interaction.payload
        user = payload.get("member", {}).get("user") or payload.get("user")
        message_type = 20 if interaction.type == 2 else 0
        if not (body.get("content") or body.get("embeds") or body.get("components") or files):
            message = self._message_json(
                interaction.channel_id, self.bot_user, "", flags=flags, message_type=message_type
            )
        else:
            message = self._bot_message(
                interaction.channel_id, body, files, flags=flags, message_type=message_type
            )
        message["webhook_id"] = str(self.application_id)
        message["application_id"] = str(self.application_id)
        message["interaction_metadata"] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": copy.deepcopy(user),
            "authorizing_integration_owners": copy.deepcopy(
                payload.get("authorizing_integration_owners", {})
            ),
        }
        if interaction.type == 2:
            message["interaction_metadata"]["name"] = payload["data"]["name"]
        self._store(message)
        if self.echo_rest_events and not flags & EPHEMERAL:
            self.dispatch("MESSAGE_CREATE", message)
        return message

    def _callback(self, request: _Request) -> JSONDict:
        interaction = self._interaction_for(request)
        if interaction.responded:
            raise DiscordError(
                400, INTERACTION_ALREADY_ACKNOWLEDGED, "Interaction has already been acknowledged."
            )
        body = request.json()
        response_type = int(body.get("type", 0))
        data = body.get("data") or {}
        interaction.responded = True
        interaction.response_type = response_type
        self.interaction_responses[interaction.id] = copy.deepcopy(body)
        result: JSONDict = {"interaction": {"id": str(interaction.id), "type": interaction.type}}
        if response_type in (4, 5):
            flags = int(data.get("flags") or 0)
            if response_type == 5:
                flags |= LOADING
            message = self._interaction_message(interaction, data, request.files, flags=flags)
            interaction.original_message_id = int(message["id"])
            result["interaction"].update(
                response_message_id=message["id"],
                response_message_loading=response_type == 5,
                response_message_ephemeral=bool(flags & EPHEMERAL),
            )
            result["resource"] = {"type": response_type, "message": self._public(message, strip_member=True)}
        elif response_type in (6, 7):
            source = interaction.payload.get("message")
            if source is not None:
                interaction.original_message_id = int(source["id"])
                result["interaction"]["response_message_id"] = source["id"]
                stored = self._messages.get(int(source["id"]))
                if response_type == 7 and stored is not None and int(source["id"]) not in self._deleted:
                    self._apply_edit(stored, data, request.files)
                    self._echo_update(stored)
                    result["resource"] = {"type": 7, "message": self._public(stored, strip_member=True)}
        else:
            result["resource"] = {"type": response_type}
        self._pulse()
        return result

    def _webhook_target(self, request: _Request) -> tuple[_Interaction, JSONDict]:
        interaction = self._interaction_for(request)
        message_id = request.params.get("message_id")
        if message_id is None or message_id == "@original" or request.route.endswith("@original"):
            message_id = interaction.original_message_id
        if not isinstance(message_id, int):
            raise DiscordError(404, UNKNOWN_MESSAGE, MSG_UNKNOWN_MESSAGE)
        return interaction, self._known_message(interaction.channel_id, message_id)

    def _get_webhook_message(self, request: _Request) -> JSONDict:
        return self._public(self._webhook_target(request)[1], strip_member=True)

    def _edit_webhook_message(self, request: _Request) -> JSONDict:
        _, message = self._webhook_target(request)
        message["flags"] = int(message.get("flags", 0)) & ~LOADING
        self._apply_edit(message, request.json(), request.files)
        self._echo_update(message)
        return self._public(message, strip_member=True)

    def _delete_webhook_message(self, request: _Request) -> None:
        _, message = self._webhook_target(request)
        self._delete_stored(message)
        return None

    def _followup(self, request: _Request) -> JSONDict | None:
        interaction = self._interaction_for(request)
        if not interaction.responded:
            raise DiscordError(404, UNKNOWN_WEBHOOK, "Unknown Webhook")
        body = request.json()
        original = self._messages.get(interaction.original_message_id or 0)
        if original is not None and int(original.get("flags", 0)) & LOADING:
            # As on Discord, the first followup after a "thinking" defer replaces the loading message.
            original["flags"] = int(original["flags"]) & ~LOADING
            self._apply_edit(original, body, request.files)
            self._echo_update(original)
            return self._public(original, strip_member=True)
        message = self._interaction_message(
            interaction, body, request.files, flags=int(body.get("flags") or 0)
        )
        if request.query.get("wait") in ("1", "true", "True"):
            return self._public(message, strip_member=True)
        return None


def _custom_ids(components: Iterable[JSONDict]) -> Iterator[str]:
    for component in components:
        if component.get("custom_id"):
            yield component["custom_id"]
        yield from _custom_ids(component.get("components") or [])
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            yield from _custom_ids([accessory])


def _option(name: str, value: Any) -> JSONDict:
    if isinstance(value, bool):
        kind = 5
    elif isinstance(value, int):
        kind = 4
    elif isinstance(value, float):
        kind = 10
    else:
        kind, value = 3, str(value)
    return {"name": name, "type": kind, "value": value}


def _guild_of(t: str, data: JSONDict) -> int | None:
    if data.get("guild_id"):
        return int(data["guild_id"])
    if t.startswith("GUILD_") and t != "GUILD_MEMBERS_CHUNK" and data.get("id"):
        return int(data["id"])
    return None


def _visible(intents: int, event: _Event, bot_id: int) -> JSONDict | None:
    """What a session with ``intents`` gets of an event: the data, a content-less copy, or None."""
    t, data = event.t, event.d
    if t.startswith("MESSAGE_"):
        needed = INTENT_GUILD_MESSAGES if data.get("guild_id") else INTENT_DIRECT_MESSAGES
        if not intents & needed:
            return None
        if t in ("MESSAGE_CREATE", "MESSAGE_UPDATE") and not intents & INTENT_MESSAGE_CONTENT:
            own = int(data.get("author", {}).get("id", 0)) == bot_id
            mentioned = any(int(user["id"]) == bot_id for user in data.get("mentions", []))
            if data.get("guild_id") and not own and not mentioned:
                data = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
                data.pop("poll", None)
    elif t in ("GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"):
        if not intents & INTENT_GUILD_MEMBERS:
            return None
    elif t.startswith(("GUILD_", "CHANNEL_", "THREAD_")) and t not in ("GUILD_CREATE", "GUILD_MEMBERS_CHUNK"):
        if not intents & INTENT_GUILDS:
            return None
    return copy.deepcopy(data)


@asynccontextmanager
async def running_client(
    client: discord.Client, token: str = DEFAULT_TOKEN, *, timeout: float = 10.0
) -> AsyncIterator[discord.Client]:
    """Log ``client`` in, connect it (reconnect on), wait for ``on_ready``; on exit close it and end the task.

    A connect failure before ready (e.g. ``PrivilegedIntentsRequired``) is raised here. Build the client
    with a small ``guild_ready_timeout`` (e.g. 0.1), or ready comes 2 s after the last GUILD_CREATE.
    """
    connect: asyncio.Task[None] | None = None
    ready: asyncio.Task[None] | None = None
    failed = False
    try:
        await client.login(token)
        connect = asyncio.create_task(client.connect(reconnect=True), name="discord-connect")
        ready = asyncio.create_task(client.wait_until_ready(), name="discord-wait-ready")
        done, _ = await asyncio.wait({connect, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            if connect in done:
                connect.result()  # raises what ended the connection
                raise RuntimeError("the client stopped before it was ready")
            raise TimeoutError(f"the client was not ready within {timeout}s")
        yield client
    except BaseException:
        failed = True
        raise
    finally:
        if ready is not None and not ready.done():
            ready.cancel()
            with suppress(asyncio.CancelledError):
                await ready
        await client.close()
        if connect is not None:
            if not connect.done():
                with suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(connect), 3.0)
            if not connect.done():
                connect.cancel()
            with suppress(asyncio.CancelledError):
                try:
                    await connect
                except Exception:
                    if not failed:
                        raise
