"""The safeguarding rota on Telegram: the real bot, the fake Bot API, and a clock the test turns.

An immediate disclosure nobody acknowledges climbs officer → deputy → out-of-hours contact, each sent the
card privately and the safeguarding chat shown it again; an acknowledgement stops the climb; a restart
mid-climb goes on without sending again what was sent; only the rota may acknowledge, and only that, in
a private chat.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.telegram.app import TelegramBot, build_application
from bot.app import Services, open_store
from bot.config import Settings, load_settings
from bot.store import Store
from moderation.policy import Policy, load_policy
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.loading import LoadedScorer
from tests.fakes import FakeBotAPI, running_application
from tests.fakes.clock import FakeClock

GROUP, MODS, OFFICER_CHAT = -1001111111111, -1002222222222, -1003333333333
ANN, MOD = 1001, 3001
OFFICER, DEPUTY, ON_CALL, STRANGER = 4001, 4002, 4003, 5001
IMMEDIATE = "my husband hits me, he is outside now, please help"
CONDUCT = "you are a stupid idiot Ben"
ROTA = [
    {"name": "Olu", "duty": "officer", "telegram": OFFICER},
    {"name": "Dee", "duty": "deputy", "telegram": DEPUTY},
    {"name": "Kit", "duty": "out-of-hours contact", "telegram": ON_CALL},
]
TIMEOUT = 60  # an immediate case waits a minute per step here (15 by default)
TICK = 5
HOUR = 3600  # a high case's wait on the wall clock (the default)


@dataclass
class World:
    fake: FakeBotAPI
    settings: Settings
    store: Store
    services: Services
    clock: FakeClock
    users: dict[int, dict[str, Any]]

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[TelegramBot]:
        """A bot process: started as ``run_polling`` starts it (post_init), stopped as it stops it."""
        bot = TelegramBot(self.services, build_application(self.settings, group_max_rate=10_000))
        async with running_application(bot.application, drop_pending_updates=True):
            await bot.application.post_init(bot.application)  # type: ignore[misc]
            try:
                yield bot
            finally:
                await bot.scheduler.stop()

    def private(self, user: int) -> list[dict[str, Any]]:
        return [call.params for call in self.fake.calls_to("sendMessage") if call.params["chat_id"] == user]

    def in_officers_chat(self) -> list[str]:
        return [
            call.params["text"]
            for call in self.fake.calls_to("sendMessage")
            if call.params["chat_id"] == OFFICER_CHAT
        ]

    async def turn(self, seconds: float) -> None:
        """Move the clock on and wait until the scheduler's tick has sent all it will (calls stop coming)."""
        self.clock.advance(seconds)
        count, quiet = len(self.fake.calls_to()), 0
        while quiet < 6:
            await asyncio.sleep(0.05)
            now = len(self.fake.calls_to())
            quiet, count = (quiet + 1 if now == count else 0), now


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture
async def world(tmp_path: Path, policy: Policy) -> AsyncIterator[World]:
    async with FakeBotAPI() as fake:
        settings = load_settings(
            database_url=f"sqlite:///{tmp_path / 'rota.db'}",
            model_dir=tmp_path / "models",
            telegram_token=fake.token,
            telegram_api_url=fake.base_url,
            telegram_moderators_chat=MODS,
            telegram_safeguarding_chat=OFFICER_CHAT,
            telegram_moderators=[MOD],
            safeguarding_rota=ROTA,
            ack_immediate_seconds=TIMEOUT,
            ack_clock="wall",
            schedule_tick_seconds=TICK,
        )
        store = open_store(settings)
        clock = FakeClock()
        scorer = LoadedScorer(scorer=ProfanityFallbackScorer(), is_fallback=True, reason="tests")
        services = Services(settings=settings, policy=policy, store=store, loaded=scorer, clock=clock)
        for chat, title in ((GROUP, "ESOL Entry 3"), (MODS, "Moderators"), (OFFICER_CHAT, "Safeguarding")):
            fake.add_group(chat, title)
        names = {ANN: "Ann", MOD: "Mo", OFFICER: "Olu", DEPUTY: "Dee", ON_CALL: "Kit", STRANGER: "Sid"}
        users = {user: fake.make_user(user, name) for user, name in names.items()}
        for user in (ANN, OFFICER, DEPUTY, ON_CALL):
            fake.allow_private(user)
        store.authorise_group(
            "telegram", str(GROUP), title="ESOL Entry 3", authorised_by="test", at=clock.now()
        )
        yield World(fake, settings, store, services, clock, users)
        store.close()


