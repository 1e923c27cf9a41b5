"""A decision taken in the web console, carried out by the running Telegram bot (issue 17).

The console records the decision through the review; the bot, on its scheduler's tick, does on Telegram
what the card's button would have done and shows the outcome on the card, which loses its buttons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from bot.errors import StorageError
from bot.outbox import decide_on_web
from bot.review import Verdict
from tests.adapters.test_telegram_rota import (  # noqa: F401
    ANN,
    MOD,
    MODS,
    OFFICER_CHAT,
    TICK,
    World,
    _buttons,
    policy,
    world,
)


async def _carded(world: World) -> tuple[dict[str, Any], int]:  # noqa: F811
    """A learner's insult, carded in the moderators' chat: the card and its case."""
    world.fake.send_text(-1001111111111, world.users[ANN], "you are a stupid idiot Mo")
    call = await world.fake.wait_for_call(
        "sendMessage", lambda call: call.params["chat_id"] == MODS and "reply_markup" in call.params
    )
    return world.fake.sent_messages(MODS)[-1], int(call.params["text"].split("#", 1)[1].split(" ", 1)[0])


async def _ticks_until(world: World, predicate: Callable[[], bool], ticks: int = 3) -> None:  # noqa: F811
    """Let the scheduler tick until ``predicate()`` holds (at most ``ticks`` ticks, then a last wait).

    On a busy machine a decision can land just after a tick has looked at the queue; the bot carries it
    out at the next tick, which a test's fake clock only brings when moved on.
    """
    for _ in range(ticks):
        await world.turn(TICK)
        if predicate():
            return
    await world.fake.wait_until(predicate)


async def _decide(world: World, case_id: int, verb: str) -> Verdict:  # noqa: F811
    """A moderator's decision in the web console."""
    return await asyncio.to_thread(
        lambda: decide_on_web(
            world.store,
            world.services.policy,
            world.settings,
            case_id=case_id,
            verb=verb,
            platform="telegram",
            user_id=str(MOD),
            name=f"telegram:{MOD}",
            now=world.clock.now(),
        )
    )


async def test_a_web_decision_is_carried_out_by_the_bot_and_shown_on_the_card(world: World) -> None:  # noqa: F811
    async with world.serving():
        card, case_id = await _carded(world)
        reminders = len(world.private(ANN))
        assert (await _decide(world, case_id, "warn")).accepted
        await world.turn(TICK)
        edited = world.fake.message(MODS, card["message_id"])
    assert "Outcome: Warned by telegram:3001 (console)" in edited["text"] and not edited.get("reply_markup")
    assert len(world.private(ANN)) == reminders + 1  # the warning, privately
    actions = [(item.action, item.actor, item.outcome) for item in world.store.case_actions(case_id)]
    assert ("warn", str(MOD), "ok") in actions and ("warn-done", str(MOD), "ok") in actions
    assert world.store.outbox("telegram") == []  # done once


async def test_a_referral_from_the_console_gives_the_officer_a_card_to_act_on(world: World) -> None:  # noqa: F811
    async with world.serving():
        card, case_id = await _carded(world)
        assert (await _decide(world, case_id, "refer")).accepted
        await _ticks_until(world, lambda: "Outcome:" in world.fake.message(MODS, card["message_id"])["text"])
        await world.turn(TICK)  # and the rota's first step
        await world.fake.wait_until(lambda: bool(world.store.alerts([case_id])[case_id]))
        moderators_card = world.fake.message(MODS, card["message_id"])
        referral = world.fake.sent_messages(OFFICER_CHAT)[-1]
    # The outcome goes on the card decided on; the officer's new card keeps the officer's buttons.
    assert "Outcome: Referred to the safeguarding officer" in moderators_card["text"]
    assert not moderators_card.get("reply_markup")
    assert "Outcome:" not in referral["text"] and f"cm:{case_id}:ack" in _buttons(referral)
    assert [alert.recipient for alert in world.store.alerts([case_id])[case_id]] == ["Olu (officer)"]


async def _decide_through_an_interruption(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    case_id: int,
    verb: str,
) -> None:
    """A console decision whose first run is cut off just after its steps, then the run after it.

    The database goes away as the bot marks the decision done (as if the bot were killed there): the
    next tick finds the decision still queued, with its steps already done.
    """
    real_finish = world.store.finish_outbox_item
    failures = [StorageError("the database is unreachable")]

    def finish_once_unreachable(item_id: int, **kwargs: Any) -> bool:
        if failures:
            raise failures.pop()
        return real_finish(item_id, **kwargs)

    monkeypatch.setattr(world.store, "finish_outbox_item", finish_once_unreachable)
    assert (await _decide(world, case_id, verb)).accepted
    await world.turn(TICK)
    await world.fake.wait_until(lambda: not failures)
    await world.turn(TICK)  # the decision is still queued: carried on, not carried out again
    await world.fake.wait_until(lambda: world.store.outbox("telegram") == [])


async def test_a_referral_interrupted_before_it_is_marked_done_posts_one_officer_card(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with world.serving():
        card, case_id = await _carded(world)
        reminders = len(world.private(ANN))
        referrals = len(world.fake.sent_messages(OFFICER_CHAT))
        await _decide_through_an_interruption(world, monkeypatch, case_id, "refer")
        moderators_card = world.fake.message(MODS, card["message_id"])
        officer_cards = world.fake.sent_messages(OFFICER_CHAT)[referrals:]
    assert len(officer_cards) == 1 and f"cm:{case_id}:ack" in _buttons(officer_cards[0])
    assert "Outcome:" not in officer_cards[0]["text"]  # the outcome went on the card decided on
    assert "Outcome: Referred to the safeguarding officer" in moderators_card["text"]
    assert len(world.private(ANN)) == reminders  # a referral sends the learner nothing
    posted = [item for item in world.store.case_actions(case_id) if item.action == "card-done"]
    assert len(posted) == 1


async def test_a_warning_interrupted_before_it_is_marked_done_reaches_the_learner_once(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with world.serving():
        card, case_id = await _carded(world)
        reminders = len(world.private(ANN))
        await _decide_through_an_interruption(world, monkeypatch, case_id, "warn")
        edited = world.fake.message(MODS, card["message_id"])
    assert len(world.private(ANN)) == reminders + 1  # one warning, not two
    assert "Outcome: Warned by telegram:3001 (console)" in edited["text"]
    assert [item.action for item in world.store.case_actions(case_id)].count("warn-done") == 1


async def test_a_moderator_adds_a_note_by_replying_to_a_card_in_their_chat(world: World) -> None:  # noqa: F811
    async with world.serving():
        world.fake.send_text(-1001111111111, world.users[ANN], "you are a stupid idiot Mo")
        call = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == MODS and "reply_markup" in call.params
        )
        case_id = int(call.params["text"].split("#", 1)[1].split(" ", 1)[0])
        card = world.fake.sent_messages(MODS)[-1]
        world.fake.send_text(MODS, world.users[MOD], "Spoke to the tutor about this.", reply_to=card)
        await world.fake.wait_until(
            lambda: any("Note added" in item["text"] for item in world.fake.sent_messages(MODS))
        )
    assert [(note.actor, note.text) for note in world.store.notes(case_id)] == [
        (str(MOD), "Spoke to the tutor about this.")
    ]
