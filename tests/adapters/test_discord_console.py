"""A decision taken in the web console, carried out by the running Discord bot (issue 17)."""

from __future__ import annotations

import asyncio

from bot.outbox import decide_on_web
from tests.adapters.test_discord_rota import OLU, TICK, World, _disclose, _running, world  # noqa: F401
from tests.fakes import running_client


async def test_an_acknowledgement_on_the_web_shows_on_the_card_which_keeps_its_other_decisions(
    world: World,  # noqa: F811
) -> None:
    async with running_client(await _running(world), world.fake.token):
        case_id = await _disclose(world)
        card = world.officers_room()[-1]
        verdict = await asyncio.to_thread(
            lambda: decide_on_web(
                world.store,
                world.services.policy,
                world.services.settings,
                case_id=case_id,
                verb="ack",
                platform="discord",
                user_id=str(OLU),
                name=f"discord:{OLU}",
                now=world.clock.now(),
            )
        )
        assert verdict.accepted
        await world.turn(TICK)
        edited = world.fake.message(int(card["channel_id"]), int(card["id"]))
    assert f"Acknowledged by discord:{OLU} (console)" in edited["embeds"][0]["description"]
    assert [item["custom_id"] for row in edited["components"] for item in row["components"]] == [
        *(f"cm:{case_id}:{verb}" for verb in ("hide", "actioned", "referon", "noconcern")),
        f"cn:{case_id}",
    ]
    assert world.store.outbox("discord") == []
