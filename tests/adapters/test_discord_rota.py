"""The safeguarding rota on Discord: the real discord.py, the fake Discord, and a clock the test turns.

The same climb as on Telegram (officer → deputy → out-of-hours contact, each by direct message with one
Acknowledge button, the card again in the safeguarding channel from the second step); an Acknowledge
pressed in a direct message stops it; anyone else's press, or any other decision there, is refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.discord.app import ClassmodClient, DiscordBot
from bot.app import Services
from bot.config import load_settings
from bot.store import Store
from moderation.policy import load_policy
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.loading import LoadedScorer
from tests.fakes import FakeDiscord, running_client
from tests.fakes.clock import FakeClock

CLASS, GENERAL = 2_000_000_000_000_000_001, 2_000_000_000_000_000_010
STAFF, MODS, OFFICER_ROOM = 2_000_000_000_000_000_002, 2_000_000_000_000_000_020, 2_000_000_000_000_000_021
ANN, OLU, DEE, KIT, SID, MO = (2_000_000_000_000_000_100 + index for index in range(6))
MESSAGES = "/channels/{channel_id}/messages"
IMMEDIATE = "my husband hits me, he is outside now, please help"
TIMEOUT, TICK = 60, 5


@dataclass
class World:
    fake: FakeDiscord
    store: Store
    services: Services
    clock: FakeClock
    users: dict[int, dict[str, Any]]

    def dms(self, user: int) -> list[dict[str, Any]]:
        return [message for message in self.fake.dms_to(user) if message.get("embeds")]

    def counts(self) -> list[int]:
        return [len(self.dms(user)) for user in (OLU, DEE, KIT)]

    def officers_room(self) -> list[dict[str, Any]]:
        return self.fake.sent_messages(OFFICER_ROOM)

    async def turn(self, seconds: float) -> None:
        """Move the clock on and wait until the scheduler's tick has sent all it will."""
        self.clock.advance(seconds)
        count, quiet = len(self.fake.calls_to()), 0
        while quiet < 6:
            await asyncio.sleep(0.05)
            now = len(self.fake.calls_to())
            quiet, count = (quiet + 1 if now == count else 0), now


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeDiscord(redirect=False) as fake:
        names = {ANN: "ann", OLU: "olu", DEE: "dee", KIT: "kit", SID: "sid", MO: "mo"}
        users = {user: fake.make_user(user, name) for user, name in names.items()}
        fake.add_guild(
            CLASS, "ESOL Entry 3", channels=[(GENERAL, "general")], members=[users[ANN], users[SID]]
        )
        fake.add_guild(
            STAFF,
            "SCLS staff",
            channels=[(MODS, "moderators"), (OFFICER_ROOM, "safeguarding")],
            members=[users[OLU], users[DEE], users[KIT], users[SID], users[MO]],
        )
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path / 'discord.db'}",
            discord_token=fake.token,
            discord_moderators_channel=MODS,
            discord_safeguarding_channel=OFFICER_ROOM,
            discord_moderators=[MO],
            discord_api_url=fake.base_url,
            discord_gateway_url=fake.gateway_url,
            safeguarding_rota=[
                {"name": "Olu", "duty": "officer", "discord": OLU},
                {"name": "Dee", "duty": "deputy", "discord": DEE},
                {"name": "Kit", "duty": "out-of-hours contact", "discord": KIT},
            ],
            ack_immediate_seconds=TIMEOUT,
            ack_clock="wall",
            schedule_tick_seconds=TICK,
        )
        store = Store.open(settings.database_url)
        store.authorise_group(
            "discord", str(CLASS), title="ESOL Entry 3", authorised_by="test", at=datetime.now(UTC)
        )
        clock = FakeClock()
        scorer = LoadedScorer(scorer=ProfanityFallbackScorer(), is_fallback=True, reason="tests")
        services = Services(settings=settings, policy=load_policy(), store=store, loaded=scorer, clock=clock)
        yield World(fake, store, services, clock, users)
        store.close()


async def _running(world: World) -> ClassmodClient:
    client = ClassmodClient(guild_ready_timeout=0.1)
    DiscordBot(world.services, client)
    return client