async def _disclose(world: World) -> int:
    world.fake.send_text(GROUP, world.users[ANN], IMMEDIATE)
    call = await world.fake.wait_for_call(
        "sendMessage", lambda call: call.params["chat_id"] == OFFICER_CHAT and "reply_markup" in call.params
    )
    assert call.params["text"].startswith("Safeguarding · IMMEDIATE · case #")
    return int(call.params["text"].split("#", 1)[1].split(" ", 1)[0])


def _buttons(params: dict[str, Any]) -> list[str]:
    keyboard = params.get("reply_markup") or {}
    if isinstance(keyboard, str):
        keyboard = json.loads(keyboard)
    return [button["callback_data"] for row in keyboard.get("inline_keyboard", []) for button in row]


async def test_an_unacknowledged_immediate_case_climbs_the_rota_in_order(world: World) -> None:
    async with world.serving():
        case_id = await _disclose(world)
        await world.turn(TICK)  # the first step: the officer, privately, at once
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 0, 0]
        alert = world.private(OFFICER)[0]
        assert "not acknowledged" in alert["text"] and "you are alerted as Olu (officer)" in alert["text"]
        assert _buttons(alert) == [f"cm:{case_id}:ack"]
        assert len(world.in_officers_chat()) == 1  # only the card itself so far

        await world.turn(TIMEOUT - TICK)  # not yet a minute since the officer's alert
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 0, 0]

        await world.turn(TICK)  # a minute: the deputy, and the card again in the safeguarding chat
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 0]
        assert "now alerting Dee (deputy)" in world.private(DEPUTY)[0]["text"]
        repost = world.in_officers_chat()[-1]
        assert "now alerting Dee (deputy)" in repost and f"case #{case_id}" in repost

        await world.turn(TIMEOUT)  # another minute: the out-of-hours contact
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 1]
        assert "now alerting Kit (out-of-hours contact)" in world.private(ON_CALL)[0]["text"]

        await world.turn(TIMEOUT)  # past the end of the rota: everyone on duty again
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [2, 2, 2]
    steps = world.store.alerts([case_id])[case_id]
    assert [(item.step, item.recipient) for item in steps] == [
        (1, "Olu (officer)"),
        (2, "Dee (deputy)"),
        (2, "safeguarding chat"),
        (3, "Kit (out-of-hours contact)"),
        (3, "safeguarding chat"),
        (4, "Olu (officer)"),
        (4, "Dee (deputy)"),
        (4, "Kit (out-of-hours contact)"),
        (4, "safeguarding chat"),
    ]
    assert all(item.outcome == "ok" for item in steps)
    posted = world.store.get_case(case_id).created_at  # type: ignore[union-attr]
    for item in steps:  # the climb as the note shows it (pytest -s)
        offset = (item.at - posted).total_seconds()
        print(f"+{offset:5.0f} s  step {item.step}: {item.recipient} ({item.outcome})")
    gaps = [(later.at - earlier.at).total_seconds() for earlier, later in itertools.pairwise(steps)]
    assert [gap for gap in gaps if gap] == [TIMEOUT, TIMEOUT, TIMEOUT]


