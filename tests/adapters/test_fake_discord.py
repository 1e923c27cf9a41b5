"""The fake Discord driven by the real discord.py over real sockets (REST and the gateway websocket)."""

from __future__ import annotations

import asyncio
import datetime
import time
import warnings
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

with warnings.catch_warnings():
    # discord.py imports audioop, deprecated since Python 3.11; warnings are errors in this suite.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands

from tests.fakes import FakeDiscord, running_client
from tests.fakes.discord_api import EPHEMERAL, MANAGE_MESSAGES, TINY_PNG

GUILD = 1_200_000_000_000_000_001
GENERAL = 1_200_000_000_000_000_010
MODS = 1_200_000_000_000_000_011
MOD_ROLE = 1_200_000_000_000_000_020
ANN = 1_200_000_000_000_000_101
MARIA = 1_200_000_000_000_000_102

INTENTS = discord.Intents(guilds=True, guild_messages=True, members=True, message_content=True)
MESSAGES = "/channels/{channel_id}/messages"
MESSAGE = "/channels/{channel_id}/messages/{message_id}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        ann = server.make_user(ANN, "ann")
        maria = server.make_user(MARIA, "maria")
        server.add_guild(
            GUILD,
            "Maths L2 (Tue)",
            channels=[(GENERAL, "general"), (MODS, "moderators")],
            roles=[(MOD_ROLE, "Moderator", MANAGE_MESSAGES)],
            members=[ann, (maria, [MOD_ROLE])],
        )
        yield server


def make_client(cls: type[discord.Client] = discord.Client, **kwargs: Any) -> discord.Client:
    return cls(intents=kwargs.pop("intents", INTENTS), guild_ready_timeout=0.1, **kwargs)


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def test_login_identify_ready_caches_the_guild_and_closes_quickly(fake: FakeDiscord) -> None:
    client = make_client()
    ready = asyncio.Event()

    @client.event
    async def on_ready() -> None:
        ready.set()

    async with running_client(client, fake.token):
        await asyncio.wait_for(ready.wait(), 2.0)
        assert client.user is not None and client.user.id == fake.bot_id
        assert client.application_id == fake.application_id
        guild = client.get_guild(GUILD)
        assert guild is not None and guild.name == "Maths L2 (Tue)"
        assert guild.chunked, "member_count matches the members sent, so no chunking"
        channel = guild.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel) and channel.name == "general"
        ann = guild.get_member(ANN)
        assert ann is not None and ann.name == "ann"
        maria = guild.get_member(MARIA)
        assert maria is not None and [role.id for role in maria.roles] == [GUILD, MOD_ROLE]
        me = guild.me
        assert me.guild_permissions.moderate_members and me.guild_permissions.manage_messages
        assert channel.permissions_for(me).send_messages

        assert fake.identify_count == 1 and fake.resume_count == 0
        assert fake.intents == INTENTS.value
        assert fake.gateway_queries[0]["compress"] == "zlib-stream"
        assert [(c.method, c.route) for c in fake.calls] == [
            ("GET", "/users/@me"),
            ("GET", "/oauth2/applications/@me"),
        ]
        assert fake.calls_to() == []

        started = time.monotonic()
        await client.close()
        assert time.monotonic() - started < 2.0
    assert client.is_closed()
    await fake.wait_until(lambda: not fake.connected, 2.0)


async def test_message_create_reaches_on_message_and_the_replies_are_recorded(fake: FakeDiscord) -> None:
    client = make_client()
    seen: list[discord.Message] = []
    own: list[discord.Message] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author == client.user:
            own.append(message)
            return
        seen.append(message)
        await message.channel.send(f"echo: {message.content}")
        await message.delete()

    async with running_client(client, fake.token):
        sent = fake.send_message(
            GENERAL, fake.make_user(ANN, "ann"), "hello class", attachments=["photo.png"]
        )
        delete = await fake.wait_for_call("DELETE", MESSAGE)
        assert delete.ok and delete.params == {"channel_id": GENERAL, "message_id": int(sent["id"])}
        post = fake.find_call("POST", MESSAGES)
        assert post is not None and post.params["channel_id"] == GENERAL
        assert post.params["content"] == "echo: hello class"
        assert fake.is_deleted(GENERAL, int(sent["id"]))
        [reply] = fake.sent_messages(GENERAL)
        assert reply["content"] == "echo: hello class" and not reply["deleted"]

        [message] = seen
        assert message.content == "hello class" and message.author.id == ANN
        assert isinstance(message.author, discord.Member) and message.guild is not None
        [attachment] = message.attachments
        assert attachment.content_type == "image/png" and attachment.filename == "photo.png"
        assert await attachment.read() == TINY_PNG, "attachment URLs point at the fake"
        # Discord echoes the bot's own message back over the gateway.
        await eventually(lambda: len(own) == 1)
        assert own[0].content == "echo: hello class"