async def _disclose(world: World) -> int:
    await world.fake.wait_for_call("PUT", "/applications/{application_id}/commands")
    world.fake.send_message(GENERAL, world.users[ANN], IMMEDIATE)
    await world.fake.wait_for_call(
        "POST",
        MESSAGES,
        lambda call: call.params.get("channel_id") == OFFICER_ROOM and bool(call.params.get("embeds")),
    )
    title = world.officers_room()[-1]["embeds"][0]["title"]
    assert title.startswith("Safeguarding · IMMEDIATE · case #")
    return int(title.split("#", 1)[1].split(" ", 1)[0])


async def test_an_unacknowledged_case_climbs_by_direct_message_and_an_acknowledgement_stops_it(
    world: World,
) -> None:
    client = await _running(world)
    async with running_client(client, world.fake.token):
        case_id = await _disclose(world)
        await world.turn(TICK)
        assert world.counts() == [1, 0, 0]
        alert = world.dms(OLU)[0]
        assert "you are alerted as Olu (officer)" in alert["embeds"][0]["description"]

        await world.turn(TIMEOUT)
        assert world.counts() == [1, 1, 0]
        repost = world.officers_room()[-1]["embeds"][0]
        assert "now alerting Dee (deputy)" in repost["description"] and f"case #{case_id}" in repost["title"]

        # In a direct message only the rota may acknowledge: Sid, who is not on it, is refused. (A decision
        # that is not on the alert, such as "No concern", is never even dispatched by discord.py.)
        dee_alert = world.dms(DEE)[0]
        pressed = world.fake.press_button(world.users[SID], dee_alert, f"cm:{case_id}:ack")
        answer = await world.fake.wait_for_interaction_response(pressed)
        assert answer["data"]["flags"] & 64  # ephemeral: a refusal only the presser sees
        forged = world.fake.press_button(world.users[DEE], dee_alert, f"cm:{case_id}:noconcern", check=False)
        await asyncio.sleep(0.3)
        assert world.fake.interaction_response(forged) is None
        assert not [item for item in world.store.case_actions(case_id) if item.actor != "bot"]

        pressed = world.fake.press_button(world.users[DEE], dee_alert, f"cm:{case_id}:ack")
        await world.fake.wait_for_interaction_response(pressed)
        await world.fake.wait_until(
            lambda: "acknowledged by Dee (rota alert)" in (world.officers_room()[-1].get("content") or "")
        )
        await world.turn(TIMEOUT * 10)
        assert world.counts() == [1, 1, 0]
    assert ("ack", str(DEE)) in [(item.action, item.actor) for item in world.store.case_actions(case_id)]
    assert [item.step for item in world.store.alerts([case_id])[case_id]] == [1, 2, 2]


async def test_a_moderators_referral_gets_the_officers_buttons_and_climbs_the_rota(world: World) -> None:
    client = await _running(world)
    async with running_client(client, world.fake.token):
        await world.fake.wait_for_call("PUT", "/applications/{application_id}/commands")
        world.fake.send_message(GENERAL, world.users[ANN], "you are a stupid idiot Sid")
        await world.fake.wait_for_call("POST", MESSAGES, lambda call: call.params.get("channel_id") == MODS)
        card = world.fake.sent_messages(MODS)[-1]
        case_id = int(card["embeds"][0]["title"].split("#", 1)[1].split(" ", 1)[0])
        pressed = world.fake.press_button(world.users[MO], card, f"cm:{case_id}:refer", guild_id=STAFF)
        await world.fake.wait_for_interaction_response(pressed)
        await world.fake.wait_for_call(
            "POST", MESSAGES, lambda call: call.params.get("channel_id") == OFFICER_ROOM
        )
        referral = world.officers_room()[-1]
        assert referral["embeds"][0]["title"].startswith(f"Safeguarding · case #{case_id}")
        assert [item["custom_id"] for row in referral["components"] for item in row["components"]] == [
            *(f"cm:{case_id}:{verb}" for verb in ("ack", "actioned", "referon", "noconcern")),
            f"cn:{case_id}",
        ]
        await world.turn(TICK)  # the officer is alerted by direct message, as for a disclosure
        assert world.counts() == [1, 0, 0]
        alert = world.dms(OLU)[0]
        decisions = [item["custom_id"] for row in alert["components"] for item in row["components"]]
        assert [data for data in decisions if data.startswith("cm:")] == [f"cm:{case_id}:ack"]
    case = world.store.get_case(case_id)
    assert case is not None and case.is_open