async def test_an_acknowledgement_from_a_private_alert_stops_the_climb(world: World) -> None:
    async with world.serving():
        case_id = await _disclose(world)
        await world.turn(TICK)
        await world.turn(TIMEOUT)  # the deputy is alerted
        alert = world.fake.sent_messages(DEPUTY)[-1]
        answers = len(world.fake.calls_to("answerCallbackQuery"))
        world.fake.press_button(world.users[DEPUTY], alert, f"cm:{case_id}:ack")
        await world.fake.wait_until(lambda: len(world.fake.calls_to("answerCallbackQuery")) > answers)
        await world.fake.wait_until(lambda: "acknowledged by Dee" in world.in_officers_chat()[-1])
        await world.turn(TIMEOUT * 10)
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 0]
    actions = [(item.action, item.actor) for item in world.store.case_actions(case_id)]
    assert ("ack", str(DEPUTY)) in actions
    case = world.store.get_case(case_id)
    assert case is not None and case.is_open  # acknowledged, still the officer's to decide


async def _press(world: World, user: int, message: dict[str, Any], data: str) -> dict[str, Any]:
    """Press a button and wait for the bot's answer to it; the answer's parameters."""
    answers, edits = (
        len(world.fake.calls_to("answerCallbackQuery")),
        len(world.fake.calls_to("editMessageText")),
    )
    world.fake.press_button(world.users[user], message, data)
    await world.fake.wait_until(lambda: len(world.fake.calls_to("answerCallbackQuery")) > answers)
    answer = world.fake.calls_to("answerCallbackQuery")[-1].params
    if not answer.get("show_alert"):  # accepted: its steps are done once the card shows the outcome
        await world.fake.wait_until(lambda: len(world.fake.calls_to("editMessageText")) > edits)
    return answer


async def test_a_moderators_referral_climbs_the_rota_until_the_officer_acknowledges_it(world: World) -> None:
    async with world.serving():
        world.fake.send_text(GROUP, world.users[ANN], CONDUCT)
        card = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == MODS and "reply_markup" in call.params
        )
        case_id = int(card.params["text"].split("#", 1)[1].split(" ", 1)[0])
        mods_card = world.fake.sent_messages(MODS)[-1]
        await _press(world, MOD, mods_card, f"cm:{case_id}:refer")

        referral = world.fake.sent_messages(OFFICER_CHAT)[-1]
        assert referral["text"].startswith(f"Safeguarding · case #{case_id}")
        assert "referred by moderators" in referral["text"]
        assert _buttons(referral) == [
            f"cm:{case_id}:{verb}" for verb in ("ack", "actioned", "referon", "noconcern")
        ]
        await world.turn(TICK)  # like a disclosure: the officer is alerted privately at once
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 0, 0]
        await world.turn(HOUR)  # nobody acknowledged (a referral climbs as a high case): the deputy
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 0]

        answer = await _press(world, DEPUTY, world.fake.sent_messages(DEPUTY)[-1], f"cm:{case_id}:ack")
        assert not answer.get("show_alert")
        await world.turn(HOUR * 10)  # acknowledged: the climb stops
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 0]
    case = world.store.get_case(case_id)
    assert case is not None and case.is_open  # the officer's to decide
    assert world.store.awaiting_acknowledgement("telegram") == []


async def test_no_concern_on_a_referral_hands_the_conduct_back_to_the_moderators(world: World) -> None:
    async with world.serving():
        world.fake.send_text(GROUP, world.users[ANN], CONDUCT)
        await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == MODS and "reply_markup" in call.params
        )
        mods_card = world.fake.sent_messages(MODS)[-1]
        case_id = int(mods_card["text"].split("#", 1)[1].split(" ", 1)[0])
        await _press(world, MOD, mods_card, f"cm:{case_id}:refer")
        referral = world.fake.sent_messages(OFFICER_CHAT)[-1]
        refused = await _press(world, MOD, referral, f"cm:{case_id}:warn")  # not the moderators' now
        assert refused.get("show_alert") is True

        await _press(world, OFFICER, referral, f"cm:{case_id}:noconcern")

        back = world.fake.sent_messages(MODS)[-1]
        assert back["message_id"] != mods_card["message_id"] and f"Case #{case_id}" in back["text"]
        assert "no safeguarding concern" in back["text"]
        assert _buttons(back) == [
            f"cm:{case_id}:{verb}" for verb in ("uphold", "restore", "warn", "mute1h", "mute24h", "remove")
        ]
        forged = await _press(world, MOD, back, f"cm:{case_id}:refer")  # not offered again
        assert forged.get("show_alert") is True
        await _press(world, MOD, back, f"cm:{case_id}:warn")
    case = world.store.get_case(case_id)
    assert case is not None and case.status == "warned"
    history = world.store.author_history(
        "telegram", str(ANN), now=world.clock.now(), strike_lifetime=timedelta(days=30)
    )
    assert len(history.breaches) >= 1 and len(history.strikes) >= 1  # no concern lifted nothing


