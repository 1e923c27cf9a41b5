"""The web console in a real browser: Chromium (the system's package), headless, driven by Selenium.

The real app is served over HTTP by uvicorn on a free local port. Screenshots of the pages are written to
``CLASSMOD_SCREENSHOT_DIR`` when it is set (``make screenshots`` writes the README's), else to the test's
temporary folder. Skipped where Chromium or its driver is missing, unless ``CLASSMOD_REQUIRE_BROWSER=1``
(``.ci/run`` installs both and sets it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.store import Store
from bot.web.app import create_app
from bot.web.auth import issue_link
from moderation.policy import load_policy
from moderation.types import Action, ActionKind, Author, Category, ChatMessage, Decision, Role, Route, Urgency
from tests.browser.serving import served_app
from tests.fakes.clock import FakeClock

# In the slow group: `make test-slow` (and so .ci/run) runs them, with Chromium required there.
pytestmark = pytest.mark.slow
selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import (  # noqa: E402
    NoAlertPresentException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
MODERATOR, OFFICER = "3001", "4001"
SCRIPT = 'see <script>alert("x")</script><img src=x onerror=alert(1)> and ring me on 07700 900123'


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if CHROMIUM is None or DRIVER is None:
        if os.environ.get("CLASSMOD_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "Chromium and chromedriver are required (apt-get install -y chromium chromium-driver)"
            )
        pytest.skip("no Chromium here: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=DRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def settings() -> Settings:
    return load_settings(telegram_moderators=[int(MODERATOR)], telegram_safeguarding_officers=[int(OFFICER)])


@pytest.fixture
def served(tmp_path: Path, settings: Settings) -> Iterator[tuple[str, Store, FakeClock]]:
    store = Store.open(f"sqlite:///{tmp_path / 'console.db'}")
    clock = FakeClock()
    app = create_app(store=store, policy=load_policy(), settings=settings, clock=clock)
    try:
        with served_app(app) as base:
            yield base, store, clock
    finally:
        store.close()


def _screenshot(driver: webdriver.Chrome, tmp_path: Path, name: str) -> None:
    folder = Path(os.environ.get("CLASSMOD_SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


def _cases(store: Store) -> dict[str, int]:
    posted = datetime.now(UTC) - timedelta(hours=3)
    made = {}
    for key, text, flagged, route, urgency, hours in (
        ("script", SCRIPT, (Category.CIVILITY, Category.PERSONAL_DATA), Route.MODERATORS, None, 26),
        (
            "rude",
            "this homework is shit and so is the tutor",
            (Category.CIVILITY,),
            Route.MODERATORS,
            None,
            5,
        ),
        (
            "threat",
            "I know where you live, watch yourself",
            (Category.HARASSMENT,),
            Route.MODERATORS,
            None,
            2,
        ),
        ("disclosure", "my stepdad hits me", (Category.SAFEGUARDING,), Route.SAFEGUARDING, Urgency.HIGH, 1),
    ):
        decision = Decision(
            scores={flagged[0]: 0.93},
            flagged=flagged,
            evidence=(),
            clauses=("4.1",),
            actions=(Action(ActionKind.ESCALATE, route),),
            reminder=None,
            explanation=f"{flagged[0].value}: test",
            scorer="heads:all-MiniLM-L6-v2",
            urgency=urgency,
        )
        message = ChatMessage(
            platform="telegram",
            chat_id="-1001111111111",
            message_id=key,
            author=Author(id=f"u-{key}", display_name=f"Learner {key}", role=Role.LEARNER),
            text=text,
            sent_at=posted,
        )
        made[key] = store.record_case(message, decision, posted - timedelta(hours=hours)).id
    return made


def _heading(driver: webdriver.Chrome) -> str:
    """The page's heading once a navigation has settled (a click's page replaces the last one)."""

    def settled(current: webdriver.Chrome) -> str | bool:
        try:
            return str(current.find_element(By.TAG_NAME, "h1").text) or False
        except WebDriverException:  # not there yet, gone stale, or read mid-navigation
            return False

    return str(WebDriverWait(driver, 10).until(settled))


def _wait_for_heading(driver: webdriver.Chrome, expected: str) -> None:
    WebDriverWait(driver, 10).until(lambda current: _heading(current) == expected)


def _sign_in(driver: webdriver.Chrome, link: str) -> None:
    driver.get(link)
    driver.find_element(By.ID, "sign-in").click()


def test_sign_in_decide_and_what_a_moderator_cannot_do_in_a_real_browser(
    browser: webdriver.Chrome, served: tuple[str, Store, FakeClock], settings: Settings, tmp_path: Path
) -> None:
    base, store, clock = served
    cases = _cases(store)
    link = issue_link(store, settings, "telegram", MODERATOR, clock.now()).replace(
        "http://127.0.0.1:8080", base
    )
    browser.delete_all_cookies()
    _sign_in(browser, link)
    _wait_for_heading(browser, "Open cases 3")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    assert [row.find_element(By.TAG_NAME, "a").text for row in rows] == [
        f"#{cases[key]}"
        for key in ("script", "rude", "threat")  # oldest first; no officers' case
    ]
    assert browser.get_cookie("classmod_session")["httpOnly"] is True
    assert browser.get_cookie("classmod_session")["sameSite"] == "Strict"
    _screenshot(browser, tmp_path, "queue")

    browser.find_element(By.LINK_TEXT, f"#{cases['script']}").click()
    WebDriverWait(browser, 10).until(lambda current: _heading(current).startswith(f"Case #{cases['script']}"))
    message = browser.find_element(By.CSS_SELECTOR, "blockquote.message").text
    assert '<script>alert("x")</script>' in message and "07700" not in message  # text, masked
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018  (nothing ran)
    _screenshot(browser, tmp_path, "case")
    browser.find_element(By.CSS_SELECTOR, 'button[data-verb="warn"]').click()
    said = WebDriverWait(browser, 10).until(
        lambda current: current.find_elements(By.CSS_SELECTOR, ".said.ok")
    )
    assert "Done: warn." in said[0].text
    assert store.get_case(cases["script"]).status == "warned"  # type: ignore[union-attr]

    # A form whose token was tampered with is refused.
    browser.get(f"{base}/cases/{cases['rude']}")
    browser.execute_script("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
    browser.find_element(By.CSS_SELECTOR, 'button[data-verb="uphold"]').click()
    _wait_for_heading(browser, "Refused")
    assert store.get_case(cases["rude"]).is_open  # type: ignore[union-attr]

    # An officers' case is not found for a moderator; the used link does not sign in again.
    browser.get(f"{base}/cases/{cases['disclosure']}")
    _wait_for_heading(browser, "Not found")
    browser.delete_all_cookies()
    _sign_in(browser, link)
    _wait_for_heading(browser, "Link refused")


def test_an_expired_link_is_refused_in_the_browser(
    browser: webdriver.Chrome, served: tuple[str, Store, FakeClock], settings: Settings
) -> None:
    base, store, clock = served
    link = issue_link(store, settings, "telegram", OFFICER, clock.now()).replace(
        "http://127.0.0.1:8080", base
    )
    clock.advance(minutes=11)
    browser.delete_all_cookies()
    _sign_in(browser, link)
    _wait_for_heading(browser, "Link refused")


def test_a_groups_charts_and_its_mode_in_a_real_browser(
    browser: webdriver.Chrome, served: tuple[str, Store, FakeClock], settings: Settings, tmp_path: Path
) -> None:
    base, store, clock = served
    store.authorise_group(
        "telegram", "-1001111111111", title="ESOL Entry 3 (Mon)", authorised_by="t", at=clock.now()
    )
    kinds = (Category.CIVILITY, Category.HARASSMENT, Category.PERSONAL_DATA, Category.SEXUAL)
    for index in range(60):
        posted = clock.now() - timedelta(days=index % 50, hours=index % 7)
        category = kinds[index % len(kinds)] if index % 9 else Category.SAFEGUARDING
        decision = Decision(
            scores={category: 0.9},
            flagged=(category,),
            evidence=(),
            clauses=("4.1",),
            actions=(Action(ActionKind.ESCALATE, Route.MODERATORS),),
            reminder=None,
            explanation="",
            scorer="heads",
        )
        message = ChatMessage(
            platform="telegram",
            chat_id="-1001111111111",
            message_id=f"g{index}",
            author=Author(id=f"u{index % 9}", display_name=f"Learner {index % 9}", role=Role.LEARNER),
            text="a message",
            sent_at=posted,
        )
        case = store.record_case(message, decision, posted)
        if index % 3:
            store.claim_case(case.id, "upheld", actor=MODERATOR, at=posted + timedelta(hours=1 + index % 11))
    link = issue_link(store, settings, "telegram", OFFICER, clock.now()).replace(
        "http://127.0.0.1:8080", base
    )
    browser.delete_all_cookies()
    _sign_in(browser, link)
    WebDriverWait(browser, 10).until(lambda current: _heading(current).startswith("Open cases"))
    browser.get(f"{base}/groups/telegram/-1001111111111")
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) == 2 and len(charts[0].find_elements(By.TAG_NAME, "rect")) > 8
    _screenshot(browser, tmp_path, "group")
    browser.find_element(By.ID, "shadow").click()
    WebDriverWait(browser, 10, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda current: current.find_element(By.ID, "mode").text == "shadow"
    )
    assert store.group_mode("telegram", "-1001111111111") == "shadow"
