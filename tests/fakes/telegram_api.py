"""A fake Telegram Bot API server on 127.0.0.1 for driving the real python-telegram-bot in tests.

``FakeBotAPI`` is an aiohttp server that answers the Bot API methods the bot uses, keeps the state a
test asserts on (chats, members, messages, pending updates) and records every call::

    async with FakeBotAPI() as fake:
        fake.add_group(-100123, "Maths L2")
        app = fake.application_builder().build()
        app.add_handler(...)
        async with running_application(app):
            fake.send_text(-100123, fake.make_user(7, "Ann"), "hello")
            call = await fake.wait_for_call("sendMessage")

Point PTB at it with ``ApplicationBuilder().token(fake.token).base_url(fake.base_url)
.base_file_url(fake.base_file_url)``. PTB posts ``/bot<TOKEN>/<method>`` form-encoded (multipart when
it uploads a file); every non-string value arrives JSON-encoded (ints, bools, reply_markup,
permissions, allowed_updates...), and is decoded here. Errors are answered the way Telegram answers
them, so PTB raises the same exceptions: 400 ``BadRequest``, 403 ``Forbidden``, 401/404
``InvalidToken``, 409 ``Conflict``, 429 with ``parameters.retry_after`` ``RetryAfter``, 5xx
``NetworkError``.

PTB 22 constructs ``RetryAfter`` by reading its deprecated ``retry_after`` attribute, which warns
unless ``PTB_TIMEDELTA=true`` is set; with warnings as errors a 429 would then surface as a
``PTBDeprecationWarning`` instead of ``RetryAfter``. Tests that provoke 429s set the variable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import itertools
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from tests.fakes.http import serve_app
from tests.fakes.recording import CallRecord

if TYPE_CHECKING:
    from telegram.ext import Application, ApplicationBuilder

JSONDict = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-TOKEN"
#: Methods a test rarely wants to see: ``calls_to()`` without arguments leaves them out.
POLLING_METHODS = frozenset({"getUpdates", "getMe", "deleteWebhook"})
#: Update types Telegram leaves out unless ``allowed_updates`` names them.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
#: Parameters PTB sends as plain strings (never JSON-encoded): kept as they arrive.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "title",
        "description",
        "short_description",
        "custom_title",
        "language_code",
        "query",
        "name",
        "action",
        "secret_token",
        "photo",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "emoji",
        "question",
        "tag",
    }
)
_PERMISSION_KEYS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)
_SEND_PERMISSION_KEYS = tuple(key for key in _PERMISSION_KEYS if key.startswith("can_send_"))
_MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
_DELETE_WINDOW_S = 48 * 3600

MSG_TO_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
MSG_CANT_BE_DELETED = "Bad Request: message can't be deleted"
MSG_CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
MSG_BLOCKED = "Forbidden: bot was blocked by the user"
MSG_CHAT_NOT_FOUND = "Bad Request: chat not found"
MSG_NOT_ENOUGH_RIGHTS = "Bad Request: not enough rights to restrict/unrestrict chat member"
MSG_USER_IS_ADMIN = "Bad Request: user is an administrator of the chat"
MSG_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
MSG_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made: the method, its decoded parameters and whether it succeeded."""

    method: str
    params: dict[str, Any]
    ok: bool
    error_code: int | None = None
    description: str | None = None


