"""Shadow mode on Telegram (issue 17): decisions recorded, nothing done to learners; disclosures go."""

from __future__ import annotations

from tests.adapters.test_telegram_rota import (  # noqa: F401  (fixtures)
    ANN,
    GROUP,
    IMMEDIATE,
    MOD,
    MODS,
    OFFICER_CHAT,
    World,
    policy,
    world,
)


async def test_in_shadow_mode_a_breach_is_recorded_and_nothing_is_done(world: World) -> None:  # noqa: F811
    async with world.serving():
        refused = world.fake.send_text(GROUP, world.users[ANN], "/mode shadow")
        await world.fake.wait_until(lambda: len(world.fake.sent_messages(GROUP)) >= 1)
        assert "Only listed staff" in world.fake.sent_messages(GROUP)[-1]["text"]
        world.fake.send_text(GROUP, world.users[MOD], "/mode shadow")
        await world.fake.wait_until(lambda: "Shadow mode" in world.fake.sent_messages(GROUP)[-1]["text"])
        await world.fake.wait_until(
            lambda: any("put in shadow mode" in item["text"] for item in world.fake.sent_messages(MODS))
        )
        world.fake.clear_calls()
        sent = world.fake.send_text(GROUP, world.users[ANN], "you are a stupid idiot, shut up")
        await world.fake.wait_until(lambda: bool(world.store.cases_for_author("telegram", str(ANN))))
        await world.turn(0)
        assert not world.fake.calls_to("deleteMessage") and not world.fake.calls_to("sendMessage")
        assert not world.fake.is_deleted(GROUP, sent["message_id"])
        assert refused  # the learner's own /mode was only answered
    (case,) = world.store.cases_for_author("telegram", str(ANN))
    assert case.status == "closed"  # waits in no queue
    assert {(item.action, item.outcome) for item in world.store.case_actions(case.id)} >= {
        ("escalate", "shadow")
    }
    assert all(item.outcome == "shadow" for item in world.store.case_actions(case.id))
    history = world.store.author_history(
        "telegram", str(ANN), now=world.clock.now(), strike_lifetime=__import__("datetime").timedelta(days=30)
    )
    assert history.strikes == ()


async def test_a_disclosure_in_shadow_mode_still_reaches_the_officer_and_the_learner_is_supported(
    world: World,  # noqa: F811
) -> None:
    world.store.set_group_mode("telegram", str(GROUP), "shadow")
    async with world.serving():
        world.fake.send_text(GROUP, world.users[ANN], IMMEDIATE)
        await world.fake.wait_for_call(
            "sendMessage",
            lambda call: call.params["chat_id"] == OFFICER_CHAT and "reply_markup" in call.params,
        )
        await world.fake.wait_until(lambda: bool(world.private(ANN)))
    assert "not in trouble" in world.private(ANN)[0]["text"]
    assert not [call for call in world.fake.calls_to("sendMessage") if call.params["chat_id"] == MODS]
