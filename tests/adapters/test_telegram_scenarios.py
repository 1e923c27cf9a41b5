"""Whole scenarios: the real python-telegram-bot against the fake Bot API, asserting the exact calls."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from adapters.telegram.app import TelegramBot, build_application
from bot.app import Services, load_scorer, open_store
from bot.config import Settings, load_settings
from bot.languages import catalogue
from bot.sealing import new_key
from bot.store import Store
from moderation.policy import Policy, load_policy
from moderation.scorers.profanity_fallback import ProfanityFallbackScorer
from moderation.serving.loading import LoadedScorer
from moderation.types import Route
from tests.fakes import ApiCall, FakeBotAPI, running_application
from tests.fakes.threaded import served_in_thread

GROUP = -1001111111111
MODS = -1002222222222
OFFICER_CHAT = -1003333333333
OTHER_GROUP = -1004444444444

ANN, BEN = 1001, 1002
TUTOR, MOD, OFFICER, STRANGER = 2001, 3001, 4001, 5001


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def scorer() -> LoadedScorer:
    return LoadedScorer(scorer=ProfanityFallbackScorer(), is_fallback=True, reason="tests use the fallback")


@dataclass
class World:
    fake: FakeBotAPI
    settings: Settings
    store: Store
    services: Services
    users: dict[int, dict[str, Any]]

    def bot(self) -> TelegramBot:
        application = build_application(self.settings, group_max_rate=10_000)
        return TelegramBot(self.services, application)

    def calls(self) -> list[ApiCall]:
        return self.fake.calls_to()

    def summary(self) -> list[tuple[str, int | None]]:
        return [(call.method, call.params.get("chat_id")) for call in self.calls()]


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, tmp_path: Path, policy: Policy, scorer: LoadedScorer
) -> AsyncIterator[World]:
    # Parametrised indirectly with "sealed", the store encrypts case texts with a data key.
    is_sealed = getattr(request, "param", "clear") == "sealed"
    async with FakeBotAPI() as fake:
        settings = load_settings(
            data_keys=new_key() if is_sealed else None,
            database_url=f"sqlite:///{tmp_path / 'telegram.db'}",
            model_dir=tmp_path / "models",
            telegram_token=fake.token,
            telegram_api_url=fake.base_url,
            telegram_moderators_chat=MODS,
            telegram_safeguarding_chat=OFFICER_CHAT,
            telegram_moderators=[MOD],
            telegram_safeguarding_officers=[OFFICER],
            telegram_staff=[TUTOR],
            notice_lifetime_seconds=0.2,
        )
        store = open_store(settings)
        services = Services(settings=settings, policy=policy, store=store, loaded=scorer)
        fake.add_group(GROUP, "ESOL Entry 3 (Mon)")
        fake.add_group(MODS, "Moderators")
        fake.add_group(OFFICER_CHAT, "Safeguarding")
        users = {
            user_id: fake.make_user(user_id, name)
            for user_id, name in [
                (ANN, "Ann"),
                (BEN, "Ben"),
                (TUTOR, "Tess"),
                (MOD, "Mo"),
                (OFFICER, "Olu"),
                (STRANGER, "Sid"),
            ]
        }
        for user_id in (ANN, BEN, TUTOR):
            fake.allow_private(user_id)
        store.authorise_group(
            "telegram", str(GROUP), title="ESOL Entry 3 (Mon)", authorised_by="test", at=_now()
        )
        yield World(fake, settings, store, services, users)
        store.close()


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


async def _card(world: World, chat: int) -> dict[str, Any]:
    await world.fake.wait_for_call(
        "sendMessage", lambda call: call.params["chat_id"] == chat and "reply_markup" in call.params
    )
    return [message for message in world.fake.sent_messages(chat) if message.get("reply_markup")][-1]


async def test_clean_message_makes_no_call_and_a_rude_one_gets_a_private_reminder(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], "Good morning, see you in Room 12 at 10:30")
        world.fake.send_text(GROUP, world.users[ANN], "this homework is shit")
        reminder = await world.fake.wait_for_call("sendMessage")
    assert world.summary() == [("sendMessage", ANN)]
    assert "4.1" in reminder.params["text"]


async def test_personal_data_is_deleted_reminded_and_carded_masked(world: World) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[BEN], "my number is 07700 900123, text me")
        card = await _card(world, MODS)
    assert world.summary() == [("deleteMessage", GROUP), ("sendMessage", BEN), ("sendMessage", MODS)]
    assert world.fake.is_deleted(GROUP, sent["message_id"])
    assert "07700" not in card["text"] and "[phone removed]" in card["text"]
    assert "4.7" in card["text"]


async def test_threat_is_deleted_warned_and_carded_with_buttons(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
    assert world.summary() == [("deleteMessage", GROUP), ("sendMessage", BEN), ("sendMessage", MODS)]
    labels = [button["text"] for row in card["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == [
        "Uphold",
        "Restore",
        "Warn",
        "Mute 1 h",
        "Mute 24 h",
        "Remove from group",
        "Refer to safeguarding officer",
    ]
    assert "I know where you live" in card["text"] and "4.2" in card["text"]
    assert (
        len(
            world.store.author_history(
                "telegram", str(BEN), now=_now(), strike_lifetime=timedelta(days=30)
            ).strikes
        )
        == 1
    )


async def test_an_edit_that_turns_abusive_is_reassessed(world: World) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[ANN], "thanks Ben, see you tomorrow")
        world.fake.edit_text(GROUP, sent["message_id"], world.users[ANN], "thanks Ben, you useless idiot")
        await _card(world, MODS)
    assert world.summary() == [("deleteMessage", GROUP), ("sendMessage", ANN), ("sendMessage", MODS)]
    assert world.fake.is_deleted(GROUP, sent["message_id"])


async def test_photo_without_consent_gets_the_permission_reminder(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_photo(GROUP, world.users[ANN], caption="our trip to the library")
        reminder = await world.fake.wait_for_call("sendMessage")
    assert world.summary() == [("sendMessage", ANN)]
    assert "4.8" in reminder.params["text"]


async def test_tutor_consent_lets_a_learner_post_photos(world: World) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[ANN], "I have signed the photo form")
        world.fake.send_text(GROUP, world.users[TUTOR], "/consent", reply_to=sent)
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == GROUP)
        world.fake.send_photo(GROUP, world.users[ANN], caption="class photo")
        world.fake.send_text(GROUP, world.users[ANN], "this homework is shit")
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
    assert [call.params["chat_id"] for call in world.fake.calls_to("sendMessage")] == [GROUP, ANN]
    assert world.store.has_consent("telegram", str(ANN))


async def test_safeguarding_goes_only_to_the_officer_with_support_and_no_strike(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(
            GROUP, world.users[ANN], "I can't come Thursday, my husband hits me and I'm scared to go home"
        )
        card = await _card(world, OFFICER_CHAT)
    assert world.summary() == [("sendMessage", ANN), ("sendMessage", OFFICER_CHAT)]
    support = world.fake.calls_to("sendMessage")[0].params["text"]
    assert "not in trouble" in support and "999" in support
    assert card["text"].startswith("Safeguarding · HIGH · case #")
    case = world.store.get_case(_case_of(card))
    assert case is not None and case.urgency is not None and case.urgency.value == "high"
    history = world.store.author_history("telegram", str(ANN), now=_now(), strike_lifetime=timedelta(days=30))
    assert history.strikes == () and history.breaches == ()


@pytest.mark.parametrize(
    ("verb", "expected"),
    [
        ("uphold", []),
        ("restore", [("sendMessage", GROUP)]),
        ("warn", [("sendMessage", BEN)]),
        ("mute1h", [("restrictChatMember", GROUP)]),
        ("mute24h", [("restrictChatMember", GROUP)]),
        ("remove", [("banChatMember", GROUP), ("unbanChatMember", GROUP)]),
        ("refer", [("sendMessage", OFFICER_CHAT)]),
    ],
)
async def test_each_moderator_button(world: World, verb: str, expected: list[tuple[str, int]]) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = int(card["text"].split("#", 1)[1].split(" ", 1)[0])
        world.fake.clear_calls()
        world.fake.press_button(world.users[MOD], card, f"cm:{case_id}:{verb}")
        await world.fake.wait_for_call("editMessageText")
    calls = [
        (c.method, c.params.get("chat_id"))
        for c in world.fake.calls_to()
        if c.method not in {"answerCallbackQuery", "editMessageText"}
    ]
    assert calls == expected
    edited = world.fake.message(MODS, card["message_id"])
    assert "Outcome:" in edited["text"] and "Mo" in edited["text"] and not edited.get("reply_markup")
    case = world.store.get_case(case_id)
    assert case is not None
    if verb == "refer":  # the officer's now, open, with the officer's buttons on a card of its own
        assert case.is_open and case.route is Route.SAFEGUARDING
        referral = world.fake.calls_to("sendMessage")[-1].params
        assert _labels(referral) == ["Acknowledge", "Action taken", "Referred on", "No concern"]
    else:
        assert not case.is_open
    if verb == "restore":
        assert "you are a stupid idiot Ann" in world.fake.calls_to("sendMessage")[0].params["text"]
    if verb.startswith("mute"):
        params = world.fake.calls_to("restrictChatMember")[0].params
        hours = 1 if verb == "mute1h" else 24
        assert params["user_id"] == BEN
        assert abs(params["until_date"] - (_now() + timedelta(hours=hours)).timestamp()) < 60
    if verb == "remove":
        assert world.fake.calls_to("unbanChatMember")[0].params.get("only_if_banned") is True


async def test_forged_and_outsider_presses_do_nothing(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = int(card["text"].split("#", 1)[1].split(" ", 1)[0])
        world.fake.clear_calls()
        presses = [
            (world.users[STRANGER], f"cm:{case_id}:remove"),  # not a moderator
            (world.users[MOD], f"cm:{case_id + 99}:remove"),  # no such case
            (world.users[MOD], f"cm:{case_id}:explode"),  # unknown verb
            (world.users[MOD], "garbage"),
        ]
        for user, data in presses:
            world.fake.press_button(user, card, data)
        await world.fake.wait_until(lambda: len(world.fake.calls_to("answerCallbackQuery")) == len(presses))
    assert {call.method for call in world.fake.calls_to()} == {"answerCallbackQuery"}
    assert all(call.params.get("show_alert") for call in world.fake.calls_to("answerCallbackQuery"))
    case = world.store.get_case(case_id)
    assert case is not None and case.is_open


async def test_a_double_press_acts_once(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = int(card["text"].split("#", 1)[1].split(" ", 1)[0])
        world.fake.clear_calls()
        world.fake.press_button(world.users[MOD], card, f"cm:{case_id}:remove")
        world.fake.press_button(world.users[MOD], card, f"cm:{case_id}:remove")
        await world.fake.wait_until(lambda: len(world.fake.calls_to("answerCallbackQuery")) == 2)
    assert len(world.fake.calls_to("banChatMember")) == 1


async def test_moderators_cannot_act_on_the_officers_cases(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], "my husband hits me and I'm scared to go home")
        card = await _card(world, OFFICER_CHAT)
        case_id = int(card["text"].split("#", 1)[1].split(" ", 1)[0])
        world.fake.clear_calls()
        world.fake.press_button(world.users[MOD], card, f"cm:{case_id}:uphold")
        answer = await world.fake.wait_for_call("answerCallbackQuery")
    assert answer.params.get("show_alert") is True
    assert world.store.get_case(case_id).is_open  # type: ignore[union-attr]


async def test_unauthorised_group_gets_a_notice_a_report_and_the_bot_leaves(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.bot_added_to_group(OTHER_GROUP, "Unofficial chat", world.users[STRANGER])
        await world.fake.wait_for_call("leaveChat")
    assert world.summary() == [
        ("sendMessage", OTHER_GROUP),
        ("sendMessage", MODS),
        ("leaveChat", OTHER_GROUP),
    ]
    report = world.fake.calls_to("sendMessage")[1].params["text"]
    assert "Unofficial chat" in report and "Sid" in report


async def test_failed_delete_is_recorded_and_shown_on_the_card(world: World) -> None:
    world.fake.fail_next("deleteMessage", status=400, description="Bad Request: message to delete not found")
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
    assert "hide FAILED" in card["text"] and "message to delete not found" in card["text"].lower()
    case_id = int(card["text"].split("#", 1)[1].split(" ", 1)[0])
    failed = [record for record in world.store.case_actions(case_id) if record.outcome == "failed"]
    assert [record.action for record in failed] == ["hide"]


async def test_a_429_storm_loses_nothing(world: World) -> None:
    world.fake.rate_limit(times=4, retry_after=0.2, methods={"sendMessage", "deleteMessage"})
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        world.fake.send_text(GROUP, world.users[ANN], "this homework is shit")
        await world.fake.wait_until(
            lambda: len([c for c in world.fake.calls_to("sendMessage") if c.ok]) == 3, timeout=15
        )
    ok = [(call.method, call.params["chat_id"]) for call in world.fake.calls_to() if call.ok]
    # Each once; Ben's message hidden first, his warning before its card. Ann's reminder need not wait
    # for the card of the message before hers.
    assert sorted(ok) == sorted(
        [("deleteMessage", GROUP), ("sendMessage", BEN), ("sendMessage", MODS), ("sendMessage", ANN)]
    )
    assert ok[0] == ("deleteMessage", GROUP)
    assert ok.index(("sendMessage", BEN)) < ok.index(("sendMessage", MODS))


async def test_a_restart_mid_scenario_handles_nothing_twice_and_loses_nothing(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        await _card(world, MODS)
    world.fake.send_text(GROUP, world.users[ANN], "this homework is shit")  # arrives while the bot is down
    before_restart = world.fake.calls_to("deleteMessage")
    async with running_application(world.bot().application):
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
        # Ben's message was deleted before the restart; the second run must not delete it (or anything) again.
        await world.fake.expect_no_call(
            "deleteMessage", lambda call: all(call is not done for done in before_restart), within=0.3
        )
    assert [
        (c.method, c.params["chat_id"])
        for c in world.fake.calls_to()
        if c.method in {"deleteMessage", "sendMessage"}
    ] == [
        ("deleteMessage", GROUP),
        ("sendMessage", BEN),
        ("sendMessage", MODS),
        ("sendMessage", ANN),
    ]


async def test_learner_commands_in_private(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
        case_id = int(card["text"].split("#", 1)[1].split(" ", 1)[0])
        world.fake.clear_calls()
        world.fake.private_command(world.users[BEN], "/mycases")
        mine = await world.fake.wait_for_call("sendMessage")
        world.fake.private_command(world.users[ANN], "/mycases")
        theirs = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
        world.fake.private_command(world.users[ANN], f"/appeal {case_id} not mine")
        refused = await world.fake.wait_for_call(
            "sendMessage", lambda call: "cannot find" in call.params["text"]
        )
        world.fake.private_command(world.users[BEN], f"/appeal {case_id} I was quoting a film")
        appeal = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == MODS)
        world.fake.private_command(world.users[ANN], "/policy")
        policy = await world.fake.wait_for_call(
            "sendMessage", lambda call: "Complaints Procedure" in call.params["text"]
        )
    assert f"#{case_id}" in mine.params["text"] and "Active strikes: 1" in mine.params["text"]
    assert "no cases" in theirs.params["text"]
    assert refused.params["chat_id"] == ANN
    assert f"case #{case_id}" in appeal.params["text"] and "quoting a film" in appeal.params["text"]
    assert policy.params["chat_id"] == ANN


async def test_welcome_is_private_where_possible(world: World) -> None:
    newcomer = world.fake.make_user(6001, "Nia")
    async with running_application(world.bot().application):
        world.fake.members_joined(GROUP, [world.users[ANN], newcomer])
        await world.fake.wait_until(lambda: len(world.fake.calls_to("sendMessage")) >= 2)
    sent = [(call.params["chat_id"], call.ok) for call in world.fake.calls_to("sendMessage")]
    assert sent == [(ANN, True), (6001, False), (GROUP, True)]


async def test_startup_checks_report_privacy_mode_and_missing_rights(world: World) -> None:
    world.fake.set_bot_rights(GROUP, can_delete_messages=False)
    bot = world.bot()
    async with running_application(bot.application):
        await bot.startup_checks()
    reports = [
        call.params["text"] for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == MODS
    ]
    assert any("can_delete_messages" in report and "ESOL Entry 3" in report for report in reports)


async def test_staff_authorise_a_group_from_inside_it(world: World) -> None:
    world.fake.add_group(OTHER_GROUP, "ESOL Entry 2 (Wed)")
    async with running_application(world.bot().application):
        world.fake.send_text(OTHER_GROUP, world.users[STRANGER], "/authorise")
        await world.fake.wait_for_call("sendMessage", lambda call: "Only listed staff" in call.params["text"])
        world.fake.send_text(OTHER_GROUP, world.users[TUTOR], "/authorise")
        await world.fake.wait_for_call("sendMessage", lambda call: "now moderated" in call.params["text"])
    assert world.store.is_authorised("telegram", str(OTHER_GROUP))


async def test_a_learner_who_never_started_the_bot_gets_a_self_deleting_nudge(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[STRANGER], "this homework is shit")
        nudge = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == GROUP)
        deleted = await world.fake.wait_for_call(
            "deleteMessage", lambda call: call.params["chat_id"] == GROUP
        )
    assert [(c.method, c.params["chat_id"], c.ok) for c in world.fake.calls_to()] == [
        ("sendMessage", STRANGER, False),
        ("sendMessage", GROUP, True),
        ("deleteMessage", GROUP, True),
    ]
    text = nudge.params["text"].lower()
    assert "sid" in text and not any(word in text for word in ("shit", "rude", "4.1", "polite", "breach"))
    assert deleted.params["message_id"] == world.fake.sent_messages(GROUP)[-1]["message_id"]


def test_a_refused_token_or_unreachable_api_is_a_clear_start_up_error(
    tmp_path: Path, policy: Policy, scorer: LoadedScorer
) -> None:
    from bot.config import ConfigError

    with served_in_thread(FakeBotAPI()) as fake:
        for api_url, expected in (
            (fake.base_url, "refused the token"),
            ("http://127.0.0.1:9/bot", "cannot reach"),
        ):
            settings = load_settings(
                database_url=f"sqlite:///{tmp_path / 'x.db'}",
                telegram_token="999:WRONG",
                telegram_api_url=api_url,
            )
            store = Store.open(settings.database_url)
            services = Services(settings=settings, policy=policy, store=store, loaded=scorer)
            with pytest.raises(ConfigError, match=expected) as caught:
                TelegramBot(services, build_application(settings)).run()
            assert "WRONG" not in str(caught.value)
            store.close()


async def test_deletions_do_not_queue_behind_the_group_message_limit(world: World) -> None:
    application = build_application(world.settings, group_max_rate=1)  # one group message a minute
    bot = TelegramBot(world.services, application)
    async with running_application(bot.application):
        for user in (ANN, BEN, TUTOR):  # criticism of the service: hidden and reminded, no card
            world.fake.send_text(GROUP, world.users[user], "this college is a joke")
        await world.fake.wait_until(lambda: len(world.fake.calls_to("sendMessage")) == 3, timeout=5)
    assert [call.ok for call in world.fake.calls_to("deleteMessage")] == [True, True, True]


@pytest.mark.parametrize("started_the_bot", [True, False], ids=["private reminders", "public nudges"])
async def test_a_breach_is_hidden_at_once_while_earlier_cards_wait_for_the_moderators_group(
    world: World, started_the_bot: bool
) -> None:
    # One message every 2 s to a group (Telegram's is 20 a minute): each personal-data message is
    # hidden, reminded and carded, and the second and third cards must wait for the moderators' group.
    # A learner who never started the bot is nudged in the class group instead: those wait too.
    application = build_application(world.settings, group_max_rate=1, group_time_period=2)
    bot = TelegramBot(world.services, application)
    if started_the_bot:
        learners = [world.users[ANN], world.users[BEN], world.users[ANN]]
    else:
        learners = [world.fake.make_user(3000 + index, f"New{index}") for index in range(3)]

    def cards() -> list[ApiCall]:
        return [call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == MODS]

    def deleted() -> list[ApiCall]:  # the learners' messages (a nudge deletes itself too)
        return [call for call in world.fake.calls_to("deleteMessage") if call.params["message_id"] in sent]

    async with running_application(bot.application):
        sent = [
            world.fake.send_text(GROUP, learner, f"call me on {number}")["message_id"]
            for learner, number in zip(
                learners, ("07700 900123", "07700 900456", "07700 900789"), strict=True
            )
        ]
        # Before: the third deletion waited for the second card (or nudge), 2 s behind the first.
        await world.fake.wait_until(lambda: len(deleted()) == 3, timeout=1.5)
        assert len(cards()) < 3, "the cards should still be waiting for the moderators' group"
        await world.fake.wait_until(lambda: len(cards()) == 3, timeout=10)  # none is lost
    assert [call.ok for call in deleted()] == [True, True, True]
    assert len(world.store.open_cases()) == 3


async def test_a_restart_finishes_a_case_the_last_run_left_unfinished(world: World) -> None:
    from moderation.engine import assess
    from moderation.types import Author, AuthorHistory, ChatMessage, ModelScores, Role

    # The last run stored the case (write before act) and was stopped before it acted; Telegram
    # will not send the update again.
    sent = world.fake.send_text(GROUP, world.users[ANN], "ring me on 07700 900123")
    message = ChatMessage(
        platform="telegram",
        chat_id=str(GROUP),
        message_id=str(sent["message_id"]),
        author=Author(id=str(ANN), display_name="Ann", role=Role.LEARNER),
        text="ring me on 07700 900123",
        sent_at=_now(),
    )
    decision = assess(message, AuthorHistory(), world.services.policy, _now(), ModelScores(scorer="test"))
    case = world.store.record_case(message, decision, _now())

    bot = world.bot()
    async with running_application(bot.application, drop_pending_updates=True):
        await bot.application.post_init(bot.application)  # what run_polling calls at start-up
        card = await _card(world, MODS)
        await world.fake.wait_until(lambda: len(_done(world, case.id)) == 3)
    assert world.fake.find_call(
        "deleteMessage", lambda call: call.params["message_id"] == sent["message_id"] and call.ok
    )
    assert world.fake.find_call("sendMessage", lambda call: call.params["chat_id"] == ANN)  # the reminder
    assert f"#{case.id}" in card["text"] and "07700" not in card["text"]
    assert _done(world, case.id) == ["hide", "remind", "escalate"]


def _done(world: World, case_id: int) -> list[str]:
    """The actions the log shows finished (each is also logged as started, before its platform call)."""
    return [record.action for record in world.store.case_actions(case_id) if record.outcome != "started"]


def test_webhook_mode_receives_updates_and_moderates(
    tmp_path: Path, policy: Policy, scorer: LoadedScorer
) -> None:
    with served_in_thread(FakeBotAPI()) as fake:
        _run_webhook_scenario(fake, tmp_path, policy, scorer)


def _run_webhook_scenario(fake: FakeBotAPI, tmp_path: Path, policy: Policy, scorer: LoadedScorer) -> None:
    import json
    import os
    import signal
    import socket
    import threading
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'hook.db'}",
        telegram_token=fake.token,
        telegram_api_url=fake.base_url,
        telegram_mode="webhook",
        telegram_webhook_url=f"http://127.0.0.1:{port}/classmod",
        telegram_webhook_listen="127.0.0.1",
        telegram_webhook_port=port,
        telegram_webhook_secret="s3cret-hook",
    )
    store = Store.open(settings.database_url)
    store.authorise_group("telegram", str(GROUP), title="ESOL", authorised_by="test", at=_now())
    fake.add_group(GROUP, "ESOL")
    ann = fake.make_user(ANN, "Ann")
    fake.allow_private(ANN)
    message = fake.send_text(GROUP, ann, "this homework is shit")
    finished = threading.Event()
    delivered: list[int] = []

    def post(secret: str) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/classmod",
            data=json.dumps({"update_id": 900001, "message": message}).encode(),
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret},
        )
        try:
            return int(urllib.request.urlopen(request, timeout=5).status)
        except urllib.error.HTTPError as error:
            return error.code

    def drive() -> None:
        deadline = time.monotonic() + 20
        try:
            while time.monotonic() < deadline and not finished.is_set():
                if fake.find_call("setWebhook") is not None and not delivered:
                    try:
                        delivered.extend([post("wrong"), post("s3cret-hook")])
                    except OSError:  # refused or timed out: setWebhook comes before PTB's server listens
                        pass
                if fake.find_call("sendMessage", lambda call: call.params["chat_id"] == ANN) is not None:
                    break
                time.sleep(0.05)
        finally:
            if not finished.is_set():  # whatever happened above, the bot must stop
                os.kill(os.getpid(), signal.SIGINT)  # PTB's run_webhook stops on SIGINT

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        TelegramBot(
            Services(settings=settings, policy=policy, store=store, loaded=scorer),
            build_application(settings),
        ).run()
    finally:
        finished.set()
        driver.join(5)
        store.close()
    assert delivered == [403, 200]  # a request without the secret is refused
    webhook = fake.find_call("setWebhook")
    assert webhook is not None and webhook.params["url"] == f"http://127.0.0.1:{port}/classmod"
    assert fake.find_call("sendMessage", lambda call: call.params["chat_id"] == ANN) is not None


async def test_groups_are_moderated_concurrently_and_share_model_batches(world: World) -> None:
    from moderation.serving.batching import ScoringService

    groups = [-1005000000000 - index for index in range(4)]
    for group in groups:
        world.fake.add_group(group, f"Class {group}")
        world.store.authorise_group("telegram", str(group), title=str(group), authorised_by="test", at=_now())
    scoring = ScoringService(world.services.loaded.scorer, max_batch=32, window_ms=50)
    services = Services(
        settings=world.settings,
        policy=world.services.policy,
        store=world.store,
        loaded=world.services.loaded,
        scoring=scoring,
    )
    bot = TelegramBot(services, build_application(world.settings, group_max_rate=10_000))
    async with running_application(bot.application):
        # Every text differs: the same text in two groups would be scored once (the service reuses it).
        for round_ in range(3):
            for index, group in enumerate(groups):
                world.fake.send_text(group, world.users[ANN], f"round {round_}: see you in class {index}")
        for index, group in enumerate(groups):
            world.fake.send_text(group, world.users[ANN], f"this homework is shit, part {index}")
        await world.fake.wait_until(
            lambda: len(world.fake.calls_to("sendMessage")) == len(groups), timeout=10
        )
    assert scoring.stats.texts == 16
    assert scoring.stats.largest > 1, "messages from different groups were scored together"


# --- the safeguarding card, appeals, restores (issue 11) --------------------------------------------

DISCLOSURE = "my stepdad hits me when I get home and I'm scared to go back"


def _labels(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [button["text"] for row in markup.get("inline_keyboard", []) for button in row]


def _case_of(card: dict[str, Any]) -> int:
    return int(card["text"].split("#", 1)[1].split(" ", 1)[0])


def _strikes(world: World, user: int) -> int:
    history = world.store.author_history(
        "telegram", str(user), now=_now(), strike_lifetime=timedelta(days=30)
    )
    return len(history.strikes)


async def _press(world: World, user: int, card: dict[str, Any], data: str) -> str:
    answers = len(world.fake.calls_to("answerCallbackQuery"))
    world.fake.press_button(world.users[user], card, data)
    await world.fake.wait_until(lambda: len(world.fake.calls_to("answerCallbackQuery")) > answers)
    answer = world.fake.calls_to("answerCallbackQuery")[-1]
    return str(answer.params.get("text", ""))


async def test_a_disclosure_card_offers_only_what_an_officer_does_with_one(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], DISCLOSURE)
        card = await _card(world, OFFICER_CHAT)
    assert _labels(card) == ["Acknowledge", "Hide the message", "Action taken", "Referred on", "No concern"]


@pytest.mark.parametrize("verb", ["warn", "mute1h", "mute24h", "remove", "uphold", "restore", "refer"])
async def test_a_forged_sanction_on_a_disclosure_is_refused(world: World, verb: str) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], DISCLOSURE)
        card = await _card(world, OFFICER_CHAT)
        case_id = _case_of(card)
        world.fake.clear_calls()
        answer = await _press(world, OFFICER, card, f"cm:{case_id}:{verb}")
    assert world.summary() == [("answerCallbackQuery", None)]  # nothing sent to the learner, nothing done
    assert world.fake.calls_to("answerCallbackQuery")[0].params.get("show_alert") is True
    assert "not a decision" in answer
    assert _strikes(world, ANN) == 0
    assert world.store.get_case(case_id).is_open  # type: ignore[union-attr]


async def test_the_officer_acknowledges_hides_and_records_an_action(world: World) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[ANN], DISCLOSURE)
        card = await _card(world, OFFICER_CHAT)
        case_id = _case_of(card)
        world.fake.clear_calls()
        await _press(world, OFFICER, card, f"cm:{case_id}:ack")
        await world.fake.wait_for_call("editMessageText")
        acknowledged = world.fake.message(OFFICER_CHAT, card["message_id"])
        assert "Acknowledged by Olu" in acknowledged["text"]
        assert _labels(acknowledged) == ["Hide the message", "Action taken", "Referred on", "No concern"]
        assert "already acknowledged" in await _press(world, OFFICER, acknowledged, f"cm:{case_id}:ack")

        await _press(world, OFFICER, acknowledged, f"cm:{case_id}:hide")
        await world.fake.wait_until(lambda: world.fake.is_deleted(GROUP, sent["message_id"]))
        await world.fake.wait_until(lambda: len(world.fake.calls_to("editMessageText")) == 2)
        hidden = world.fake.message(OFFICER_CHAT, card["message_id"])
        assert _labels(hidden) == ["Action taken", "Referred on", "No concern"]

        await _press(world, OFFICER, hidden, f"cm:{case_id}:actioned")
        await world.fake.wait_until(lambda: len(world.fake.calls_to("editMessageText")) == 3)
    done = world.fake.message(OFFICER_CHAT, card["message_id"])
    assert "Action taken by Olu" in done["text"] and not done.get("reply_markup")
    assert not [call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == ANN]
    assert world.store.get_case(case_id).status == "actioned"  # type: ignore[union-attr]
    assert _strikes(world, ANN) == 0


async def test_a_staff_conduct_card_offers_the_officer_no_sanction(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[TUTOR], "Add me on my personal instagram")
        card = await _card(world, OFFICER_CHAT)
        case_id = _case_of(card)
        refused = await _press(world, OFFICER, card, f"cm:{case_id}:remove")
    assert _labels(card) == ["Acknowledge", "Hide the message", "Action taken", "Referred on", "No concern"]
    assert "not a decision" in refused and not world.fake.calls_to("banChatMember")


async def test_a_restore_lifts_the_strike(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
        assert _strikes(world, BEN) == 1
        await _press(world, MOD, card, f"cm:{_case_of(card)}:restore")
        world.fake.private_command(world.users[BEN], "/mycases")
        mine = await world.fake.wait_for_call(
            "sendMessage", lambda call: "Active strikes" in call.params["text"]
        )
    assert "Active strikes: 0" in mine.params["text"]
    assert _strikes(world, BEN) == 0


@pytest.mark.parametrize("world", ["clear", "sealed"], indirect=True)
async def test_a_restore_reposts_what_the_moderator_saw_never_the_hidden_number(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "my number is 07700 900123, text me")
        card = await _card(world, MODS)
        await _press(world, MOD, card, f"cm:{_case_of(card)}:restore")
        restored = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == GROUP and "Restored" in call.params["text"]
        )
    assert "07700" not in restored.params["text"] and "[phone removed]" in restored.params["text"]
    if world.settings.data_keys is not None:
        database = Path(world.settings.database_url.removeprefix("sqlite:///"))
        stored = database.read_bytes() + database.with_name(database.name + "-wal").read_bytes()
        assert b"900123" not in stored and b"text me" not in stored


@pytest.mark.parametrize("world", ["clear", "sealed"], indirect=True)
async def test_an_appeal_is_a_card_decided_once_and_the_learner_is_told(world: World) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
        card = await _card(world, MODS)
        case_id = _case_of(card)
        world.fake.private_command(world.users[BEN], f"/appeal {case_id} it is a line from our reading book")
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["text"].startswith("Appeal"))
        appeal = await _card(world, MODS)
        world.fake.private_command(world.users[BEN], f"/appeal {case_id} please look again")
        again = await world.fake.wait_for_call(
            "sendMessage", lambda call: "already appealed" in call.params["text"]
        )
        assert _labels(appeal) == ["Grant the appeal", "Deny the appeal"]
        assert appeal["text"].startswith(f"Appeal · case #{case_id}") and "reading book" in appeal["text"]

        await _press(world, MOD, appeal, f"cm:{case_id}:grant")
        told = await world.fake.wait_for_call(
            "sendMessage",
            lambda call: call.params["chat_id"] == BEN and "agree with you" in call.params["text"],
        )
        restored = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == GROUP and "Restored" in call.params["text"]
        )
        assert "already been decided" in await _press(world, MOD, appeal, f"cm:{case_id}:deny")
        world.fake.private_command(world.users[BEN], "/mycases")
        mine = await world.fake.wait_for_call(
            "sendMessage", lambda call: "appeal accepted" in call.params["text"]
        )
    appeal_cards = [m for m in world.fake.sent_messages(MODS) if m["text"].startswith("Appeal")]
    assert len(appeal_cards) == 1 and again.params["chat_id"] == BEN
    assert (
        world.fake.is_deleted(GROUP, sent["message_id"])
        and "I know where you live" in restored.params["text"]
    )
    assert f"#{case_id}" in told.params["text"]
    assert "Active strikes: 0" in mine.params["text"]
    assert world.store.get_case(case_id).status == "restored"  # type: ignore[union-attr]


async def test_a_moderators_decision_on_the_case_answers_its_appeal(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = _case_of(card)
        world.fake.private_command(world.users[BEN], f"/appeal {case_id} I was joking")
        await world.fake.wait_for_call("sendMessage", lambda call: "Appeal" in call.params["text"])
        await _press(world, MOD, card, f"cm:{case_id}:uphold")
        told = await world.fake.wait_for_call(
            "sendMessage",
            lambda call: call.params["chat_id"] == BEN and "decision stays" in call.params["text"],
        )
    assert f"#{case_id}" in told.params["text"]
    assert [appeal.status for appeal in world.store.appeals(case_id)] == ["denied"]


@pytest.mark.parametrize(
    "data", ["cm:08:uphold", "cm:+8:uphold", "cm:8:Uphold", "cm:8:uphold:x", "cm: 8:uphold"]
)
async def test_a_button_is_parsed_strictly(world: World, data: str) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "you are a stupid idiot Ann")
        card = await _card(world, MODS)
        case_id = _case_of(card)
        answer = await _press(world, MOD, card, data.replace("8", str(case_id)))
    assert "not one of ours" in answer
    assert world.store.get_case(case_id).is_open  # type: ignore[union-attr]


# --- every group message is moderated, commands included (issue 11) ---------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/me you are a stupid idiot Priya, nobody wants you here",
        "/x call me on 07911 123456",
        "/policy I will find you and hurt you",
    ],
)
async def test_a_message_that_starts_with_a_command_is_still_moderated(world: World, text: str) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[BEN], text)
        card = await _card(world, MODS)
    assert world.fake.is_deleted(GROUP, sent["message_id"])
    assert world.store.get_case(_case_of(card)) is not None
    assert "07911" not in card["text"]


async def test_policy_with_a_threat_answers_and_hides(world: World) -> None:
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[BEN], "/policy I will find you and hurt you")
        await _card(world, MODS)
        policy = await world.fake.wait_for_call(
            "sendMessage", lambda call: "Complaints Procedure" in call.params["text"]
        )
    assert world.fake.is_deleted(GROUP, sent["message_id"]) and policy.params["chat_id"] == GROUP


async def test_private_commands_sent_in_the_group_get_an_answer(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], "/mycases")
        told = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
        world.fake.send_text(GROUP, world.users[STRANGER], "/appeal 3 it was a joke")
        nudge = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == GROUP)
        await world.fake.wait_for_call("deleteMessage", lambda call: call.params["chat_id"] == GROUP)
    assert "private chat" in told.params["text"] and "/mycases" in told.params["text"]
    assert "Sid" in nudge.params["text"] and "/appeal" in nudge.params["text"]
    assert world.store.cases() == []


async def test_a_join_seen_only_as_a_chat_member_update_is_welcomed_once(world: World) -> None:
    newcomer = world.fake.make_user(6002, "Zofia")
    world.fake.allow_private(6002)
    # As `classmod run telegram` polls: chat_member updates come only when asked for.
    async with running_application(world.bot().application, allowed_updates=list(Update.ALL_TYPES)):
        world.fake.member_status_changed(GROUP, newcomer)
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == 6002)
        world.fake.members_joined(GROUP, [newcomer])  # the same join as a service message
        await asyncio.sleep(0.5)  # a second welcome would have been sent by now
    welcomes = [call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == 6002]
    assert len(welcomes) == 1 and "Welcome, Zofia" in welcomes[0].params["text"]


async def test_staff_authorise_an_unauthorised_group_and_its_commands_do_not_make_the_bot_leave(
    world: World,
) -> None:
    world.fake.add_group(OTHER_GROUP, "ESOL Entry 2 (Wed)")
    async with running_application(world.bot().application):
        world.fake.send_text(OTHER_GROUP, world.users[TUTOR], "/authorise")
        await world.fake.wait_for_call("sendMessage", lambda call: "now moderated" in call.params["text"])
    assert not world.fake.calls_to("leaveChat")


async def test_a_photo_card_shows_the_photo(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_photo(GROUP, world.users[ANN])
        second = world.fake.send_photo(GROUP, world.users[ANN])  # a repeat without consent is escalated
        card = await _card(world, MODS)
        shown = await world.fake.wait_for_call("sendPhoto")
    assert 'Message: ""' not in card["text"] and "a photo with no caption" in card["text"]
    assert shown.params["chat_id"] == MODS and shown.params["photo"] == second["photo"][-1]["file_id"]
    assert shown.params["reply_parameters"]["message_id"] == card["message_id"]


async def test_an_officers_hide_that_fails_keeps_the_hide_button(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], DISCLOSURE)
        card = await _card(world, OFFICER_CHAT)
        world.fake.fail_next("deleteMessage", status=400, description="Bad Request: not enough rights")
        answer = await _press(world, OFFICER, card, f"cm:{_case_of(card)}:hide")
        await world.fake.wait_for_call("editMessageText")
    after = world.fake.message(OFFICER_CHAT, card["message_id"])
    assert "hide failed" in answer
    assert "Hide the message" in _labels(after)


async def test_an_appeal_denied_on_a_disclosure_leaves_the_case_with_the_officer(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[ANN], DISCLOSURE)
        card = await _card(world, OFFICER_CHAT)
        case_id = _case_of(card)
        world.fake.private_command(world.users[ANN], f"/appeal {case_id} please forget it")
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["text"].startswith("Appeal"))
        appeal = await _card(world, OFFICER_CHAT)
        assert "Only the safeguarding officer" in await _press(world, MOD, appeal, f"cm:{case_id}:deny")
        await _press(world, OFFICER, appeal, f"cm:{case_id}:deny")
        await world.fake.wait_for_call(
            "sendMessage",
            lambda call: call.params["chat_id"] == ANN and "decision stays" in call.params["text"],
        )
    assert world.store.get_case(case_id).is_open  # type: ignore[union-attr]
    assert _strikes(world, ANN) == 0


# --- the inbound journal ---------------------------------------------------------------------------


def _journal_as_a_stopped_bot_left_it(world: World, message: dict[str, Any]) -> int:
    """Write the update that delivered ``message`` to the journal, as a process killed mid-batch left it."""
    update_id = world.fake.last_update_id
    world.store.journal_update(
        "telegram", update_id, json.dumps({"update_id": update_id, "message": message}), _now()
    )
    return update_id


def _journalled(world: World) -> list[int]:
    return [update.update_id for update in world.store.journalled_updates("telegram")]


async def test_an_update_stays_journalled_until_its_card_is_posted(world: World) -> None:
    # One message every 2 s to a group: the second card waits for the moderators' group.
    bot = TelegramBot(
        world.services, build_application(world.settings, group_max_rate=1, group_time_period=2)
    )

    def cards() -> int:
        return len([call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == MODS])

    async with running_application(bot.application):
        world.fake.send_text(GROUP, world.users[ANN], "call me on 07700 900123")
        world.fake.send_text(GROUP, world.users[BEN], "call me on 07700 900456")
        second = world.fake.last_update_id
        await world.fake.wait_until(
            lambda: len(world.fake.calls_to("deleteMessage")) == 2 and _journalled(world) == [second]
        )
        assert cards() == 1  # the second is hidden, but its card waits, and so it stays journalled
        await world.fake.wait_until(lambda: cards() == 2, timeout=10)
        await world.fake.wait_until(lambda: _journalled(world) == [])


async def test_a_restart_handles_what_the_journal_holds_in_the_order_it_arrived(world: World) -> None:
    sent = [
        world.fake.send_text(GROUP, world.users[user], f"I know where you live, {number}")
        for user, number in ((ANN, 1), (BEN, 2), (TUTOR, 3))
    ]
    for message in reversed(sent):  # written in any order: the update ids give the order
        world.store.journal_update(
            "telegram",
            100_000_000 + message["message_id"],
            json.dumps({"update_id": 100_000_000 + message["message_id"], "message": message}),
            _now(),
        )
    bot = world.bot()
    async with running_application(bot.application, drop_pending_updates=True):  # Telegram: confirmed
        await bot.application.post_init(bot.application)  # what run_polling calls at start-up
        await world.fake.wait_until(lambda: len(world.fake.calls_to("deleteMessage")) == 3)
        await world.fake.wait_until(lambda: _journalled(world) == [])
    deleted = [call.params["message_id"] for call in world.fake.calls_to("deleteMessage")]
    assert deleted == [message["message_id"] for message in sent]
    assert len(world.store.open_cases()) == 3


async def test_an_unreadable_journalled_update_is_logged_by_id_and_dropped(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.store.journal_update(
        "telegram", 7, '{"update_id": 7, "message": {"text": "Zebra secret 41"}}', _now()
    )
    world.store.journal_update("telegram", 8, "Zebra secret 42, not JSON at all", _now())
    good = world.fake.send_text(GROUP, world.users[BEN], "I know where you live")
    _journal_as_a_stopped_bot_left_it(world, good)
    bot = world.bot()
    async with running_application(bot.application, drop_pending_updates=True):
        await bot.application.post_init(bot.application)
        await world.fake.wait_for_call("deleteMessage")
        await world.fake.wait_until(lambda: _journalled(world) == [])
    dropped = [record.getMessage() for record in caplog.records if "cannot be read" in record.getMessage()]
    assert dropped == [
        "journalled update 7 cannot be read (KeyError): dropped",
        "journalled update 8 cannot be read (JSONDecodeError): dropped",
    ]
    assert "Zebra secret" not in caplog.text


async def test_an_update_telegram_sends_again_is_handled_once(world: World) -> None:
    # Killed before it confirmed the batch: the update is in the journal and Telegram sends it again.
    message = world.fake.send_text(ANN, world.users[ANN], "/policy")
    _journal_as_a_stopped_bot_left_it(world, message)
    bot = world.bot()
    async with running_application(bot.application):
        await bot.application.post_init(bot.application)
        await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
        await world.fake.wait_until(lambda: world.fake.pending_updates == 0 and _journalled(world) == [])
        await asyncio.sleep(0.3)  # time for a second answer, were the copy handled too
    assert len([call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == ANN]) == 1


async def test_an_update_the_store_cannot_journal_is_not_confirmed_and_comes_again(world: World) -> None:
    import sqlite3

    path = world.settings.database_url.removeprefix("sqlite:///")

    def journal_table(old: str, new: str) -> None:
        with sqlite3.connect(path) as connection:
            connection.execute(f"ALTER TABLE {old} RENAME TO {new}")

    journal_table("classmod_inbound_updates", "journal_away")  # the store fails to journal
    async with running_application(world.bot().application):
        sent = world.fake.send_text(GROUP, world.users[BEN], "I know where you live")

        def fetched_again() -> bool:
            return len([call for call in world.fake.calls_to("getUpdates") if call.ok]) >= 3

        await world.fake.wait_until(fetched_again, timeout=10)
        assert world.fake.pending_updates == 1, "Telegram must not be told it arrived"
        assert world.fake.calls_to() == []
        journal_table("journal_away", "classmod_inbound_updates")  # the store is back
        await world.fake.wait_for_call("deleteMessage", timeout=10)
        await world.fake.wait_until(lambda: _journalled(world) == [] and world.fake.pending_updates == 0)
    assert world.fake.is_deleted(GROUP, sent["message_id"])


# --- the policy heads (issue 12) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def heads_scorer(tmp_path_factory: pytest.TempPathFactory, policy: Policy) -> LoadedScorer:
    settings = load_settings(model_dir=tmp_path_factory.mktemp("models"), heads=True)
    loaded = load_scorer(settings, policy)
    assert loaded.heads is not None, loaded.heads_reason
    return loaded


async def test_a_reworded_disclosure_no_phrase_rule_knows_reaches_only_the_officer(
    world: World, heads_scorer: LoadedScorer
) -> None:
    services = replace(world.services, loaded=heads_scorer, scoring=None)
    bot = TelegramBot(services, build_application(world.settings, group_max_rate=10_000))
    text = "sorry miss I wasnt in, my dad locked me in my room all weekend and didnt give me food"
    async with running_application(bot.application):
        world.fake.send_text(GROUP, world.users[ANN], text)
        card = await _card(world, OFFICER_CHAT)

    assert world.summary() == [("sendMessage", ANN), ("sendMessage", OFFICER_CHAT)]  # nothing hidden
    assert "not in trouble" in world.fake.calls_to("sendMessage")[0].params["text"]
    assert card["text"].startswith("Safeguarding")
    assert "(heads, " in card["text"] and "Similar to (safeguarding): " in card["text"]
    history = world.store.author_history("telegram", str(ANN), now=_now(), strike_lifetime=timedelta(days=30))
    assert history.strikes == ()


# --- learners' languages (issue 15) ------------------------------------------------------------------

RLI, LRI, PDI = "\u2067", "\u2066", "\u2069"


def _learner(world: World, user_id: int, name: str, language_code: str | None) -> dict[str, Any]:
    user = world.fake.make_user(user_id, name, language_code=language_code)
    world.fake.allow_private(user_id)
    world.users[user_id] = user
    return user


async def test_a_learner_with_telegram_in_arabic_gets_the_reminder_in_arabic_with_english_beneath(
    world: World, policy: Policy
) -> None:
    amal = _learner(world, 1003, "Amal", "ar")
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, amal, "this homework is shit")
        reminder = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == 1003)
    text = reminder.params["text"]
    arabic, english = policy.reminder_text(["clause:4.1"], "ar"), policy.reminder_text(["clause:4.1"])
    assert arabic and english and arabic != english
    # Arabic first, each paragraph isolated right-to-left; the same in English underneath.
    top, bottom = text.split("\n\n")
    assert top == f"{RLI}{arabic}{PDI}" and bottom == f"{LRI}{english}{PDI}"
    assert "4.1" in top and "policy rule 4.1" in bottom


async def test_a_disclosure_in_arabic_gets_the_arabic_support_message_and_goes_to_the_officer(
    world: World, policy: Policy
) -> None:
    amal = _learner(world, 1003, "Amal", "ar")
    async with running_application(world.bot().application):
        world.fake.send_text(
            GROUP, amal, "I can't come Thursday, my husband hits me and I'm scared to go home"
        )
        card = await _card(world, OFFICER_CHAT)
    support = [call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == 1003]
    assert len(support) == 1
    # The high level's message for the hour it is (in or out of the service's hours), Arabic first.
    case = world.store.get_case(_case_of(card))
    assert case is not None and case.urgency is not None and case.urgency.value == "high"
    arabic, english = support[0].params["text"].split("\n\n")
    assert arabic.startswith(RLI) and "أنت لست في أي مشكلة" in arabic and "999" in arabic
    assert "not in trouble" in english and "999" in english
    assert card["text"].startswith("Safeguarding")  # staff read the card in English
    history = world.store.author_history("telegram", "1003", now=_now(), strike_lifetime=timedelta(days=30))
    assert history.strikes == ()


async def test_a_learner_who_chooses_polish_gets_polish_whatever_their_app_says(
    world: World, policy: Policy
) -> None:
    async with running_application(world.bot().application):
        world.fake.private_command(world.users[ANN], "/language pl")
        chosen = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
        world.fake.send_text(GROUP, world.users[ANN], "this homework is shit")
        reminder = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == ANN and "4.1" in call.params["text"]
        )
        world.fake.private_command(world.users[ANN], "/mycases")
        cases = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == ANN and "#" in call.params["text"]
        )
    assert "Polski" in chosen.params["text"] and "with English underneath" in chosen.params["text"]
    polish = policy.reminder_text(["clause:4.1"], "pl")
    assert reminder.params["text"] == f"{polish}\n\n{policy.reminder_text(['clause:4.1'])}"
    assert cases.params["text"].startswith("Twoje") and "Your cases:" in cases.params["text"]
    assert world.store.language_choice("telegram", str(ANN)).chosen == "pl"


async def test_an_unknown_language_is_refused_with_the_list(world: World) -> None:
    async with running_application(world.bot().application):
        world.fake.private_command(world.users[ANN], "/language xx")
        answer = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == ANN)
    assert "I do not know that language" in answer.params["text"] and "pl Polski" in answer.params["text"]
    assert world.store.language_choice("telegram", str(ANN)).chosen is None


async def test_staff_set_a_groups_language_and_learners_without_one_get_it(world: World) -> None:
    kemal = _learner(world, 1004, "Kemal", None)  # his app reports no language
    async with running_application(world.bot().application):
        world.fake.send_text(GROUP, world.users[BEN], "/language uk")
        refused = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == GROUP)
        world.fake.send_text(GROUP, world.users[TUTOR], "/language uk")
        await world.fake.wait_for_call(
            "sendMessage",
            lambda call: call.params["chat_id"] == GROUP and "Українська" in call.params["text"],
        )
        world.fake.send_text(GROUP, kemal, "this homework is shit")
        reminder = await world.fake.wait_for_call("sendMessage", lambda call: call.params["chat_id"] == 1004)
    assert "Only tutors and staff" in refused.params["text"]
    assert world.store.language_choice("telegram", "1004", str(GROUP)).group_default == "uk"
    ukrainian = world.services.policy.reminder_text(["clause:4.1"], "uk")
    assert ukrainian and reminder.params["text"].startswith(ukrainian)


async def test_a_message_in_a_language_the_scorers_do_not_cover_is_counted_for_the_group(
    world: World,
) -> None:
    async with running_application(world.bot().application):
        world.fake.send_text(
            GROUP, world.users[ANN], "Dzień dobry, nie mogę dziś przyjść na zajęcia, przepraszam"
        )
        world.fake.send_text(GROUP, world.users[ANN], "Good morning, I can't come today, sorry everyone")
        await world.fake.wait_until(lambda: bool(world.store.unassessed_counts(_now().date())), timeout=5)
    [count] = world.store.unassessed_counts(_now().date())
    assert (count.chat_id, count.language, count.messages) == (str(GROUP), "pl", 1)
    assert world.calls() == []  # nothing was said to anyone: it is counted, not acted on


async def test_a_newcomer_is_welcomed_in_their_apps_language_in_private_or_in_the_group(world: World) -> None:
    olena = world.fake.make_user(6003, "Olena", language_code="uk")
    world.fake.allow_private(6003)
    tomasz = world.fake.make_user(6004, "Tomasz", language_code="pl")  # has not started the bot
    async with running_application(world.bot().application):
        world.fake.members_joined(GROUP, [olena, tomasz])
        await world.fake.wait_until(
            lambda: any(call.params["chat_id"] == GROUP for call in world.fake.calls_to("sendMessage"))
        )
    sent = {
        call.params["chat_id"]: call.params["text"] for call in world.fake.calls_to("sendMessage") if call.ok
    }
    texts = catalogue()
    private, public = sent[6003], sent[GROUP]
    assert private.startswith(texts.text("welcome", "uk", name="Olena")) and "Welcome, Olena!" in private
    assert public == f"{texts.text('welcome.public.telegram', 'pl', name='Tomasz')}\n\n" + texts.text(
        "welcome.public.telegram", name="Tomasz"
    )