class ApiError(Exception):
    """Raised inside a method handler to answer with a Telegram error."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: float | None


@dataclass
class _Group:
    chat_id: int
    title: str
    type: str
    members: dict[int, JSONDict] = field(default_factory=dict)

    def chat_json(self) -> JSONDict:
        return {"id": self.chat_id, "type": self.type, "title": self.title}


def _now() -> int:
    return int(time.time())


def _decode_value(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        if isinstance(value, web.FileField):
            return {"filename": value.filename, "content_type": value.content_type}
        return value
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _admin_rights(*, can_delete_messages: bool = True, can_restrict_members: bool = True) -> JSONDict:
    return {
        "can_be_edited": False,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": can_delete_messages,
        "can_manage_video_chats": False,
        "can_restrict_members": can_restrict_members,
        "can_promote_members": False,
        "can_change_info": False,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
        "can_pin_messages": True,
        "can_manage_topics": False,
    }


def member_json(
    user: JSONDict,
    status: str,
    *,
    can_delete_messages: bool = True,
    can_restrict_members: bool = True,
    until_date: int = 0,
    permissions: JSONDict | None = None,
    is_member: bool = True,
) -> JSONDict:
    """A ChatMember JSON for ``status`` carrying every field PTB 22 requires for it."""
    if status == "owner":
        status = "creator"
    if status == "banned":
        status = "kicked"
    member: JSONDict = {"user": copy.deepcopy(user), "status": status}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            _admin_rights(can_delete_messages=can_delete_messages, can_restrict_members=can_restrict_members)
        )
    elif status == "restricted":
        granted = permissions or {}
        member.update({key: bool(granted.get(key, False)) for key in _PERMISSION_KEYS})
        member["is_member"] = is_member
        member["until_date"] = until_date
    elif status == "kicked":
        member["until_date"] = until_date
    elif status not in ("member", "left"):
        raise ValueError(f"unknown chat member status {status!r}")
    return member


class FakeBotAPI(CallRecord[ApiCall]):
    """A local Bot API server with chats, members, messages and an update queue; see the module doc."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "classmod_test_bot",
        bot_first_name: str = "ClassMod",
        can_read_all_group_messages: bool = True,
        can_join_groups: bool = True,
    ) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.can_read_all_group_messages = can_read_all_group_messages
        self.can_join_groups = can_join_groups

        #: How many updates each getUpdates answer with any updates carried, in order.
        self.delivered_batches: list[int] = []
        self._request_hooks: list[Callable[[str, JSONDict], bool]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        #: The last ``answerCallbackQuery`` parameters per callback query id.
        self.callback_answers: dict[str, JSONDict] = {}
        #: ``setMyCommands`` state per (scope as JSON, language code).
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}

        self._users: dict[int, JSONDict] = {}
        self._groups: dict[int, _Group] = {}
        self._private_allowed: set[int] = set()
        self._blocked_by: set[int] = set()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._last_message_id: dict[int, int] = {}
        self._callback_queries: dict[str, JSONDict] = {}
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)

        self._updates: list[JSONDict] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: list[str] = []
        self._poll_generation = 0
        self._polls_waiting = 0
        self._webhook_url = ""

        self._failures: dict[str, deque[_Failure]] = {}
        self._storm_left = 0
        self._storm_retry_after: float = 1
        self._storm_methods: frozenset[str] | None = None

        self._updates_event = asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self.port = 0

        self._handlers: dict[str, Callable[[JSONDict], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "deleteWebhook": self._delete_webhook,
                "setWebhook": self._set_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "getChat": self._get_chat,
                "getChatMember": self._get_chat_member,
                "getChatAdministrators": self._get_chat_administrators,
                "getChatMemberCount": self._get_chat_member_count,
                "leaveChat": self._leave_chat,
                "sendMessage": self._send_message,
                "sendChatAction": self._send_chat_action,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "deleteMessages": self._delete_messages,
                "answerCallbackQuery": self._answer_callback_query,
                "restrictChatMember": self._restrict_chat_member,
                "sendPhoto": self._send_photo,
                "banChatMember": self._ban_chat_member,
                "unbanChatMember": self._unban_chat_member,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
            }.items()
        }

    # ----------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_user(self) -> JSONDict:
        """The bot as a User JSON (what ``getMe`` answers, without the getMe-only fields)."""
        user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }
        return user

    def application_builder(self, *, max_retries: int = 5) -> ApplicationBuilder:
        """An ``ApplicationBuilder`` pointed at this server, with ``AIORateLimiter(max_retries)``."""
        from telegram.ext import AIORateLimiter, ApplicationBuilder

        return (
            ApplicationBuilder()
            .token(self.token)
            .base_url(self.base_url)
            .base_file_url(self.base_file_url)
            .rate_limiter(AIORateLimiter(max_retries=max_retries))
        )

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1 (the same port again after ``stop()``: an outage ends).

        State (chats, messages, pending updates, calls) survives a stop/start, so a test can take
        the "network" away from a running bot and bring it back.
        """
        app = web.Application()
        app.router.add_route("*", "/file/bot{tail:.*}", self._handle_file)
        app.router.add_route("*", "/bot{tail:.*}", self._handle)
        self._runner, self.port = await serve_app(app, self.port, shutdown_timeout=2.0)
        self._loop = asyncio.get_running_loop()
        self._stopping = False

    async def stop(self) -> None:
        """Answer pending long polls at once (with no updates) and shut the server down."""
        self._stopping = True
        self._pulse_updates()
        self._pulse()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def run_threadsafe(self, function: Callable[[], T], timeout: float = 5.0) -> T:
        """Run ``function()`` on the fake's own event loop, from another thread, and return its result.

        For a fake served with ``served_in_thread``: a test thread changes the fake's state safely, and
        everything one call pushes (fifty messages, say) is pending before the bot's waiting getUpdates
        can answer, so it all arrives in one batch.
        """
        if self._loop is None:
            raise RuntimeError("start the fake first")
        done: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                done.set_result(function())
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(timeout)

    def on_request(self, hook: Callable[[str, JSONDict], bool]) -> None:
        """Call ``hook(method, params)`` for every request before it is carried out.

        A hook that returns True drops the request: it is not carried out, not recorded and answered
        only with a bare 500. A test can stop the bot at an exact point this way, e.g. kill its
        process at its third deleteMessage, which then never happened.
        """
        self._request_hooks.append(hook)

    # --------------------------------------------------------------------------------- call record

    def calls_to(self, *methods: str) -> list[ApiCall]:
        """The recorded calls of these methods; with none named, all but getUpdates/getMe/deleteWebhook."""
        if methods:
            return [call for call in self.calls if call.method in methods]
        return [call for call in self.calls if call.method not in POLLING_METHODS]

    def find_call(self, method: str, predicate: Callable[[ApiCall], bool] | None = None) -> ApiCall | None:
        """The first recorded call of ``method`` that satisfies ``predicate``, or None."""
        for call in self.calls:
            if call.method == method and (predicate is None or predicate(call)):
                return call
        return None

    async def wait_for_call(
        self, method: str, predicate: Callable[[ApiCall], bool] | None = None, timeout: float = 5.0
    ) -> ApiCall:
        """The first recorded call (already made, or made within ``timeout``) matching; else TimeoutError."""
        return await self._wait_for(
            lambda: self.find_call(method, predicate), timeout, lambda: f"no {method} call"
        )

    async def expect_no_call(
        self, method: str, predicate: Callable[[ApiCall], bool] | None = None, within: float = 0.3
    ) -> None:
        """Wait ``within`` seconds and fail if a matching call was made (or had been made)."""
        await self._expect_none(
            lambda: self.find_call(method, predicate),
            within,
            lambda call: f"unexpected {method} call: {call.params}",
        )

    def _seen(self) -> list[str]:
        return [f"{call.method}{'' if call.ok else '!'}" for call in self.calls_to()]

    # ------------------------------------------------------------------------------------ failures

    def fail_next(
        self,
        method: str,
        *,
        status: int = 400,
        description: str = "Bad Request: injected failure",
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail (429 with ``retry_after`` is a RetryAfter)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        if status == 429 and description == "Bad Request: injected failure":
            description = f"Too Many Requests: retry after {retry_after}"
        queue = self._failures.setdefault(method.lower(), deque())
        queue.extend(_Failure(status, description, retry_after) for _ in range(times))

    def rate_limit(self, times: int, retry_after: float = 1, methods: Iterable[str] | None = None) -> None:
        """A 429 storm: the next ``times`` calls (of ``methods``; default all but getUpdates/getMe) get 429.

        Telegram sends whole seconds; a fraction (e.g. 0.1) also works with PTB and keeps tests fast.
        ``retry_after=0`` does not: PTB then raises a plain NetworkError, which nothing retries.
        """
        self._storm_left = times
        self._storm_retry_after = retry_after
        self._storm_methods = None if methods is None else frozenset(m.lower() for m in methods)

    def _injected_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method.lower())
        if queue:
            return queue.popleft()
        if self._storm_left > 0:
            eligible = (
                method.lower() not in ("getupdates", "getme")
                if self._storm_methods is None
                else method.lower() in self._storm_methods
            )
            if eligible:
                self._storm_left -= 1
                retry_after = self._storm_retry_after
                return _Failure(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        return None

    # --------------------------------------------------------------------------------- chat state

    def make_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = "en",
        is_bot: bool = False,
    ) -> JSONDict:
        """A User JSON, remembered so that ``getChatMember`` and private chats know them."""
        user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        self._users[user_id] = user
        return copy.deepcopy(user)

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        bot_status: str = "administrator",
        can_delete_messages: bool = True,
        can_restrict_members: bool = True,
        chat_type: str = "supergroup",
    ) -> JSONDict:
        """A group the bot is in (as ``bot_status``, with these admin rights); returns its Chat JSON."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        group = self._groups.get(chat_id)
        if group is None:
            group = self._groups[chat_id] = _Group(chat_id, title, chat_type)
        group.title = title
        group.type = chat_type
        self.set_bot_rights(
            chat_id,
            status=bot_status,
            can_delete_messages=can_delete_messages,
            can_restrict_members=can_restrict_members,
        )
        return group.chat_json()

    def set_bot_rights(
        self,
        chat_id: int,
        *,
        status: str = "administrator",
        can_delete_messages: bool = True,
        can_restrict_members: bool = True,
    ) -> None:
        """Change the bot's membership in a known group (e.g. demote it, or take the delete right)."""
        self._group(chat_id).members[self.bot_id] = member_json(
            self.bot_user,
            status,
            can_delete_messages=can_delete_messages,
            can_restrict_members=can_restrict_members,
        )
        self._pulse()

    def add_member(self, chat_id: int, user: JSONDict, status: str = "member", **rights: Any) -> None:
        """Put ``user`` in a known group as ``status``: member, administrator, owner, restricted, left..."""
        self._users.setdefault(user["id"], copy.deepcopy(user))
        self._group(chat_id).members[user["id"]] = member_json(user, status, **rights)
        self._pulse()

    def member(self, chat_id: int, user_id: int) -> JSONDict:
        """The ChatMember JSON ``getChatMember`` would answer."""
        group = self._group(chat_id)
        found = group.members.get(user_id)
        if found is not None:
            return copy.deepcopy(found)
        user = self._users.get(user_id, {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"})
        return member_json(user, "left")

    def member_status(self, chat_id: int, user_id: int) -> str:
        """``creator``, ``administrator``, ``member``, ``restricted``, ``left`` or ``kicked``."""
        return str(self.member(chat_id, user_id)["status"])

    def bot_status(self, chat_id: int) -> str:
        """The bot's own status in a group (``left`` after ``leaveChat``)."""
        return self.member_status(chat_id, self.bot_id)

    def allow_private(self, user_id: int) -> None:
        """The user has started the bot: it may now message them privately."""
        self._private_allowed.add(user_id)
        self._blocked_by.discard(user_id)

    def block_bot(self, user_id: int) -> None:
        """The user blocked the bot: private messages to them get 403."""
        self._blocked_by.add(user_id)

    def chat_json(self, chat_id: int) -> JSONDict:
        """The Chat JSON for a known group or user."""
        if chat_id in self._groups:
            return self._groups[chat_id].chat_json()
        user = self._users.get(chat_id)
        if user is None:
            raise ApiError(400, MSG_CHAT_NOT_FOUND)
        chat: JSONDict = {"id": chat_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def _group(self, chat_id: int) -> _Group:
        group = self._groups.get(chat_id)
        if group is None:
            raise KeyError(f"unknown group {chat_id}: call add_group first")
        return group

    # ------------------------------------------------------------------------------ message state

    def sent_messages(self, chat_id: int) -> list[JSONDict]:
        """The bot's messages in a chat, oldest first: current JSON (after edits) plus ``deleted``."""
        return [
            self.message(chat_id, message_id)
            for (chat, message_id), message in sorted(self._messages.items())
            if chat == chat_id and message.get("from", {}).get("id") == self.bot_id
        ]

    def message(self, chat_id: int, message_id: int) -> JSONDict:
        """A known message's current JSON plus ``deleted``; KeyError if never seen."""
        found = copy.deepcopy(self._messages[(chat_id, message_id)])
        found["deleted"] = (chat_id, message_id) in self._deleted
        return found

    def is_deleted(self, chat_id: int, message_id: int) -> bool:
        """Whether a known message has been deleted."""
        return (chat_id, message_id) in self._deleted

    def _new_message_id(self, chat_id: int, message_id: int | None = None) -> int:
        last = self._last_message_id.get(chat_id, 0)
        if message_id is None:
            message_id = last + 1
        self._last_message_id[chat_id] = max(last, message_id)
        return message_id

    def _store(self, message: JSONDict) -> JSONDict:
        key = (message["chat"]["id"], message["message_id"])
        self._messages[key] = copy.deepcopy(message)
        self._deleted.discard(key)
        return message

    # ------------------------------------------------------------------------------------ updates

    def push_update(self, update: JSONDict) -> int:
        """Queue an update (its ``update_id`` is assigned here); returns the id."""
        update = copy.deepcopy(update)
        update_id = self._next_update_id
        self._next_update_id += 1
        update["update_id"] = update_id
        self._updates.append(update)
        self._pulse_updates()
        self._pulse()
        return update_id

    @property
    def pending_updates(self) -> int:
        """Updates pushed but not yet confirmed by a later ``getUpdates`` offset."""
        return len(self._updates)

    @property
    def last_update_id(self) -> int:
        """The id of the last update pushed (0 before any)."""
        return self._next_update_id - 1 if self._next_update_id > 100_000_001 else 0

    @property
    def polls_waiting(self) -> int:
        """getUpdates long polls the server is holding open right now."""
        return self._polls_waiting

    def _user_message(
        self,
        chat_id: int,
        user: JSONDict,
        *,
        message_id: int | None = None,
        date: int | None = None,
        **content: Any,
    ) -> JSONDict:
        self._users.setdefault(user["id"], copy.deepcopy(user))
        if chat_id > 0:
            self.allow_private(user["id"])
        elif self._group(chat_id).members.get(user["id"], {}).get("status") in (None, "left"):
            self.add_member(chat_id, user)
        message: JSONDict = {
            "message_id": self._new_message_id(chat_id, message_id),
            "from": copy.deepcopy(user),
            "chat": self.chat_json(chat_id),
            "date": _now() if date is None else date,
        }
        message.update({key: value for key, value in content.items() if value is not None})
        return self._store(message)

    def send_text(
        self,
        chat_id: int,
        user: JSONDict,
        text: str,
        *,
        message_id: int | None = None,
        date: int | None = None,
        reply_to: JSONDict | None = None,
    ) -> JSONDict:
        """A user's text message (a leading /command gets its bot_command entity); pushed, returned."""
        entities = None
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        message = self._user_message(
            chat_id,
            user,
            message_id=message_id,
            date=date,
            text=text,
            entities=entities,
            reply_to_message=copy.deepcopy(reply_to),
        )
        self.push_update({"message": message})
        return copy.deepcopy(message)

    def send_photo(
        self,
        chat_id: int,
        user: JSONDict,
        caption: str | None = None,
        *,
        message_id: int | None = None,
        date: int | None = None,
    ) -> JSONDict:
        """A user's photo (two sizes) with an optional caption; pushed, returned."""
        n = next(self._file_ids)
        photo = [
            {
                "file_id": f"AgAC-photo-{n}-s",
                "file_unique_id": f"photo{n}s",
                "width": 90,
                "height": 68,
                "file_size": 1_630,
            },
            {
                "file_id": f"AgAC-photo-{n}-m",
                "file_unique_id": f"photo{n}m",
                "width": 800,
                "height": 600,
                "file_size": 61_410,
            },
        ]
        message = self._user_message(
            chat_id, user, message_id=message_id, date=date, photo=photo, caption=caption
        )
        self.push_update({"message": message})
        return copy.deepcopy(message)

    def send_document(
        self,
        chat_id: int,
        user: JSONDict,
        caption: str | None = None,
        *,
        file_name: str = "worksheet.pdf",
        mime_type: str = "application/pdf",
        message_id: int | None = None,
        date: int | None = None,
    ) -> JSONDict:
        """A user's document with an optional caption; pushed, returned."""
        n = next(self._file_ids)
        document = {
            "file_id": f"BQAC-doc-{n}",
            "file_unique_id": f"doc{n}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": 48_213,
        }
        message = self._user_message(
            chat_id, user, message_id=message_id, date=date, document=document, caption=caption
        )
        self.push_update({"message": message})
        return copy.deepcopy(message)

    def edit_text(self, chat_id: int, message_id: int, user: JSONDict, new_text: str) -> JSONDict:
        """The user edits their message (its caption, for media): an ``edited_message``; pushed, returned."""
        key = (chat_id, message_id)
        if key in self._messages:
            message = copy.deepcopy(self._messages[key])
        else:
            message = {
                "message_id": self._new_message_id(chat_id, message_id),
                "from": copy.deepcopy(user),
                "chat": self.chat_json(chat_id),
                "date": _now() - 1,
            }
        if "caption" in message or "photo" in message or "document" in message:
            message["caption"] = new_text
        else:
            message["text"] = new_text
            message.pop("entities", None)
        message["edit_date"] = max(_now(), message["date"])
        self._messages[key] = copy.deepcopy(message)
        self.push_update({"edited_message": message})
        return copy.deepcopy(message)

    def press_button(
        self, user: JSONDict, card_message: JSONDict, data: str, *, chat_instance: str = "ci"
    ) -> str:
        """The user presses an inline button on ``card_message`` (a dict as sent); returns the query id."""
        query_id = str(next(self._query_ids))
        message = {key: value for key, value in card_message.items() if key != "deleted"}
        query = {
            "id": query_id,
            "from": copy.deepcopy(user),
            "message": message,
            "chat_instance": chat_instance,
            "data": data,
        }
        self._callback_queries[query_id] = query
        self.push_update({"callback_query": query})
        return query_id

    def bot_added_to_group(
        self,
        chat_id: int,
        title: str,
        by_user: JSONDict,
        *,
        status: str = "member",
        chat_type: str = "supergroup",
        can_delete_messages: bool = True,
        can_restrict_members: bool = True,
    ) -> JSONDict:
        """``by_user`` adds the bot to a group (left → ``status``): a ``my_chat_member``; pushed, returned."""
        group = self._groups.get(chat_id)
        old = self.member(chat_id, self.bot_id) if group else member_json(self.bot_user, "left")
        self.add_group(
            chat_id,
            title,
            bot_status=status,
            can_delete_messages=can_delete_messages,
            can_restrict_members=can_restrict_members,
            chat_type=chat_type,
        )
        if self._groups[chat_id].members.get(by_user["id"], {}).get("status") in (None, "left"):
            self.add_member(chat_id, by_user)
        change = {
            "chat": self.chat_json(chat_id),
            "from": copy.deepcopy(by_user),
            "date": _now(),
            "old_chat_member": old,
            "new_chat_member": self.member(chat_id, self.bot_id),
        }
        self.push_update({"my_chat_member": change})
        return copy.deepcopy(change)

    def member_status_changed(self, chat_id: int, user: JSONDict, status: str = "member") -> JSONDict:
        """A ``chat_member`` update: ``user`` joins (or leaves) with no service message; pushed, returned.

        Telegram sends these only to a bot that is an admin and names ``chat_member`` in
        ``allowed_updates``; a join by invite link in a big group often comes only this way.
        """
        old = self.member(chat_id, user["id"]) if user["id"] in self._groups[chat_id].members else None
        if status == "member":
            self.add_member(chat_id, user)
        change = {
            "chat": self.chat_json(chat_id),
            "from": copy.deepcopy(user),
            "date": _now(),
            "old_chat_member": old or member_json(user, "left"),
            "new_chat_member": member_json(user, status),
        }
        self.push_update({"chat_member": change})
        return copy.deepcopy(change)

    def members_joined(
        self, chat_id: int, users: list[JSONDict], *, by_user: JSONDict | None = None
    ) -> JSONDict:
        """Users join a group (a service message with ``new_chat_members``); pushed, returned."""
        for user in users:
            self.add_member(chat_id, user)
        sender = by_user if by_user is not None else users[0]
        message = self._user_message(chat_id, sender, new_chat_members=copy.deepcopy(users))
        self.push_update({"message": message})
        return copy.deepcopy(message)

    def private_command(self, user: JSONDict, command: str = "/start") -> JSONDict:
        """The user sends a command in their private chat with the bot (which lets the bot write to them)."""
        return self.send_text(user["id"], user, command)

    # ------------------------------------------------------------------------------- HTTP handling

    def _pulse_updates(self) -> None:
        self._updates_event.set()
        self._updates_event = asyncio.Event()

    def _record(self, method: str, params: JSONDict, ok: bool, status: int, description: str | None) -> None:
        self.calls.append(
            ApiCall(
                method=method,
                params=params,
                ok=ok,
                error_code=None if ok else status,
                description=description,
            )
        )
        self._pulse()

    @staticmethod
    def _error_response(status: int, description: str, parameters: JSONDict | None = None) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        elif request.can_read_body:
            raw.update(await request.post())
        return {key: _decode_value(key, value) for key, value in raw.items()}

    async def _handle_file(self, request: web.Request) -> web.Response:
        return self._error_response(404, "Not Found")

    async def _handle(self, request: web.Request) -> web.Response:
        token, _, method = request.match_info["tail"].partition("/")
        params = await self._read_params(request)
        if token != self.token:
            self._record(method, params, False, 401, "Unauthorized")
            return self._error_response(401, "Unauthorized")
        if any([hook(method, params) for hook in self._request_hooks]):
            return web.Response(status=500)
        failure = self._injected_failure(method)
        if failure is not None:
            self._record(method, params, False, failure.status, failure.description)
            parameters = {"retry_after": failure.retry_after} if failure.retry_after is not None else None
            return self._error_response(failure.status, failure.description, parameters)
        handler = self._handlers.get(method.lower())
        if handler is None:
            self._record(method, params, False, 404, "Not Found: method not found")
            return self._error_response(404, "Not Found: method not found")
        try:
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            self._record(method, params, False, exc.status, exc.description)
            return self._error_response(exc.status, exc.description, exc.parameters)
        except (KeyError, TypeError, ValueError) as exc:
            # A missing or malformed parameter: Telegram answers 400, and so PTB raises BadRequest.
            description = f"Bad Request: invalid or missing parameter ({exc!r})"
            self._record(method, params, False, 400, description)
            return self._error_response(400, description)
        self._record(method, params, True, 200, None)
        return web.json_response({"ok": True, "result": result})

    # ---------------------------------------------------------------------------- method handlers

    def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _deliverable(self, limit: int) -> list[JSONDict]:
        allowed = set(self._allowed_updates)
        kept: list[JSONDict] = []
        for update in self._updates:
            kind = next(key for key in update if key != "update_id")
            if (kind in allowed) if allowed else (kind not in _OPT_IN_UPDATE_TYPES):
                kept.append(update)
        # Telegram drops the updates of types the bot did not ask for.
        self._updates = kept
        return copy.deepcopy(kept[:limit])

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._confirm(int(params.get("offset") or 0))
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        # A newer getUpdates terminates an older one still waiting, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._pulse_updates()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._updates_event
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            batch = self._deliverable(limit)
            remaining = deadline - loop.time()
            if batch or self._stopping or remaining <= 0:
                if batch:
                    self.delivered_batches.append(len(batch))
                return batch
            self._polls_waiting += 1
            self._pulse()
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            finally:
                self._polls_waiting -= 1

    def _delete_webhook(self, params: JSONDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _set_webhook(self, params: JSONDict) -> bool:
        self._webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _api_group(self, chat_id: Any) -> _Group:
        group = self._groups.get(chat_id) if isinstance(chat_id, int) else None
        if group is None:
            raise ApiError(400, MSG_CHAT_NOT_FOUND)
        return group

    def _bot_in_group(self, group: _Group) -> JSONDict:
        member = group.members.get(self.bot_id) or member_json(self.bot_user, "left")
        kind = "group" if group.type == "group" else "supergroup"
        if member["status"] == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")
        if member["status"] == "left":
            raise ApiError(403, f"Forbidden: bot is not a member of the {kind} chat")
        return member

    def _bot_may_restrict(self, group: _Group) -> None:
        bot = self._bot_in_group(group)
        may_restrict = bot["status"] == "administrator" and bot["can_restrict_members"]
        if not (bot["status"] == "creator" or may_restrict):
            raise ApiError(400, MSG_NOT_ENOUGH_RIGHTS)

    def _get_chat(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise ApiError(400, MSG_CHAT_NOT_FOUND)
        chat = self.chat_json(chat_id)
        return {
            **chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _get_chat_member(self, params: JSONDict) -> JSONDict:
        group = self._api_group(params.get("chat_id"))
        return self.member(group.chat_id, int(params["user_id"]))

    def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        group = self._api_group(params.get("chat_id"))
        return [
            copy.deepcopy(member)
            for member in group.members.values()
            if member["status"] in ("creator", "administrator")
        ]

    def _get_chat_member_count(self, params: JSONDict) -> int:
        group = self._api_group(params.get("chat_id"))
        return sum(
            1
            for member in group.members.values()
            if member["status"] in _MEMBER_STATUSES
            or (member["status"] == "restricted" and member["is_member"])
        )

    def _leave_chat(self, params: JSONDict) -> bool:
        group = self._api_group(params.get("chat_id"))
        self._bot_in_group(group)
        group.members[self.bot_id] = member_json(self.bot_user, "left")
        return True

    def _send_chat_action(self, params: JSONDict) -> bool:
        self._sendable_chat(params.get("chat_id"))
        return True

    def _sendable_chat(self, chat_id: Any) -> JSONDict:
        if isinstance(chat_id, int) and chat_id > 0:
            if chat_id in self._blocked_by:
                raise ApiError(403, MSG_BLOCKED)
            if chat_id not in self._private_allowed:
                raise ApiError(403, MSG_CANT_INITIATE)
            return self.chat_json(chat_id)
        group = self._api_group(chat_id)
        self._bot_in_group(group)
        return group.chat_json()

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._sendable_chat(params.get("chat_id"))
        text = params.get("text")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        message: JSONDict = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": _now(),
            "text": text,
        }
        if params.get("entities"):
            message["entities"] = params["entities"]
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        if reply_to is not None:
            original = self._messages.get((chat["id"], int(reply_to)))
            if original is not None and (chat["id"], int(reply_to)) not in self._deleted:
                original = copy.deepcopy(original)
                original.pop("reply_to_message", None)
                message["reply_to_message"] = original
            elif not (reply.get("allow_sending_without_reply") or params.get("allow_sending_without_reply")):
                raise ApiError(400, "Bad Request: message to be replied not found")
        return copy.deepcopy(self._store(message))

    def _send_photo(self, params: JSONDict) -> JSONDict:
        """A photo sent by ``file_id`` (the only way classmod sends one): must be a file this API issued."""
        chat = self._sendable_chat(params.get("chat_id"))
        file_id = params.get("photo")
        if not isinstance(file_id, str) or not file_id.startswith("AgAC-"):
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        message: JSONDict = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": _now(),
            "photo": [{"file_id": file_id, "file_unique_id": file_id, "width": 800, "height": 600}],
        }
        if params.get("caption"):
            message["caption"] = params["caption"]
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id", params.get("reply_to_message_id"))
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(self._messages[(chat["id"], int(reply_to))])
        return copy.deepcopy(self._store(message))

    def _own_message(self, params: JSONDict, not_found: str) -> JSONDict:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat_id, message_id = params.get("chat_id"), params.get("message_id")
        key = (chat_id, message_id)
        if key not in self._messages or key in self._deleted:
            raise ApiError(400, not_found)
        message = self._messages[key]
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit_message_text(self, params: JSONDict) -> JSONDict:
        message = self._own_message(params, "Bad Request: message to edit not found")
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = params.get("text")
        if not text:
            raise ApiError(400, "Bad Request: message text is empty")
        # Editing the text without a reply_markup removes the inline keyboard, as on Telegram.
        markup = params.get("reply_markup")
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, MSG_NOT_MODIFIED)
        message["text"] = text
        message.pop("entities", None)
        if params.get("entities"):
            message["entities"] = params["entities"]
        self._set_markup(message, markup)
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict:
        message = self._own_message(params, "Bad Request: message to edit not found")
        markup = params.get("reply_markup")
        if markup == message.get("reply_markup"):
            raise ApiError(400, MSG_NOT_MODIFIED)
        self._set_markup(message, markup)
        message["edit_date"] = _now()
        return copy.deepcopy(message)

    @staticmethod
    def _set_markup(message: JSONDict, markup: Any) -> None:
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _check_deletable(self, chat_id: Any, message_id: Any) -> tuple[int, int]:
        key = (chat_id, message_id)
        if key not in self._messages or key in self._deleted:
            raise ApiError(400, MSG_TO_DELETE_NOT_FOUND)
        message = self._messages[key]
        if chat_id in self._groups:
            bot = self._bot_in_group(self._groups[chat_id])
            own = message.get("from", {}).get("id") == self.bot_id
            may_delete = bot["status"] == "creator" or (
                bot["status"] == "administrator" and bot["can_delete_messages"]
            )
            if not own and not may_delete:
                raise ApiError(400, MSG_CANT_BE_DELETED)
        if _now() - int(message["date"]) > _DELETE_WINDOW_S:
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        return key

    def _delete_message(self, params: JSONDict) -> bool:
        self._deleted.add(self._check_deletable(params.get("chat_id"), params.get("message_id")))
        return True

    def _delete_messages(self, params: JSONDict) -> bool:
        deleted = False
        for message_id in params.get("message_ids") or []:
            try:
                self._deleted.add(self._check_deletable(params.get("chat_id"), message_id))
                deleted = True
            except ApiError:
                continue
        if not deleted:
            raise ApiError(400, MSG_TO_DELETE_NOT_FOUND)
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._callback_queries:
            raise ApiError(400, MSG_QUERY_INVALID)
        self.callback_answers[query_id] = params
        return True

    def _target(self, group: _Group, params: JSONDict) -> tuple[int, JSONDict]:
        user_id = int(params["user_id"])
        if user_id == self.bot_id:
            raise ApiError(400, "Bad Request: can't restrict self")
        member = self.member(group.chat_id, user_id)
        if member["status"] in ("creator", "administrator"):
            raise ApiError(400, MSG_USER_IS_ADMIN)
        return user_id, member

    def _restrict_chat_member(self, params: JSONDict) -> bool:
        group = self._api_group(params.get("chat_id"))
        self._bot_may_restrict(group)
        user_id, member = self._target(group, params)
        permissions = params.get("permissions") or {}
        if all(permissions.get(key) for key in _SEND_PERMISSION_KEYS):
            if member["status"] == "restricted":
                status = "member" if member["is_member"] else "left"
                group.members[user_id] = member_json(member["user"], status)
            return True
        group.members[user_id] = member_json(
            member["user"],
            "restricted",
            permissions=permissions,
            until_date=int(params.get("until_date") or 0),
            is_member=member["status"] in ("member", "restricted") and member.get("is_member", True),
        )
        return True

    def _ban_chat_member(self, params: JSONDict) -> bool:
        group = self._api_group(params.get("chat_id"))
        self._bot_may_restrict(group)
        user_id, member = self._target(group, params)
        group.members[user_id] = member_json(
            member["user"], "kicked", until_date=int(params.get("until_date") or 0)
        )
        return True

    def _unban_chat_member(self, params: JSONDict) -> bool:
        group = self._api_group(params.get("chat_id"))
        self._bot_may_restrict(group)
        user_id, member = self._target(group, params)
        if member["status"] == "kicked" or not params.get("only_if_banned"):
            # Without only_if_banned Telegram also removes a current member: "not a member, may join".
            group.members[user_id] = member_json(member["user"], "left")
        return True

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: JSONDict) -> bool:
        self.commands[self._commands_key(params)] = list(params.get("commands") or [])
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True


@asynccontextmanager
async def running_application(
    app: Application[Any, Any, Any, Any, Any, Any],
    *,
    poll_timeout: int = 1,
    poll_interval: float = 0.0,
    drop_pending_updates: bool | None = None,
    allowed_updates: list[str] | None = None,
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Initialise, start polling and start ``app``; on exit stop the updater, the app, and shut down.

    If ``initialize()`` fails (e.g. ``InvalidToken`` from getMe), ``Application.shutdown()`` would
    return early and leave the HTTP client open (a ResourceWarning later), so the bot is shut here.
    """
    try:
        await app.initialize()
    except BaseException:
        await app.bot.shutdown()
        raise
    try:
        assert app.updater is not None, "build the Application with an Updater"
        await app.updater.start_polling(
            poll_interval=poll_interval,
            timeout=poll_timeout,
            drop_pending_updates=drop_pending_updates,
            allowed_updates=allowed_updates,
        )
        await app.start()
        yield app
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
