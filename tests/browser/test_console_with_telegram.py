"""The whole loop in a real browser: a breach on Telegram, decided in the console, the card changes.

The Telegram bot runs against the fake Bot API (as in the scenario tests) with a clock the test turns;
the console is served by uvicorn over the same store; Chromium signs in with a link, opens the case and
presses Warn; the bot's next tick warns the learner and edits the card in the moderators' chat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from bot.web.app import create_app
from bot.web.auth import issue_link
from tests.adapters.test_telegram_rota import ANN, GROUP, MOD, MODS, TICK, World, policy, world  # noqa: F401
from tests.browser.serving import served_app
from tests.browser.test_console_browser import _heading, _sign_in, browser  # noqa: F401

# In the slow group: `make test-slow` (and so .ci/run) runs them, with Chromium required there.
pytestmark = pytest.mark.slow
selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def console(world: World) -> Iterator[str]:  # noqa: F811
    app = create_app(
        store=world.store, policy=world.services.policy, settings=world.settings, clock=world.clock
    )
    with served_app(app) as base:
        yield base


async def test_a_case_decided_in_the_browser_changes_its_card_on_telegram(
    world: World,  # noqa: F811
    console: str,
    browser: webdriver.Chrome,  # noqa: F811
) -> None:
    async with world.serving():
        world.fake.send_text(GROUP, world.users[ANN], "you are a stupid idiot Mo")
        call = await world.fake.wait_for_call(
            "sendMessage", lambda call: call.params["chat_id"] == MODS and "reply_markup" in call.params
        )
        card = world.fake.sent_messages(MODS)[-1]
        case_id = int(call.params["text"].split("#", 1)[1].split(" ", 1)[0])
        link = issue_link(world.store, world.settings, "telegram", str(MOD), world.clock.now())
        link = link.replace(world.settings.console_url, console)

        def decide() -> None:
            browser.delete_all_cookies()
            _sign_in(browser, link)
            WebDriverWait(browser, 10).until(lambda current: _heading(current).startswith("Open cases"))
            browser.get(f"{console}/cases/{case_id}")
            browser.find_element(By.CSS_SELECTOR, 'button[data-verb="warn"]').click()
            WebDriverWait(browser, 10).until(
                lambda current: current.find_elements(By.CSS_SELECTOR, ".said.ok")
            )

        await world.turn(0)  # the learner's reminder is out before the decision
        before = len(world.private(ANN))
        await asyncio.to_thread(decide)
        await world.turn(TICK)  # the bot's next tick carries it out
        edited = world.fake.message(MODS, card["message_id"])
    assert f"Outcome: Warned by telegram:{MOD} (console)" in edited["text"] and not edited.get("reply_markup")
    assert len(world.private(ANN)) == before + 1  # the moderator's warning, privately
