"""Whole scenarios: the real discord.py against the fake Discord, asserting the exact REST calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.app import ClassmodClient, DiscordBot
from bot.app import Services
from bot.config import Settings, load_settings
from bot.languages import catalogue
from bot.store import Store
from moderation.policy import Policy, load_policy
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.loading import LoadedScorer
from moderation.types import Route
from tests.fakes import FakeDiscord, running_client
from tests.fakes.discord_api import (
    DEFAULT_BOT_PERMISSIONS,
    KICK_MEMBERS,
    MANAGE_MESSAGES,
    MODERATE_MEMBERS,
    SEND_MESSAGES,
)
from tests.fakes.threaded import served_in_thread

CLASS = 2_000_000_000_000_000_001
GENERAL = 2_000_000_000_000_000_010
STAFF = 2_000_000_000_000_000_002
MODS = 2_000_000_000_000_000_020
OFFICER_ROOM = 2_000_000_000_000_000_021
OTHER = 2_000_000_000_000_000_003
TUTOR_ROLE = 2_000_000_000_000_000_030
MOD_ROLE = 2_000_000_000_000_000_031
ANN, BEN, TESS, MO, OLU, SID = (2_000_000_000_000_000_100 + index for index in range(6))

MESSAGES = "/channels/{channel_id}/messages"
MESSAGE = "/channels/{channel_id}/messages/{message_id}"
MEMBER = "/guilds/{guild_id}/members/{user_id}"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def scorer() -> LoadedScorer:
    return LoadedScorer(scorer=ProfanityFallbackScorer(), is_fallback=True, reason="tests use the fallback")


@dataclass
class World:
    fake: FakeDiscord
    settings: Settings
    store: Store
    services: Services
    users: dict[int, dict[str, Any]]

    def client(self, cls: type[ClassmodClient] = ClassmodClient) -> ClassmodClient:
        client = cls(guild_ready_timeout=0.1)
        DiscordBot(self.services, client)
        return client

    def rest(self) -> list[tuple[str, str, int | None]]:
        """(method, route, channel) of every REST call after login, but command sync and history reads."""
        return [
            (call.method, call.route, call.params.get("channel_id"))
            for call in self.fake.calls_to()
            if "/commands" not in call.route and (call.method, call.route) != ("GET", MESSAGES)
        ]

    def dm(self, user: int) -> int:
        return self.fake.dm_channel_id(user)


@pytest.fixture
async def world(tmp_path: Path, policy: Policy, scorer: LoadedScorer) -> AsyncIterator[World]:
    # Not redirected: the bot reaches the fake through its settings, as it would a REST proxy. As on
    # Discord, an event sent while the bot is down is never delivered: the bot must read the history.
    async with FakeDiscord(redirect=False, holds_missed_events=False) as fake:
        users = {
            user: fake.make_user(user, name)
            for user, name in [
                (ANN, "ann"),
                (BEN, "ben"),
                (TESS, "tess"),
                (MO, "mo"),
                (OLU, "olu"),
                (SID, "sid"),
            ]
        }
        fake.add_guild(
            CLASS,
            "ESOL Entry 3",
            channels=[(GENERAL, "general")],
            roles=[(TUTOR_ROLE, "Tutors", 0)],
            members=[users[ANN], users[BEN], (users[TESS], [TUTOR_ROLE]), users[SID]],
        )
        fake.add_guild(
            STAFF,
            "SCLS staff",
            channels=[(MODS, "moderators"), (OFFICER_ROOM, "safeguarding")],
            roles=[(MOD_ROLE, "Moderators", MANAGE_MESSAGES)],
            members=[(users[MO], [MOD_ROLE]), users[OLU], (users[TESS], [TUTOR_ROLE])],
        )
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path / 'discord.db'}",
            discord_token=fake.token,
            discord_moderators_channel=MODS,
            discord_safeguarding_channel=OFFICER_ROOM,
            discord_moderator_role="Moderators",
            discord_staff_role="Tutors",
            discord_safeguarding_officers=[OLU],
            notice_lifetime_seconds=0.2,
            discord_api_url=fake.base_url,
            discord_gateway_url=fake.gateway_url,
        )
        store = Store.open(settings.database_url)
        store.authorise_group(
            "discord", str(CLASS), title="ESOL Entry 3", authorised_by="test", at=datetime.now(UTC)
        )
        services = Services(settings=settings, policy=policy, store=store, loaded=scorer)
        yield World(fake, settings, store, services, users)
        store.close()


async def _started(world: World, client: ClassmodClient) -> None:
    await world.fake.wait_for_call("PUT", "/applications/{application_id}/commands")
    world.fake.clear_calls()


async def _card(world: World, channel: int) -> dict[str, Any]:
    await world.fake.wait_for_call(
        "POST",
        MESSAGES,
        lambda call: call.params.get("channel_id") == channel and bool(call.params.get("embeds")),
    )
    return [message for message in world.fake.sent_messages(channel) if message.get("embeds")][-1]


def _case_id(card: dict[str, Any]) -> int:
    return int(card["embeds"][0]["title"].split("#", 1)[1].split(" ", 1)[0])


async def test_a_self_hosted_gateway_is_used_whatever_discord_advertises(world: World) -> None:
    # A REST proxy passes GET /gateway/bot through, so it names Discord's gateway, not the one configured.
    world.fake.advertised_gateway_url = "wss://gateway.discord.gg/"
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        sent = world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        await _card(world, MODS)
    assert world.fake.is_deleted(GENERAL, int(sent["id"]))


async def test_clean_message_makes_no_call_and_a_rude_one_gets_a_dm(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[ANN], "Good morning, see you in Room 12 at 10:30")
        world.fake.send_message(GENERAL, world.users[ANN], "this homework is shit")
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == world.dm(ANN)
        )
    assert [(method, route) for method, route, _ in world.rest()] == [
        ("POST", "/users/@me/channels"),
        ("POST", MESSAGES),
    ]
    assert "4.1" in world.fake.dms_to(ANN)[0]["content"]


async def test_personal_data_is_deleted_reminded_and_carded_masked(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        sent = world.fake.send_message(GENERAL, world.users[BEN], "my number is 07700 900123, text me")
        card = await _card(world, MODS)
    assert world.fake.is_deleted(GENERAL, int(sent["id"]))
    description = card["embeds"][0]["description"]
    assert "07700" not in description and "[phone removed]" in description and "4.7" in description


async def test_threat_is_deleted_warned_and_carded_with_persistent_buttons(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
    assert [route for _, route, _ in world.rest()] == [MESSAGE, "/users/@me/channels", MESSAGES, MESSAGES]
    case_id = _case_id(card)
    custom_ids = [item["custom_id"] for row in card["components"] for item in row["components"]]
    assert custom_ids == [
        f"cm:{case_id}:{verb}"
        for verb in ("uphold", "restore", "warn", "mute1h", "mute24h", "remove", "refer")
    ]
    history = world.store.author_history(
        "discord", str(BEN), now=datetime.now(UTC), strike_lifetime=timedelta(days=30)
    )
    assert len(history.strikes) == 1


async def test_an_edit_that_turns_abusive_is_reassessed(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        sent = world.fake.send_message(GENERAL, world.users[ANN], "thanks Ben, see you tomorrow")
        world.fake.edit_message(GENERAL, int(sent["id"]), world.users[ANN], "thanks Ben, you useless idiot")
        await _card(world, MODS)
    assert world.fake.is_deleted(GENERAL, int(sent["id"]))


async def test_image_without_consent_gets_the_permission_reminder(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[ANN], "our trip", attachments=["trip.png"])
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == world.dm(ANN)
        )
    assert "4.8" in world.fake.dms_to(ANN)[0]["content"]


async def test_safeguarding_goes_only_to_the_officer_with_support_and_no_strike(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[ANN], "my husband hits me and I'm scared to go home")
        card = await _card(world, OFFICER_ROOM)
    assert world.fake.sent_messages(MODS) == []
    assert "not in trouble" in world.fake.dms_to(ANN)[0]["content"]
    assert card["embeds"][0]["title"].startswith("Safeguarding")
    history = world.store.author_history(
        "discord", str(ANN), now=datetime.now(UTC), strike_lifetime=timedelta(days=30)
    )
    assert history.strikes == () and history.breaches == ()


@pytest.mark.parametrize(
    ("verb", "expected"),
    [
        ("uphold", []),
        ("restore", [("POST", MESSAGES, GENERAL)]),
        ("warn", [("POST", MESSAGES, "dm")]),
        ("mute1h", [("PATCH", MEMBER, None)]),
        ("mute24h", [("PATCH", MEMBER, None)]),
        ("remove", [("DELETE", MEMBER, None)]),
        ("refer", [("POST", MESSAGES, OFFICER_ROOM)]),
    ],
)
async def test_each_moderator_button(world: World, verb: str, expected: list[tuple[str, str, Any]]) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = _case_id(card)
        world.fake.clear_calls()
        world.fake.press_button(world.users[MO], card, f"cm:{case_id}:{verb}", guild_id=STAFF)
        await world.fake.wait_for_call("PATCH", MESSAGE, lambda call: call.params.get("channel_id") == MODS)
    dm = world.dm(BEN)
    calls = [
        (method, route, "dm" if channel == dm else channel)
        for method, route, channel in world.rest()
        if not route.startswith("/interactions")
        and not (method == "PATCH" and route == MESSAGE)
        and route != "/users/@me/channels"
    ]
    assert calls == expected
    edited = world.fake.message(MODS, int(card["id"]))
    assert "Outcome:" in edited["embeds"][0]["description"] and not edited.get("components")
    case = world.store.get_case(case_id)
    assert case is not None
    if verb == "refer":  # the officer's now, open, with the officer's buttons on a card of its own
        assert case.is_open and case.route is Route.SAFEGUARDING
        referral = world.fake.sent_messages(OFFICER_ROOM)[-1]
        referred_ids = [item["custom_id"] for row in referral["components"] for item in row["components"]]
        assert referred_ids == [
            *(f"cm:{case_id}:{verb}" for verb in ("ack", "actioned", "referon", "noconcern")),
            f"cn:{case_id}",  # the officer's notes
        ]
    else:
        assert not case.is_open
    if verb == "restore":
        assert "you are a stupid idiot Ann" in world.fake.sent_messages(GENERAL)[-1]["content"]
    if verb.startswith("mute"):
        until = world.fake.timeout_of(CLASS, BEN)
        hours = 1 if verb == "mute1h" else 24
        assert until is not None and abs((until - datetime.now(UTC)) - timedelta(hours=hours)) < timedelta(
            minutes=1
        )
    if verb == "remove":
        assert (CLASS, BEN) in world.fake.kicked or BEN in {user for _, user in world.fake.kicked}


async def test_outsiders_forged_and_double_presses(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = _case_id(card)
        world.fake.clear_calls()
        outsider = world.fake.press_button(world.users[TESS], card, f"cm:{case_id}:remove", guild_id=STAFF)
        refusal = await world.fake.wait_for_interaction_response(outsider)
        # A custom_id that is not on the card (a modified client) is not dispatched at all.
        forged = world.fake.press_button(
            world.users[MO], card, f"cm:{case_id + 50}:remove", guild_id=STAFF, check=False
        )
        await asyncio.sleep(0.3)
        assert world.fake.interaction_response(forged) is None
        assert world.store.get_case(case_id).is_open  # type: ignore[union-attr]
        first = world.fake.press_button(world.users[MO], card, f"cm:{case_id}:remove", guild_id=STAFF)
        second = world.fake.press_button(world.users[MO], card, f"cm:{case_id}:remove", guild_id=STAFF)
        answers = [await world.fake.wait_for_interaction_response(press) for press in (first, second)]
        await world.fake.wait_for_call("PATCH", MESSAGE, lambda call: call.params.get("channel_id") == MODS)
    assert refusal["data"]["flags"] & 64 and "Only" in refusal["data"]["content"]
    assert sum("already" in (answer.get("data") or {}).get("content", "") for answer in answers) == 1
    assert len(world.fake.calls_to("DELETE", MEMBER)) == 1


def _join(world: World, guild_id: int, name: str) -> None:
    payload = world.fake.add_guild(
        guild_id, name, channels=[(guild_id + 1, "general")], members=[world.users[SID]]
    )
    payload.pop("unavailable", None)  # a guild the bot has just joined, not one coming back online
    world.fake.dispatch("GUILD_CREATE", payload, guild_id=guild_id)


async def _server_card(world: World) -> dict[str, Any]:
    await world.fake.wait_for_call(
        "POST",
        MESSAGES,
        lambda call: (
            call.params.get("channel_id") == MODS
            and any(
                embed.get("title", "").startswith("Added to") for embed in call.params.get("embeds") or ()
            )
        ),
    )
    return [m for m in world.fake.sent_messages(MODS) if m.get("embeds")][-1]


async def test_a_new_server_waits_for_staff_to_authorise_it_from_the_moderators_channel(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        _join(world, OTHER, "Unofficial study group")
        card = await _server_card(world)
        notice = world.fake.sent_messages(OTHER + 1)[0]["content"]
        world.fake.send_message(OTHER + 1, world.users[SID], "I know where you live")  # not read meanwhile
        refused = await world.fake.wait_for_interaction_response(
            world.fake.press_button(world.users[SID], card, f"cg:{OTHER}:authorise", guild_id=STAFF)
        )
        world.fake.press_button(world.users[MO], card, f"cg:{OTHER}:authorise", guild_id=STAFF)
        await world.fake.wait_for_call("PATCH", MESSAGE, lambda call: call.params.get("channel_id") == MODS)
    assert "not been authorised" in notice and "60 minutes" in notice and "leave" in notice
    assert "Unofficial study group" in card["embeds"][0]["title"]
    assert [b["label"] for row in card["components"] for b in row["components"]] == ["Authorise", "Leave"]
    assert "Only listed staff" in refused["data"]["content"]
    assert world.store.is_authorised("discord", str(OTHER)) and OTHER not in world.fake.left_guilds
    assert world.store.cases() == []  # the message sent before it was authorised was never read
    edited = world.fake.message(MODS, int(card["id"]))
    assert "Authorised by" in edited["embeds"][0]["description"] and not edited.get("components")


async def test_a_message_from_before_the_authorisation_stays_unread_though_it_arrives_late(
    world: World,
) -> None:
    # Discord may deliver (or the bot take) a message after the Authorise press that followed it.
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        _join(world, OTHER, "Unofficial study group")
        card = await _server_card(world)
        before = world.fake.add_undelivered_message(OTHER + 1, world.users[SID], "I know where you live")
        world.fake.press_button(world.users[MO], card, f"cg:{OTHER}:authorise", guild_id=STAFF)
        await world.fake.wait_for_call("PATCH", MESSAGE, lambda call: call.params.get("channel_id") == MODS)
        world.fake.clear_calls()
        world.fake.dispatch("MESSAGE_CREATE", before)
        after = world.fake.send_message(OTHER + 1, world.users[SID], "I know where you live, Sid")
        await _card(world, MODS)  # the later message's card: the channel's messages are taken in order
    assert [case.message_id for case in world.store.cases()] == [after["id"]]


async def test_staff_can_send_the_bot_away_from_a_new_server(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        _join(world, OTHER, "Unofficial study group")
        card = await _server_card(world)
        world.fake.press_button(world.users[MO], card, f"cg:{OTHER}:leave", guild_id=STAFF)
        await world.fake.wait_for_call("DELETE", "/users/@me/guilds/{guild_id}")
    assert OTHER in world.fake.left_guilds and not world.store.is_authorised("discord", str(OTHER))


async def test_a_server_nobody_authorises_is_left_after_the_time_out(world: World) -> None:
    settings = world.settings.model_copy(update={"authorise_timeout_minutes": 0.01})
    services = Services(
        settings=settings, policy=world.services.policy, store=world.store, loaded=world.services.loaded
    )
    client = ClassmodClient(guild_ready_timeout=0.1)
    DiscordBot(services, client)
    async with running_client(client, world.fake.token):
        await _started(world, client)
        _join(world, OTHER, "Unofficial study group")
        await _server_card(world)
        await world.fake.wait_for_call("DELETE", "/users/@me/guilds/{guild_id}", timeout=10)
    report = [m["content"] for m in world.fake.sent_messages(MODS) if m.get("content")]
    assert any("Left Unofficial study group" in text and "in time" in text for text in report)


async def test_a_failed_delete_is_recorded_and_shown_on_the_card(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.fail_next("DELETE " + MESSAGE, status=404, code=10008, message="Unknown Message")
        world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
    assert "hide FAILED" in card["embeds"][0]["description"]
    failed = [r.action for r in world.store.case_actions(_case_id(card)) if r.outcome == "failed"]
    assert failed == ["hide"]


async def test_a_429_storm_loses_nothing(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.rate_limit(times=3, retry_after=0.1, routes=[MESSAGES, MESSAGE])
        world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        world.fake.send_message(GENERAL, world.users[ANN], "this homework is shit")
        await world.fake.wait_for_call(
            "POST",
            MESSAGES,
            lambda call: call.ok and call.params.get("channel_id") == world.dm(ANN),
            timeout=15,
        )
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.ok and call.params.get("channel_id") == MODS, timeout=15
        )
    ok = [(method, route) for method, route, _ in world.rest() if route != "/users/@me/channels"]
    assert ("DELETE", MESSAGE) in ok and ok.count(("POST", MESSAGES)) >= 3
    assert len([c for c in world.fake.calls_to("POST", MESSAGES) if c.ok]) == 3


async def test_a_restart_keeps_the_buttons_working_and_handles_nothing_twice(world: World) -> None:
    first = world.client()
    async with running_client(first, world.fake.token):
        await _started(world, first)
        world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
    world.fake.send_message(GENERAL, world.users[ANN], "this homework is shit")  # while the bot is down
    second = world.client()
    async with running_client(second, world.fake.token):
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == world.dm(ANN)
        )
        world.fake.press_button(world.users[MO], card, f"cm:{_case_id(card)}:uphold", guild_id=STAFF)
        await world.fake.wait_for_call("PATCH", MESSAGE, lambda call: call.params.get("channel_id") == MODS)
    assert len(world.fake.calls_to("DELETE", MESSAGE)) == 1
    assert world.store.get_case(_case_id(card)).status == "upheld"  # type: ignore[union-attr]


async def test_a_restart_finishes_a_case_the_last_run_left_unfinished(world: World) -> None:
    from moderation.engine import assess
    from moderation.types import Author, AuthorHistory, ChatMessage, ModelScores, Role

    # The last run stored the case (write before act) and was stopped before it acted.
    sent = world.fake.add_undelivered_message(GENERAL, world.users[BEN], "my number is 07700 900123")
    message = ChatMessage(
        platform="discord",
        chat_id=str(GENERAL),
        message_id=sent["id"],
        author=Author(id=str(BEN), display_name="ben", role=Role.LEARNER),
        text="my number is 07700 900123",
        sent_at=datetime.now(UTC),
    )
    now = datetime.now(UTC)
    decision = assess(message, AuthorHistory(), world.services.policy, now, ModelScores(scorer="test"))
    case = world.store.record_case(message, decision, now)

    client = world.client()
    async with running_client(client, world.fake.token):
        card = await _card(world, MODS)  # on_ready finishes it
    assert world.fake.is_deleted(GENERAL, int(sent["id"]))
    assert world.fake.dms_to(BEN), "the reminder"
    assert _case_id(card) == case.id and "07700" not in card["embeds"][0]["description"]
    assert "Where: ESOL Entry 3 #general" in card["embeds"][0]["description"]  # not the channel's id


async def test_what_was_said_while_the_bot_was_down_is_read_back_and_acted_on_in_order(world: World) -> None:
    before = world.fake.send_message(GENERAL, world.users[SID], "this homework is shit")  # before classmod
    await asyncio.sleep(0.01)  # message ids count milliseconds: the bot starts in a later one
    first = world.client()
    async with running_client(first, world.fake.token):
        await _started(world, first)
    # While the bot is down (a deploy, a crash): more than a page of history, three breaches by one learner.
    missed = [world.fake.send_message(GENERAL, world.users[TESS], f"see you at {n}") for n in range(100)]
    missed += [
        world.fake.send_message(GENERAL, world.users[ANN], f"this homework is shit, {n}") for n in range(3)
    ]
    threat = world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
    second = world.client()
    async with running_client(second, world.fake.token):
        await _card(world, MODS)
        await world.fake.wait_until(lambda: len(world.store.cases(limit=10)) == 4)
        await asyncio.sleep(0.3)
    ladder = [
        [action.kind.value for action in case.actions] for case in reversed(world.store.cases(limit=10))
    ]
    assert ladder[:3] == [["remind"], ["warn"], ["hide", "warn", "escalate"]]
    assert world.fake.is_deleted(GENERAL, int(threat["id"])) and world.fake.is_deleted(
        GENERAL, int(missed[-1]["id"])
    )
    assert len(world.fake.calls_to("DELETE", MESSAGE)) == 2, "each hidden once"
    # The server's past before the bot first started is not moderated.
    assert not world.fake.dms_to(SID) and before["id"] not in {
        case.message_id for case in world.store.cases()
    }


async def test_closing_the_client_finishes_the_message_in_hand_before_the_connection_goes(
    world: World,
) -> None:
    client = world.client()
    held = world.fake.hold("DELETE /channels/{channel_id}/messages/{message_id}")
    async with running_client(client, world.fake.token):
        await _started(world, client)
        threat = world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        await asyncio.wait_for(held.reached.wait(), 5)
        closing = asyncio.create_task(client.close())  # mid-way through hiding it
        await asyncio.sleep(0.2)
        held.release()
        await asyncio.wait_for(closing, 10)
    # The close waited for the message in hand: hidden, the learner warned, the card posted.
    assert world.fake.is_deleted(GENERAL, int(threat["id"]))
    assert world.fake.dms_to(BEN)
    assert any(message.get("embeds") for message in world.fake.sent_messages(MODS))


async def test_what_was_said_during_a_gateway_reconnect_is_read_back(world: World) -> None:
    class NoWaitClient(ClassmodClient):
        async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
            return None  # discord.py waits 5 s before identifying again

    client = world.client(NoWaitClient)
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[ANN], "good morning")
        await world.fake.wait_until(lambda: world.fake.connected)
        await world.fake.invalidate_session()  # a new session: Discord sends nothing the old one missed
        sent = world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        await _card(world, MODS)
    assert world.fake.identify_count == 2
    assert world.fake.is_deleted(GENERAL, int(sent["id"]))


async def test_a_channel_added_while_the_bot_runs_is_read_back_from_its_first_message(world: World) -> None:
    first = world.client()
    async with running_client(first, world.fake.token):
        await _started(world, first)
        homework = world.fake.snowflake()  # as on Discord, a channel's id is the time it was made
        world.fake.create_channel(CLASS, homework, "homework")
        await world.fake.wait_until(lambda: world.store.read_mark("discord", str(homework)) is not None)
    sent = world.fake.send_message(homework, world.users[BEN], "I know where you live")  # the bot is down
    second = world.client()
    async with running_client(second, world.fake.token):
        await _card(world, MODS)
    assert world.fake.is_deleted(homework, int(sent["id"]))


async def test_what_was_said_before_a_server_was_authorised_is_not_moderated_after_a_restart(
    world: World,
) -> None:
    first = world.client()
    async with running_client(first, world.fake.token):
        await _started(world, first)
        await asyncio.sleep(0.3)  # the bot has read the history at start-up
        world.store.revoke_group("discord", str(CLASS))  # say, staff revoked it and think again
        before = world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        await asyncio.sleep(0.3)  # the bot passes it by: the server is not authorised
        reply = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(world.users[TESS], "authorise", channel_id=GENERAL, guild_id=CLASS)
        )
    assert "now moderated" in reply["data"]["content"]
    second = world.client()
    async with running_client(second, world.fake.token):
        await _started(world, second)
        after = world.fake.send_message(GENERAL, world.users[ANN], "I know where you live")
        await _card(world, MODS)
        await asyncio.sleep(0.3)
    assert world.fake.is_deleted(GENERAL, int(after["id"]))
    assert not world.fake.is_deleted(GENERAL, int(before["id"]))
    assert len(world.store.cases()) == 1


async def test_rapid_breaches_by_one_learner_climb_the_ladder_in_order(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        for index in range(3):  # discord.py runs each on_message as its own task, all at once
            world.fake.send_message(GENERAL, world.users[ANN], f"this homework is shit, part {index}")
        await world.fake.wait_until(lambda: len(world.store.cases(limit=10)) == 3)
    ladder = [
        [action.kind.value for action in case.actions] for case in reversed(world.store.cases(limit=10))
    ]
    assert ladder == [["remind"], ["warn"], ["hide", "warn", "escalate"]]


async def test_closed_dms_get_a_self_deleting_nudge(world: World) -> None:
    world.fake.close_dms(SID)
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[SID], "this homework is shit")
        nudge = await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == GENERAL
        )
        await world.fake.wait_for_call(
            "DELETE", MESSAGE, lambda call: call.params.get("channel_id") == GENERAL
        )
    text = nudge.params["content"].lower()
    assert "direct messages" in text and not any(word in text for word in ("shit", "4.1", "polite"))


async def test_slash_commands(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
        case_id = _case_id(card)
        mine = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(world.users[BEN], "mycases", channel_id=GENERAL, guild_id=CLASS)
        )
        theirs = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(
                world.users[ANN], "appeal", {"case": str(case_id)}, channel_id=GENERAL, guild_id=CLASS
            )
        )
        appeal = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(
                world.users[BEN],
                "appeal",
                {"case": str(case_id), "reason": "film quote"},
                channel_id=GENERAL,
                guild_id=CLASS,
            )
        )
        await world.fake.wait_for_call(
            "POST",
            MESSAGES,
            lambda call: (
                call.params.get("channel_id") == MODS
                and any(
                    embed.get("title", "").startswith("Appeal") for embed in call.params.get("embeds") or ()
                )
            ),
        )
        refused = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(world.users[SID], "authorise", channel_id=GENERAL, guild_id=CLASS)
        )
    assert mine["data"]["flags"] & 64 and f"#{case_id}" in mine["data"]["content"]
    assert "cannot find" in theirs["data"]["content"]
    assert "sent to the moderators" in appeal["data"]["content"]
    assert refused["data"]["flags"] & 64 and "Only listed staff" in refused["data"]["content"]


async def test_startup_reports_missing_permissions(world: World) -> None:
    world.fake.set_bot_permissions(
        CLASS, DEFAULT_BOT_PERMISSIONS & ~MANAGE_MESSAGES & ~MODERATE_MEMBERS | SEND_MESSAGES
    )
    client = world.client()
    async with running_client(client, world.fake.token):
        report = await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == MODS
        )
    assert "Manage Messages" in report.params["content"] and "Moderate Members" in report.params["content"]


async def test_startup_reports_a_missing_kick_members_which_remove_needs(world: World) -> None:
    world.fake.set_bot_permissions(CLASS, DEFAULT_BOT_PERMISSIONS & ~KICK_MEMBERS)
    client = world.client()
    async with running_client(client, world.fake.token):
        report = await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == MODS
        )
    text = report.params["content"]
    assert "ESOL Entry 3" in text and "Kick Members" in text and "remove" in text.lower()
    assert "Manage Messages" not in text


def test_missing_message_content_intent_or_bad_token_is_a_clear_start_up_error(
    tmp_path: Path, policy: Policy, scorer: LoadedScorer
) -> None:

    from bot.config import ConfigError

    # The portal's switches are off.
    with served_in_thread(FakeDiscord(privileged_intents=0, redirect=False)) as fake:
        fake.add_guild(CLASS, "ESOL Entry 3", channels=[(GENERAL, "general")])
        for token, expected in (
            (fake.token, "MESSAGE CONTENT INTENT"),
            ("not-the-token", "refused the token"),
        ):
            settings = load_settings(
                database_url=f"sqlite:///{tmp_path / 'x.db'}",
                discord_token=token,
                discord_api_url=fake.api_base,
                discord_gateway_url=fake.gateway_url,
            )
            store = Store.open(settings.database_url)
            services = Services(settings=settings, policy=policy, store=store, loaded=scorer)
            with pytest.raises(ConfigError, match=expected):
                DiscordBot(services, ClassmodClient(guild_ready_timeout=0.1)).run()
            store.close()


async def test_a_new_member_is_welcomed_privately(world: World) -> None:
    newcomer = world.fake.make_user(2_000_000_000_000_000_199, "nia")
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.member_join(CLASS, newcomer)
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: "Welcome" in (call.params.get("content") or "")
        )
    welcome = world.fake.dms_to(int(newcomer["id"]))[0]["content"]
    assert "welcome, nia" in welcome.lower() and "Complaints Procedure" in welcome


async def test_an_edit_racing_the_original_is_acted_on_once_per_revision(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        sent = world.fake.send_message(GENERAL, world.users[ANN], "see you tomorrow")
        world.fake.edit_message(
            GENERAL, int(sent["id"]), world.users[ANN], "see you tomorrow, you useless idiot"
        )
        await _card(world, MODS)
        await asyncio.sleep(0.3)
    assert len(world.fake.calls_to("DELETE", MESSAGE)) == 1
    assert len([m for m in world.fake.sent_messages(MODS) if m.get("embeds")]) == 1


async def test_a_disclosure_card_offers_the_officer_no_sanction_and_keeps_open_after_acknowledging(
    world: World,
) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[ANN], "my stepdad hits me and I'm scared to go home")
        card = await _card(world, OFFICER_ROOM)
        case_id = _case_id(card)
        labels = [item["label"] for row in card["components"] for item in row["components"]]
        world.fake.press_button(world.users[OLU], card, f"cm:{case_id}:ack", guild_id=STAFF)
        await world.fake.wait_for_call(
            "PATCH", MESSAGE, lambda call: call.params.get("channel_id") == OFFICER_ROOM
        )
    assert labels == [
        "Acknowledge",
        "Hide the message",
        "Action taken",
        "Referred on",
        "No concern",
        "Add a note",  # the officer's card only: a form for a note (Telegram's officers reply to the card)
    ]
    edited = world.fake.message(OFFICER_ROOM, int(card["id"]))
    assert "Acknowledged by" in edited["embeds"][0]["description"]
    assert [item["custom_id"] for row in edited["components"] for item in row["components"]] == [
        *(f"cm:{case_id}:{verb}" for verb in ("hide", "actioned", "referon", "noconcern")),
        f"cn:{case_id}",
    ]
    assert world.store.get_case(case_id).is_open  # type: ignore[union-attr]
    assert world.fake.dms_to(ANN)[0]["content"].count("warning") == 0


async def test_appeal_help_on_discord_shows_discords_syntax(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[BEN], "I know where you live")
        await _card(world, MODS)
        usage = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(
                world.users[BEN], "appeal", {"case": "the one about Ann"}, channel_id=GENERAL, guild_id=CLASS
            )
        )
        mine = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(world.users[BEN], "mycases", channel_id=GENERAL, guild_id=CLASS)
        )
    assert "/appeal case:12 reason:" in usage["data"]["content"]
    assert "/appeal case:CASE reason:" in mine["data"]["content"]


async def test_a_photo_card_shows_the_photo(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        world.fake.send_message(GENERAL, world.users[ANN], "", attachments=["trip.png"])
        second = world.fake.send_message(GENERAL, world.users[ANN], "", attachments=["class.png"])
        card = await _card(world, MODS)
    embed = card["embeds"][0]
    assert "a photo with no caption" in embed["description"]
    assert embed["image"]["url"] == second["attachments"][0]["url"]


async def test_a_card_posted_again_after_a_kill_appears_once(world: World) -> None:
    from adapters.base import Card
    from moderation.types import Route

    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        card = Card(
            title="Case #7 · harassment",
            lines=("Who: Ben",),
            buttons=(),
            route=Route.MODERATORS,
            key="case-7",
        )
        bot = client.bot
        assert bot is not None
        first = await bot.adapter.post_card(card)  # each: the posted message's id
        again = await bot.adapter.post_card(card)  # as a restart does, not knowing the outcome
        other = await bot.adapter.post_card(replace(card, key="case-8"))
    assert first == again != other
    assert len(world.fake.sent_messages(MODS)) == 2


# --- learners' languages (issue 15) ------------------------------------------------------------------


async def test_a_learner_who_chooses_polish_gets_the_dm_in_polish_with_english_beneath(
    world: World, policy: Policy
) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        chosen = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(world.users[ANN], "language", {"code": "pl"}, channel_id=GENERAL)
        )
        world.fake.send_message(GENERAL, world.users[ANN], "this homework is shit")
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == world.dm(ANN)
        )
    polish, english = policy.reminder_text(["clause:4.1"], "pl"), policy.reminder_text(["clause:4.1"])
    assert chosen["data"]["flags"] & 64 and "Polski" in chosen["data"]["content"]
    assert world.fake.dms_to(ANN)[0]["content"] == f"{polish}\n\n{english}"


async def test_discords_locale_picks_the_language_and_staff_set_the_servers(world: World) -> None:
    client = world.client()
    async with running_client(client, world.fake.token):
        await _started(world, client)
        mine = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(
                world.users[BEN], "mycases", channel_id=GENERAL, guild_id=CLASS, locale="es-ES"
            )
        )
        not_staff = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(
                world.users[SID], "language", {"code": "zh"}, channel_id=GENERAL, guild_id=CLASS
            )
        )
        server = await world.fake.wait_for_interaction_response(
            world.fake.slash_command(
                world.users[TESS], "language", {"code": "zh"}, channel_id=GENERAL, guild_id=CLASS
            )
        )
        world.fake.send_message(GENERAL, world.users[SID], "this homework is shit")
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == world.dm(SID)
        )
    texts = catalogue()
    assert mine["data"]["content"] == f"{texts.text('cases.none', 'es')}\n\n{texts.text('cases.none')}"
    # A learner's /language with a code sets their own language, not the server's.
    assert "简体中文" in not_staff["data"]["content"]
    assert world.store.language_choice("discord", str(SID)).chosen == "zh"
    assert "简体中文" in server["data"]["content"]
    assert world.store.language_choice("discord", str(BEN), str(CLASS)).group_default == "zh"
    chinese = world.services.policy.reminder_text(["clause:4.1"], "zh")
    assert chinese and world.fake.dms_to(SID)[0]["content"].startswith(chinese)


def test_a_long_note_in_two_languages_goes_as_several_messages_not_cut() -> None:
    from adapters.discord.adapter import MESSAGE_LIMIT, message_parts

    translated, english = "\u2067" + "ب" * 1500 + "\u2069", "\u2066" + "e" * 1200 + "\u2069"
    parts = message_parts(f"{translated}\n\n{english}")
    assert parts == [translated, english]  # cut between the languages, each isolate closed
    huge = "word " * 1000
    assert all(len(part) <= MESSAGE_LIMIT for part in message_parts(huge))
    assert "".join(message_parts(huge)) == huge
    assert message_parts("short") == ["short"]