async def test_only_acknowledge_is_taken_in_a_private_chat_and_only_from_the_rota(world: World) -> None:
    async with world.serving():
        case_id = await _disclose(world)
        await world.turn(TICK)
        alert = world.fake.sent_messages(OFFICER)[-1]
        for user, data in ((OFFICER, f"cm:{case_id}:noconcern"), (STRANGER, f"cm:{case_id}:ack")):
            answers = len(world.fake.calls_to("answerCallbackQuery"))
            world.fake.press_button(world.users[user], alert, data)
            await world.fake.wait_until(
                lambda answers=answers: len(world.fake.calls_to("answerCallbackQuery")) > answers
            )
            assert world.fake.calls_to("answerCallbackQuery")[-1].params.get("show_alert") is True
        await world.turn(TIMEOUT)  # nobody acknowledged: the climb goes on
        assert len(world.private(DEPUTY)) == 1
    assert not [item for item in world.store.case_actions(case_id) if item.actor != "bot"]


async def test_a_restart_mid_climb_resumes_without_sending_again(world: World) -> None:
    async with world.serving():
        case_id = await _disclose(world)
        await world.turn(TICK)
        await world.turn(TIMEOUT)  # officer, then deputy
    assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 0]
    async with world.serving():  # a new process on the same store
        await world.turn(TICK)
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 0]
        await world.turn(TIMEOUT - TICK)
        assert [len(world.private(user)) for user in (OFFICER, DEPUTY, ON_CALL)] == [1, 1, 1]
    assert [item.step for item in world.store.alerts([case_id])[case_id]] == [1, 2, 2, 3, 3]


async def test_an_officer_adds_a_note_by_replying_to_the_card(world: World) -> None:
    async with world.serving():
        case_id = await _disclose(world)
        card = world.fake.sent_messages(OFFICER_CHAT)[-1]
        replies = (
            (OFFICER, card, "Rang Ann: she is at her sister's tonight."),
            (MOD, card, "a moderator's note"),  # not on the safeguarding team
            (OFFICER, None, "not a reply to a card"),
        )
        for user, replied, text in replies:
            if replied is None:
                replied = world.fake.send_text(OFFICER_CHAT, world.users[MOD], "anyone seen the rota?")
            before = len(world.in_officers_chat())
            world.fake.send_text(OFFICER_CHAT, world.users[user], text, reply_to=replied)
            await world.fake.wait_until(lambda before=before: len(world.in_officers_chat()) > before)
        answers = world.in_officers_chat()[-3:]
    assert answers == [
        f"Note added to case #{case_id}'s chronology.",
        "Only the safeguarding team can add notes to this case.",  # a moderator, on an officers' case
        "That is not a case card: reply to a case's card to add a note to it.",
    ]
    assert [(note.actor_name, note.text) for note in world.store.notes(case_id)] == [
        ("Olu", "Rang Ann: she is at her sister's tonight.")
    ]


async def test_console_in_a_private_chat_gives_staff_a_sign_in_link_and_nobody_else(world: World) -> None:
    async with world.serving():
        for user in (OFFICER, ANN):
            world.fake.send_text(user, world.users[user], "/console")
            await world.fake.wait_until(lambda user=user: bool(world.private(user)))
    link = world.private(OFFICER)[-1]["text"]
    assert "one use, for 10 minutes" in link and f"{world.settings.console_url}/signin/" in link
    refusal = "The web console is for listed moderators and safeguarding officers."
    assert world.private(ANN)[-1]["text"] == refusal