async def test_raw_message_edit_fires_for_an_uncached_message(fake: FakeDiscord) -> None:
    client = make_client()
    edits: list[discord.RawMessageUpdateEvent] = []

    @client.event
    async def on_raw_message_edit(payload: discord.RawMessageUpdateEvent) -> None:
        edits.append(payload)

    async with running_client(client, fake.token):
        old_id = fake.snowflake()
        fake.edit_message(GENERAL, old_id, fake.make_user(ANN, "ann"), "now with a phone number")
        await eventually(lambda: len(edits) == 1)
        [edit] = edits
        assert edit.message_id == old_id and edit.cached_message is None
        assert edit.message.content == "now with a phone number"
        assert edit.message.edited_at is not None and edit.guild_id == GUILD


async def test_errors_map_to_discord_py_exceptions(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        with pytest.raises(discord.NotFound) as unknown:
            await channel.get_partial_message(fake.snowflake()).delete()
        assert unknown.value.code == 10008 and unknown.value.status == 404

        fake.close_dms(ANN)
        guild = client.get_guild(GUILD)
        assert guild is not None
        ann = guild.get_member(ANN)
        assert ann is not None
        with pytest.raises(discord.Forbidden) as closed:
            await ann.send("a private reminder")
        assert closed.value.code == 50007 and "Cannot send messages to this user" in str(closed.value)
        assert fake.find_call("POST", "/users/@me/channels", ok=True) is not None
        assert fake.dms_to(ANN) == []

        fake.fail_next(f"POST {MESSAGES}", 403, 50013, "Missing Permissions")
        with pytest.raises(discord.Forbidden) as missing:
            await channel.send("hello")
        assert missing.value.code == 50013
        fake.fail_next("GET", 503, 0, "upstream down")
        with pytest.raises(discord.DiscordServerError):
            await channel.fetch_message(fake.snowflake())


async def test_a_429_storm_is_retried_until_the_message_arrives(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        fake.rate_limit(3, retry_after=0.05, routes=[f"POST {MESSAGES}"])
        message = await channel.send("after the storm")
        assert message.content == "after the storm"
        attempts = fake.calls_to("POST", MESSAGES)
        assert [call.status for call in attempts] == [429, 429, 429, 200]
        assert fake.sent_messages(GENERAL)[-1]["content"] == "after the storm"


class Review(discord.ui.View):
    """A persistent view: no timeout, stable custom ids."""

    def __init__(self, pressed: list[tuple[int, int | None]]) -> None:
        super().__init__(timeout=None)
        self.pressed = pressed

    @discord.ui.button(label="Uphold", style=discord.ButtonStyle.danger, custom_id="classmod:case:uphold")
    async def uphold(self, interaction: discord.Interaction, button: discord.ui.Button[Review]) -> None:
        self.pressed.append((interaction.user.id, interaction.message.id if interaction.message else None))
        await interaction.response.edit_message(content="Upheld by a moderator", view=None)


async def test_a_button_press_reaches_a_persistent_view_after_a_restart(fake: FakeDiscord) -> None:
    first = make_client()
    async with running_client(first, fake.token):
        channel = first.get_channel(MODS)
        assert isinstance(channel, discord.TextChannel)
        await channel.send("Case 1: needs review", view=Review([]))
    [case_message] = fake.sent_messages(MODS)
    assert case_message["components"][0]["components"][0]["custom_id"] == "classmod:case:uphold"

    pressed: list[tuple[int, int | None]] = []
    second = make_client()

    async def setup_hook() -> None:
        second.add_view(Review(pressed))

    second.setup_hook = setup_hook  # type: ignore[method-assign]
    async with running_client(second, fake.token):
        interaction = fake.press_button(fake.make_user(MARIA, "maria"), case_message, "classmod:case:uphold")
        response = await fake.wait_for_interaction_response(interaction)
        assert pressed == [(MARIA, int(case_message["id"]))]
        assert response["type"] == 7
        assert response["data"]["content"] == "Upheld by a moderator" and response["data"]["components"] == []
        callback = fake.find_call("POST", "/interactions/{webhook_id}/{webhook_token}/callback")
        assert callback is not None and callback.params["webhook_id"] == int(interaction["id"])
        assert callback.query == {"with_response": "1"}
        now = fake.message(MODS, int(case_message["id"]))
        assert now["content"] == "Upheld by a moderator" and now["components"] == []
        with pytest.raises(ValueError, match="no button"):
            fake.press_button(fake.make_user(MARIA, "maria"), case_message, "classmod:case:uphold")


async def test_a_slash_command_reaches_the_command_tree_and_answers_ephemerally(fake: FakeDiscord) -> None:
    client = make_client()
    tree = app_commands.CommandTree(client)
    asked: list[str] = []

    @tree.command(name="appeal", description="Appeal a decision")
    async def appeal(interaction: discord.Interaction, reason: str) -> None:
        asked.append(reason)
        await interaction.response.send_message(f"Appeal received: {reason}", ephemeral=True)
        await interaction.edit_original_response(content="Appeal received.")
        await interaction.followup.send("A moderator will reply within a week.", ephemeral=True)

    async with running_client(client, fake.token):
        synced = await tree.sync()
        assert [command.name for command in synced] == ["appeal"]
        put = fake.find_call("PUT", "/applications/{application_id}/commands")
        assert put is not None and put.params["json"][0]["name"] == "appeal"

        interaction = fake.slash_command(
            fake.make_user(ANN, "ann"),
            "appeal",
            {"reason": "it was a joke"},
            channel_id=GENERAL,
            guild_id=GUILD,
        )
        response = await fake.wait_for_interaction_response(interaction)
        assert asked == ["it was a joke"]
        assert response["type"] == 4 and response["data"]["flags"] == EPHEMERAL
        assert response["data"]["content"] == "Appeal received: it was a joke"
        await fake.wait_for_call("POST", "/webhooks/{webhook_id}/{webhook_token}")
        assert (
            fake.find_call("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original") is not None
        )
        original, followup = fake.sent_messages(GENERAL)
        assert original["content"] == "Appeal received." and original["flags"] & EPHEMERAL
        assert (
            followup["content"] == "A moderator will reply within a week." and followup["flags"] & EPHEMERAL
        )


async def test_an_auto_sharded_client_asks_for_the_gateway_and_gets_a_sharded_ready(
    fake: FakeDiscord,
) -> None:
    client = make_client(discord.AutoShardedClient)
    seen: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    async with running_client(client, fake.token):
        assert fake.find_call("GET", "/gateway/bot") is not None
        assert fake.identify_payloads[-1]["shard"] == [0, 1]
        ready = next(event for event in fake.events if event.t == "READY")
        assert ready.d["shard"] == [0, 1]
        assert isinstance(client, discord.AutoShardedClient) and client.shard_count == 1
        guild = client.get_guild(GUILD)
        assert guild is not None and guild.shard_id == 0
        fake.send_message(GENERAL, fake.make_user(ANN, "ann"), "sharded hello")
        await eventually(lambda: seen == ["sharded hello"])


class NoWaitClient(discord.Client):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # the default sleeps 5 s before every re-IDENTIFY


@pytest.mark.parametrize("how", ["close-4000", "drop-connection", "invalid-session"])
async def test_a_gateway_disconnect_is_resumed_or_reidentified_and_events_still_arrive(
    fake: FakeDiscord, how: str
) -> None:
    client = make_client(NoWaitClient)
    seen: list[str] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)

    async with running_client(client, fake.token):
        ann = fake.make_user(ANN, "ann")
        fake.send_message(GENERAL, ann, "before")
        await eventually(lambda: seen == ["before"])
        if how == "close-4000":
            await fake.disconnect_gateway(4000)
        elif how == "drop-connection":
            await fake.disconnect_gateway(None)
        else:
            await fake.invalidate_session()
        fake.send_message(GENERAL, ann, "during")
        await eventually(lambda: seen == ["before", "during"])
        fake.send_message(GENERAL, ann, "after")
        await eventually(lambda: seen == ["before", "during", "after"])
        if how == "invalid-session":
            assert (fake.identify_count, fake.resume_count) == (2, 0)
        else:
            assert (fake.identify_count, fake.resume_count) == (1, 1)
            assert any(event.t == "RESUMED" for event in fake.events)


async def _ids(messages: AsyncIterator[discord.Message]) -> list[int]:
    return [message.id async for message in messages]


async def test_channel_history_pages_before_and_after_a_message_as_discord_does(fake: FakeDiscord) -> None:
    ann = fake.make_user(ANN, "ann")
    sent = [int(fake.add_undelivered_message(GENERAL, ann, f"message {index}")["id"]) for index in range(130)]
    fake.message_deleted(GENERAL, sent[60])
    client = make_client()
    async with running_client(client, fake.token):
        channel = client.get_channel(GENERAL)
        assert isinstance(channel, discord.TextChannel)
        fake.clear_calls()
        missed = channel.history(limit=None, after=discord.Object(sent[9]), oldest_first=True)
        after = await asyncio.wait_for(_ids(missed), 10)  # a fake that ignores ``after`` pages forever
        pages = [call.query for call in fake.calls_to("GET", MESSAGES)]
        newest = [m.id async for m in channel.history(limit=5)]
        before = [m.id async for m in channel.history(limit=3, before=discord.Object(sent[9]))]
        raw = await client.http.logs_from(GENERAL, 3, after=sent[0])
    assert after == [message for message in sent[10:] if message != sent[60]]
    assert [page["limit"] for page in pages] == ["100", "100"] and len(pages) == 2
    assert newest == sent[:-6:-1] and before == [sent[8], sent[7], sent[6]]
    assert [int(message["id"]) for message in raw] == [sent[3], sent[2], sent[1]]  # newest first, as Discord


async def test_as_on_discord_events_nobody_was_connected_for_are_never_sent() -> None:
    async with FakeDiscord(holds_missed_events=False) as server:
        ann = server.make_user(ANN, "ann")
        server.add_guild(GUILD, "Maths L2 (Tue)", channels=[(GENERAL, "general")], members=[ann])
        seen: list[str] = []
        first = make_client()

        @first.event
        async def on_message(message: discord.Message) -> None:
            seen.append(message.content)

        async with running_client(first, server.token):
            server.send_message(GENERAL, ann, "while connected")
            await eventually(lambda: seen == ["while connected"])
        server.send_message(GENERAL, ann, "while nobody was connected")
        second = make_client()
        second.event(on_message)
        async with running_client(second, server.token):
            server.send_message(GENERAL, ann, "after the restart")
            await eventually(lambda: seen[-1:] == ["after the restart"])
    assert seen == ["while connected", "after the restart"]


async def test_privileged_intents_and_message_content() -> None:
    async with FakeDiscord(privileged_intents=0) as server:
        server.add_guild(GUILD, "Maths", channels=[(GENERAL, "general")])
        with pytest.raises(discord.PrivilegedIntentsRequired):
            async with running_client(make_client(), server.token, timeout=5.0):
                pass

        client = make_client(intents=discord.Intents(guilds=True, guild_messages=True))
        seen: list[str] = []

        @client.event
        async def on_message(message: discord.Message) -> None:
            seen.append(message.content)

        async with running_client(client, server.token):
            ann = server.make_user(ANN, "ann")
            server.send_message(GENERAL, ann, "hidden without the intent")
            server.send_message(GENERAL, ann, f"<@{server.bot_id}> mentions keep their content")
            await eventually(lambda: len(seen) == 2)
            assert seen == ["", f"<@{server.bot_id}> mentions keep their content"]
        app = server.find_call("GET", "/oauth2/applications/@me")
        assert app is not None and app.ok


async def test_timeouts_kicks_and_leaving_are_recorded(fake: FakeDiscord) -> None:
    client = make_client()
    async with running_client(client, fake.token):
        guild = client.get_guild(GUILD)
        assert guild is not None
        ann = guild.get_member(ANN)
        assert ann is not None
        await ann.timeout(datetime.timedelta(hours=1), reason="rude")
        call = await fake.wait_for_call("PATCH", "/guilds/{guild_id}/members/{user_id}")
        assert call.params["user_id"] == ANN and call.params["communication_disabled_until"]
        until = fake.timeout_of(GUILD, ANN)
        assert until is not None and until > datetime.datetime.now(datetime.UTC)
        await eventually(lambda: ann.timed_out_until is not None)  # GUILD_MEMBER_UPDATE echoed back
        with pytest.raises(discord.HTTPException) as too_long:
            await ann.timeout(datetime.timedelta(days=29))
        assert too_long.value.code == 50035

        await ann.kick(reason="repeated abuse")
        assert fake.kicked == [(GUILD, ANN)]
        await eventually(lambda: guild.get_member(ANN) is None)

        await guild.leave()
        assert fake.left_guilds == [GUILD]
        await eventually(lambda: client.get_guild(GUILD) is None)
        unknown = fake.calls_to("GET", "/nowhere")
        assert unknown == []


async def test_explicit_redirect_and_unimplemented_routes_are_visible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeDiscord(redirect=False) as server:
        assert discord.http.Route.BASE == "https://discord.com/api/v10"
        server.patch(monkeypatch)
        server.add_guild(GUILD, "Maths", channels=[(GENERAL, "general")])
        client = make_client()
        async with running_client(client, server.token):
            channel = client.get_channel(GENERAL)
            assert isinstance(channel, discord.TextChannel)
            message = await channel.send("pin me")
            with pytest.raises(discord.NotFound, match="fake does not implement PUT"):
                await message.add_reaction("👍")
            [gap] = server.calls_to(ok=False)
            assert gap.status == 404 and gap.route == gap.path and "/reactions/" in gap.path