async def test_an_officer_adds_a_note_by_replying_to_the_card(world: World) -> None:
    client = await _running(world)
    async with running_client(client, world.fake.token):
        case_id = await _disclose(world)
        card = world.officers_room()[-1]
        for user, text in ((OLU, "Rang Ann: she is at her sister's tonight."), (SID, "not on the team")):
            before = len(world.officers_room())
            world.fake.send_message(OFFICER_ROOM, world.users[user], text, reply_to=int(card["id"]))
            await world.fake.wait_until(lambda before=before: len(world.officers_room()) > before)
        answers = [message["content"] for message in world.officers_room()[-2:]]
    assert answers == [
        f"Note added to case #{case_id}'s chronology.",
        "Only moderators and the safeguarding team can add notes to a case.",
    ]
    assert [(note.actor, note.text) for note in world.store.notes(case_id)] == [
        (str(OLU), "Rang Ann: she is at her sister's tonight.")
    ]


async def test_a_restart_mid_climb_resumes_without_sending_again(world: World) -> None:
    async with running_client(await _running(world), world.fake.token):
        case_id = await _disclose(world)
        await world.turn(TICK)
        await world.turn(TIMEOUT)  # the officer, then the deputy
    assert world.counts() == [1, 1, 0]
    async with running_client(await _running(world), world.fake.token):  # a new process, the same store
        await world.turn(TICK)
        assert world.counts() == [1, 1, 0]
        await world.turn(TIMEOUT - TICK)
        assert world.counts() == [1, 1, 1]
    assert [item.step for item in world.store.alerts([case_id])[case_id]] == [1, 2, 2, 3, 3]


async def test_an_officer_adds_a_note_from_the_cards_form(world: World) -> None:
    async with running_client(await _running(world), world.fake.token):
        case_id = await _disclose(world)
        card = world.officers_room()[-1]
        labels = [item["label"] for row in card["components"] for item in row["components"]]
        assert labels[-1] == "Add a note"
        refused = world.fake.press_button(world.users[SID], card, f"cn:{case_id}")
        assert (await world.fake.wait_for_interaction_response(refused))["data"]["flags"] & 64
        pressed = world.fake.press_button(world.users[OLU], card, f"cn:{case_id}")
        form = await world.fake.wait_for_interaction_response(pressed)
        assert form["type"] == 9 and form["data"]["custom_id"] == f"note-{case_id}"  # a modal
        submitted = world.fake.submit_modal(
            world.users[OLU], OFFICER_ROOM, f"note-{case_id}", {"note": "Rang Ann; safe tonight."}
        )
        answer = await world.fake.wait_for_interaction_response(submitted)
    assert answer["data"]["content"] == f"Note added to case #{case_id}'s chronology."
    assert [(note.actor, note.text) for note in world.store.notes(case_id)] == [
        (str(OLU), "Rang Ann; safe tonight.")
    ]


async def test_console_gives_staff_a_sign_in_link_only_they_see(world: World) -> None:
    async with running_client(await _running(world), world.fake.token):
        await world.fake.wait_for_call("PUT", "/applications/{application_id}/commands")
        answers = {}
        for user in (OLU, ANN):
            command = world.fake.slash_command(
                world.users[user], "console", channel_id=world.fake.dm_channel_id(user)
            )
            answers[user] = (await world.fake.wait_for_interaction_response(command))["data"]
    assert answers[OLU]["flags"] & 64 and "/signin/" in answers[OLU]["content"]
    assert answers[ANN]["content"] == "The web console is for listed moderators and safeguarding officers."
