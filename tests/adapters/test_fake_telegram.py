"""The fake Bot API server driven by the real python-telegram-bot ``Application`` over real sockets."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    BotCommand,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from tests.fakes import FakeBotAPI, running_application

GROUP = -1001234567890
MODS = -1009876543210


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it PTB 22 warns while *constructing* RetryAfter, and warnings are errors here.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        server.add_group(GROUP, "Maths L2 (Tue)")
        yield server


def build_app(fake: FakeBotAPI) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .rate_limiter(AIORateLimiter(max_retries=5))
        .build()
    )


def echo_app(fake: FakeBotAPI, seen: list[int]) -> Application:  # type: ignore[type-arg]
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        seen.append(update.update_id)
        await update.effective_message.reply_text(f"echo: {update.effective_message.text}")

    app = build_app(fake)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    return app


async def test_startup_polls_and_a_reply_is_recorded(fake: FakeBotAPI) -> None:
    ann = fake.make_user(501, "Ann", "ann_l")
    seen: list[int] = []
    async with running_application(echo_app(fake, seen)):
        await fake.wait_until(lambda: fake.polls_waiting > 0)
        assert [call.method for call in fake.calls] == ["getMe", "deleteWebhook"]
        sent = fake.send_text(GROUP, ann, "hello class")
        call = await fake.wait_for_call("sendMessage")
    assert call.ok
    assert call.params["chat_id"] == GROUP
    assert call.params["text"] == "echo: hello class"
    # PTB quotes in groups: reply_parameters arrives as JSON inside the form and is decoded.
    assert call.params["reply_parameters"]["message_id"] == sent["message_id"]
    assert fake.calls_to() == [call]
    assert fake.calls_to("getUpdates")[0].params["timeout"] == 1
    [reply] = fake.sent_messages(GROUP)
    assert reply["text"] == "echo: hello class"
    assert reply["reply_to_message"]["message_id"] == sent["message_id"]
    assert not reply["deleted"]


async def test_restart_does_not_redeliver_a_handled_update(fake: FakeBotAPI) -> None:
    ann = fake.make_user(501, "Ann")
    seen: list[int] = []
    async with running_application(echo_app(fake, seen)):
        fake.send_text(GROUP, ann, "one")
        first = fake.last_update_id
        await fake.wait_until(lambda: seen == [first])
    assert fake.pending_updates == 0

    fake.clear_calls()
    second = fake.send_text(GROUP, ann, "two")
    async with running_application(echo_app(fake, seen)):
        await fake.wait_until(lambda: len(seen) >= 2)
        await fake.expect_no_call("sendMessage", lambda c: c.params["text"] == "echo: one", within=0.2)
    assert seen[0] == first
    assert len(seen) == 2
    assert [m["text"] for m in fake.sent_messages(GROUP)] == ["echo: one", "echo: two"]
    assert fake.message(GROUP, second["message_id"])["text"] == "two"


async def test_delete_unknown_message_is_bad_request_and_user_messages_are_deletable(
    fake: FakeBotAPI,
) -> None:
    ann = fake.make_user(501, "Ann")
    message = fake.send_text(GROUP, ann, "my number is 07700 900123")
    async with build_app(fake) as app:
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await app.bot.delete_message(GROUP, 999)
        assert await app.bot.delete_message(GROUP, message["message_id"])
        assert fake.is_deleted(GROUP, message["message_id"])
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await app.bot.delete_message(GROUP, message["message_id"])
        fake.set_bot_rights(GROUP, can_delete_messages=False)
        other = fake.send_text(GROUP, ann, "again")
        with pytest.raises(BadRequest, match="Message can't be deleted"):
            await app.bot.delete_message(GROUP, other["message_id"])
    failed = [call for call in fake.calls_to("deleteMessage") if not call.ok]
    assert [call.error_code for call in failed] == [400, 400, 400]
    assert failed[0].description == "Bad Request: message to delete not found"


async def test_private_message_needs_the_user_to_have_started_the_bot(fake: FakeBotAPI) -> None:
    ben = fake.make_user(502, "Ben")
    async with build_app(fake) as app:
        with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
            await app.bot.send_message(ben["id"], "A reminder about the group rules")
        fake.private_command(ben, "/start")
        message = await app.bot.send_message(ben["id"], "A reminder about the group rules")
    assert message.chat.type == "private"
    assert [call.ok for call in fake.calls_to("sendMessage")] == [False, True]


async def test_a_429_storm_is_retried_and_no_message_is_lost(fake: FakeBotAPI) -> None:
    fake.allow_private(503)
    fake.make_user(503, "Cat")
    fake.rate_limit(3, retry_after=0.2, methods={"sendMessage"})
    async with build_app(fake) as app:
        texts = [f"reminder {n}" for n in range(4)]
        await asyncio.gather(*(app.bot.send_message(503, text) for text in texts))
    calls = fake.calls_to("sendMessage")
    assert [call.error_code for call in calls if not call.ok] == [429, 429, 429]
    assert sorted(m["text"] for m in fake.sent_messages(503)) == texts


async def test_a_whole_second_retry_after_is_retried_and_exhausted_retries_raise(fake: FakeBotAPI) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=1)
    async with build_app(fake) as app:
        started = time.monotonic()
        await app.bot.send_message(GROUP, "after one second")
        assert 1.0 <= time.monotonic() - started < 2.5
        fake.rate_limit(10, retry_after=0.01)
        with pytest.raises(RetryAfter):
            await app.bot.send_message(GROUP, "never")
    assert [call.ok for call in fake.calls_to("sendMessage")] == [False, True] + [False] * 6


async def test_callback_query_reaches_the_handler(fake: FakeBotAPI) -> None:
    fake.add_group(MODS, "Moderators")
    mod = fake.make_user(900, "Mo", "mo_tutor")
    fake.add_member(MODS, mod, "administrator")
    pressed: list[str] = []

    async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        pressed.append(query.data)
        await query.answer("Done")
        await query.edit_message_text(f"{query.message.text if query.message else ''}\nUpheld by Mo")  # type: ignore[union-attr]

    app = build_app(fake)
    app.add_handler(CallbackQueryHandler(on_press))
    async with running_application(app):
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Uphold", callback_data="case:7:uphold")]])
        await app.bot.send_message(MODS, "Case 7", reply_markup=keyboard)
        [card] = fake.sent_messages(MODS)
        assert card["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "case:7:uphold"
        query_id = fake.press_button(mod, card, "case:7:uphold")
        await fake.wait_for_call("editMessageText")
    assert pressed == ["case:7:uphold"]
    assert fake.callback_answers[query_id]["text"] == "Done"
    [card] = fake.sent_messages(MODS)
    assert card["text"] == "Case 7\nUpheld by Mo"
    assert "reply_markup" not in card  # editing the text without a keyboard removes it


async def test_chat_members_parse_in_ptb(fake: FakeBotAPI) -> None:
    fake.add_group(MODS, "Moderators", can_delete_messages=False)
    owner, admin, learner = fake.make_user(1, "Olu"), fake.make_user(2, "Ada"), fake.make_user(3, "Lee")
    fake.add_member(GROUP, owner, "owner")
    fake.add_member(GROUP, admin, "administrator")
    fake.add_member(GROUP, learner)
    async with fake.application_builder().build() as app:
        bot = app.bot
        assert bot.bot.can_read_all_group_messages is True
        me = await bot.get_chat_member(MODS, bot.id)
        assert isinstance(me, ChatMemberAdministrator)
        assert me.can_delete_messages is False and me.can_restrict_members is True
        assert isinstance(await bot.get_chat_member(GROUP, 1), ChatMemberOwner)
        assert isinstance(await bot.get_chat_member(GROUP, 3), ChatMemberMember)
        assert isinstance(await bot.get_chat_member(GROUP, 4), ChatMemberLeft)
        assert {m.user.id for m in await bot.get_chat_administrators(GROUP)} == {1, 2, bot.id}
        assert await bot.get_chat_member_count(GROUP) == 4
        chat = await bot.get_chat(GROUP)
        assert isinstance(chat, ChatFullInfo) and chat.title == "Maths L2 (Tue)"

        until = int(time.time()) + 3600
        await bot.restrict_chat_member(GROUP, 3, ChatPermissions.no_permissions(), until_date=until)
        restricted = await bot.get_chat_member(GROUP, 3)
        assert isinstance(restricted, ChatMemberRestricted) and not restricted.can_send_messages
        [restrict] = fake.calls_to("restrictChatMember")
        assert restrict.params["user_id"] == 3 and restrict.params["until_date"] == until
        assert restrict.params["permissions"]["can_send_messages"] is False
        with pytest.raises(BadRequest, match="User is an administrator of the chat"):
            await bot.ban_chat_member(GROUP, 2)
        await bot.ban_chat_member(GROUP, 3)
        assert isinstance(await bot.get_chat_member(GROUP, 3), ChatMemberBanned)
        await bot.unban_chat_member(GROUP, 3)
        assert fake.member_status(GROUP, 3) == "left"

        await bot.send_message(GROUP, "42")  # plain strings arrive as they are, not JSON-decoded
        assert fake.calls_to("sendMessage")[-1].params["text"] == "42"
        await bot.set_my_commands([BotCommand("policy", "The group rules")])
        assert fake.calls_to("setMyCommands")[0].params["commands"] == [
            {"command": "policy", "description": "The group rules"}
        ]
        assert [c.command for c in await bot.get_my_commands()] == ["policy"]
        assert await bot.leave_chat(GROUP)
        assert fake.bot_status(GROUP) == "left"
        with pytest.raises(Forbidden, match="bot is not a member"):
            await bot.send_message(GROUP, "hello?")


async def test_every_update_builder_parses_in_ptb(fake: FakeBotAPI) -> None:
    tutor, ann = fake.make_user(10, "Tia", "tutor_tia"), fake.make_user(11, "Ann")
    updates: list[Update] = []

    async def collect(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        updates.append(update)

    app = build_app(fake)
    app.add_handler(TypeHandler(Update, collect))
    async with running_application(app):
        photo = fake.send_photo(GROUP, ann, "me and my kids")
        fake.send_document(GROUP, ann, "homework")
        fake.edit_text(GROUP, photo["message_id"], ann, "me and my family")
        text = fake.send_text(GROUP, ann, "fine")
        fake.edit_text(GROUP, text["message_id"], ann, "not fine")
        fake.bot_added_to_group(-100555, "Unknown group", tutor)
        fake.members_joined(GROUP, [fake.make_user(12, "Bo")])
        fake.private_command(ann, "/start")
        await fake.wait_until(lambda: len(updates) == 8)
    photo_u, doc_u, photo_edit, text_u, text_edit, added, joined, start = updates
    assert photo_u.message is not None and photo_u.message.photo[-1].width == 800
    assert photo_u.message.caption == "me and my kids"
    assert doc_u.message is not None and doc_u.message.document is not None
    assert doc_u.message.caption == "homework"
    assert photo_edit.edited_message is not None and photo_edit.edited_message.caption == "me and my family"
    assert text_u.message is not None and text_u.message.text == "fine"
    assert text_edit.edited_message is not None and text_edit.edited_message.edit_date is not None
    assert text_edit.edited_message.text == "not fine"
    assert added.my_chat_member is not None
    assert added.my_chat_member.old_chat_member.status == "left"
    assert added.my_chat_member.new_chat_member.status == "member"
    assert added.my_chat_member.chat.type == "supergroup"
    assert added.my_chat_member.from_user.id == tutor["id"]
    assert joined.message is not None and [u.first_name for u in joined.message.new_chat_members] == ["Bo"]
    assert start.message is not None and start.message.chat.type == "private"
    assert start.message.text == "/start" and start.message.entities[0].type == "bot_command"
    assert fake.calls_to() == []


async def test_polling_survives_a_network_blip(fake: FakeBotAPI) -> None:
    seen: list[int] = []
    fake.fail_next("getUpdates", status=502, description="Bad Gateway")
    fake.send_text(GROUP, fake.make_user(5, "Di"), "hi")
    update_id = fake.last_update_id
    async with running_application(echo_app(fake, seen)):
        await fake.wait_until(lambda: update_id in seen)
    polls = fake.calls_to("getUpdates")
    assert polls[0].error_code == 502
    assert polls[1].ok and polls[1].params.get("offset", 0) == 0


async def test_polling_resumes_after_an_outage_without_handling_an_update_twice(fake: FakeBotAPI) -> None:
    ann = fake.make_user(501, "Ann")
    seen: list[int] = []
    async with running_application(echo_app(fake, seen)):
        fake.send_text(GROUP, ann, "before")
        await fake.wait_until(lambda: len(seen) == 1)
        port = fake.port
        await fake.stop()  # connections refused: PTB logs NetworkError and retries with back-off
        fake.send_text(GROUP, ann, "during")
        await asyncio.sleep(0.1)
        await fake.start()
        assert fake.port == port
        await fake.wait_until(lambda: len(seen) == 2)
        await fake.wait_for_call("sendMessage", lambda c: c.params["text"] == "echo: during")
    assert len(set(seen)) == 2
    assert [m["text"] for m in fake.sent_messages(GROUP)] == ["echo: before", "echo: during"]


async def test_wrong_token_is_invalid_token(fake: FakeBotAPI) -> None:
    app = ApplicationBuilder().token("999:WRONG").base_url(fake.base_url).build()
    with pytest.raises(InvalidToken):
        async with running_application(app):
            pass
    assert fake.calls[-1].method == "getMe"
    assert fake.calls[-1].error_code == 401


async def test_shutdown_with_a_pending_long_poll_is_fast() -> None:
    fake = FakeBotAPI()
    await fake.start()
    try:
        async with running_application(build_app(fake), poll_timeout=30):
            await fake.wait_until(lambda: fake.polls_waiting > 0)
            started = time.monotonic()
        assert time.monotonic() - started < 2

        async def raw_poll() -> object:
            async with (
                aiohttp.ClientSession() as session,
                session.post(f"{fake.base_url}{fake.token}/getUpdates", data={"timeout": "30"}) as response,
            ):
                return await response.json()

        poll = asyncio.create_task(raw_poll())
        await fake.wait_until(lambda: fake.polls_waiting > 0)
        started = time.monotonic()
        await fake.stop()
        assert await poll == {"ok": True, "result": []}
        assert time.monotonic() - started < 2
    finally:
        await fake.stop()
