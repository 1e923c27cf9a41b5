"""The web console over HTTP (issue 17, first part): sign-in by link, roles, queue, a case, security."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from bot.config import Settings, load_settings
from bot.store import Store
from bot.web.app import COOKIE, create_app
from bot.web.auth import issue_link
from moderation.policy import load_policy
from moderation.types import Action, ActionKind, Author, Category, ChatMessage, Decision, Role, Route, Urgency
from tests.bot.test_cli import Cli, cli  # noqa: F401  (the fixture)
from tests.fakes.clock import FakeClock

MODERATOR, OFFICER, TUTOR = "3001", "4001", "2001"
POSTED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
SCRIPT = 'look <script>alert("x")</script> <img src=x onerror=alert(1)> ring 07700 900123'


@pytest.fixture
def settings() -> Settings:
    return load_settings(
        telegram_moderators=[int(MODERATOR)],
        telegram_safeguarding_officers=[int(OFFICER)],
        telegram_staff=[int(TUTOR)],
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(POSTED + timedelta(hours=5))


@pytest.fixture
def web(store: Store, settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    app = create_app(store=store, policy=load_policy(), settings=settings, clock=clock)
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def _case(store: Store, message_id: str, text: str, *, safeguarding: bool = False) -> int:
    route = Route.SAFEGUARDING if safeguarding else Route.MODERATORS
    decision = Decision(
        scores={Category.SAFEGUARDING if safeguarding else Category.CIVILITY: 0.9},
        flagged=(Category.SAFEGUARDING,) if safeguarding else (Category.CIVILITY, Category.PERSONAL_DATA),
        evidence=(),
        clauses=("5",) if safeguarding else ("4.1",),
        actions=(Action(ActionKind.ESCALATE, route),),
        reminder=None,
        explanation="test",
        scorer="test",
        urgency=Urgency.IMMEDIATE if safeguarding else None,
    )
    message = ChatMessage(
        platform="telegram",
        chat_id="-100200",
        message_id=message_id,
        author=Author(id="42", display_name="Sam", role=Role.LEARNER),
        text=text,
        sent_at=POSTED,
    )
    return store.record_case(message, decision, POSTED).id


def _sign_in(web: TestClient, store: Store, settings: Settings, clock: FakeClock, user: str) -> str:
    link = issue_link(store, settings, "telegram", user, clock.now())
    token = link.rsplit("/", 1)[1]
    assert web.get(f"/signin/{token}").status_code == 200  # only a button: a preview does not use it up
    answer = web.post("/signin", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return token


def test_a_link_signs_in_once_to_a_strict_cookie_and_shows_the_queue(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    ordinary = _case(store, "1", "you are an idiot")
    token = _sign_in(web, store, settings, clock, MODERATOR)
    cookie = web.cookies.get(COOKIE)
    assert cookie
    header = next(value for name, value in web.get("/").request.headers.items() if name == "cookie")
    assert COOKIE in header
    page = web.get("/")
    assert page.status_code == 200 and f'href="/cases/{ordinary}"' in page.text
    fresh = TestClient(web.app)
    again = fresh.post("/signin", data={"token": token}, follow_redirects=False)
    assert again.status_code == 400 and "used" in again.text  # single use


def test_the_session_cookie_is_http_only_and_same_site_strict(
    store: Store, settings: Settings, clock: FakeClock
) -> None:
    app = create_app(store=store, policy=load_policy(), settings=settings, clock=clock)
    with TestClient(app) as client:
        token = issue_link(store, settings, "telegram", MODERATOR, clock.now()).rsplit("/", 1)[1]
        answer = client.post("/signin", data={"token": token}, follow_redirects=False)
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here; behind https (CLASSMOD_CONSOLE_URL) it is Secure
    secure = load_settings(telegram_moderators=[int(MODERATOR)], console_url="https://console.example.org")
    app = create_app(store=store, policy=load_policy(), settings=secure, clock=clock)
    with TestClient(app, base_url="https://testserver") as client:
        token = issue_link(store, secure, "telegram", MODERATOR, clock.now()).rsplit("/", 1)[1]
        answer = client.post("/signin", data={"token": token}, follow_redirects=False)
    assert "secure" in answer.headers["set-cookie"].lower()


def test_an_expired_link_and_a_guessed_one_are_refused_and_guessing_is_slowed(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    token = issue_link(store, settings, "telegram", MODERATOR, clock.now()).rsplit("/", 1)[1]
    clock.advance(minutes=10, seconds=1)
    assert web.post("/signin", data={"token": token}).status_code == 400
    answers = [web.post("/signin", data={"token": f"guess{index}"}).status_code for index in range(9)]
    assert answers[-1] == 400 and web.post("/signin", data={"token": "guess"}).status_code == 429


def test_only_listed_staff_get_a_link(store: Store, settings: Settings, clock: FakeClock) -> None:
    with pytest.raises(PermissionError, match="not a listed moderator"):
        issue_link(store, settings, "telegram", TUTOR, clock.now())


def test_a_moderator_gets_404_for_an_officers_case_and_an_officers_view_is_audited(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    disclosure = _case(store, "1", "my stepdad hits me", safeguarding=True)
    ordinary = _case(store, "2", "you are an idiot")
    _sign_in(web, store, settings, clock, MODERATOR)
    assert web.get(f"/cases/{disclosure}").status_code == 404
    assert web.get(f"/cases/{disclosure}").text == web.get("/cases/999999").text  # no hint it exists
    queue = web.get("/").text
    assert f"/cases/{disclosure}" not in queue and f"/cases/{ordinary}" in queue
    assert "stepdad" not in web.get(f"/cases/{ordinary}").text  # not in the learner's other cases either
    assert store.audit_log(disclosure) == []

    web.cookies.clear()
    _sign_in(web, store, settings, clock, OFFICER)
    page = web.get(f"/cases/{disclosure}")
    assert page.status_code == 200 and "my stepdad hits me" in page.text and "audit log" in page.text
    assert f"/cases/{disclosure}" in web.get("/?level=immediate").text
    assert [(actor, action, via) for _, actor, action, via in store.audit_log(disclosure)] == [
        (f"telegram:{OFFICER}", "view", "console")
    ]


def test_a_message_with_script_in_it_is_shown_as_text_with_personal_details_masked(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    case_id = _case(store, "1", SCRIPT)
    _sign_in(web, store, settings, clock, MODERATOR)
    page = web.get(f"/cases/{case_id}").text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "07700 900123" not in page


def test_every_response_carries_a_strict_policy_and_is_never_cached(web: TestClient) -> None:
    for path in ("/", "/signin/x", "/cases/1", "/static/style.css"):
        headers = web.get(path).headers
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "unsafe-inline" not in policy and "script-src" not in policy
        assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
        assert headers["referrer-policy"] == "no-referrer"


def test_sign_out_needs_the_forms_token_and_ends_every_session(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    _sign_in(web, store, settings, clock, MODERATOR)
    other = TestClient(web.app)
    _sign_in(other, store, settings, clock, MODERATOR)  # the same person on another device
    assert web.post("/signout", data={}).status_code == 403  # a forged form: no token
    assert web.post("/signout", data={"csrf": "wrong"}).status_code == 403
    assert web.get("/").status_code == 200
    page = web.get("/").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert web.post("/signout", data={"csrf": csrf}).status_code == 200
    assert web.get("/").status_code == 401 and other.get("/").status_code == 401


def test_an_idle_session_ends(web: TestClient, store: Store, settings: Settings, clock: FakeClock) -> None:
    _sign_in(web, store, settings, clock, MODERATOR)
    clock.advance(minutes=29)
    assert web.get("/").status_code == 200  # used: its idle time starts again
    clock.advance(minutes=29)
    assert web.get("/").status_code == 200
    clock.advance(minutes=31)
    assert web.get("/").status_code == 401


def test_the_access_log_names_routes_never_tokens_or_texts(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    case_id = _case(store, "1", "you are an idiot")
    with caplog.at_level(logging.INFO, logger="bot.web"):
        token = _sign_in(web, store, settings, clock, MODERATOR)
        web.get(f"/cases/{case_id}")
    # The console's own records (the test's HTTP client, httpx, logs its requests on its side).
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("bot.web"))
    assert "GET /signin/{token} 200" in logged and "GET /cases/{case_id:int} 200" in logged
    assert token not in logged and "idiot" not in logged


def test_an_operator_prints_a_link_for_listed_staff_only(cli: Cli) -> None:  # noqa: F811
    cli.setenv("CLASSMOD_TELEGRAM_SAFEGUARDING_OFFICERS", f"[{OFFICER}]")
    cli.setenv("CLASSMOD_CONSOLE_URL", "https://console.example.org")

    printed = cli("console", "link", "--platform", "telegram", "--user", OFFICER)
    refused = cli("console", "link", "--platform", "telegram", "--user", TUTOR)

    assert printed.exit_code == 0, printed.output
    assert printed.stdout.strip().startswith("https://console.example.org/signin/")
    assert refused.exit_code == 1 and "not a listed moderator" in " ".join(refused.stderr.split())


def _csrf(web: TestClient, path: str = "/") -> str:
    return web.get(path).text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_a_moderator_decides_on_the_web_through_the_review_and_the_bot_is_asked_to_carry_it_out(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    case_id = _case(store, "1", "you are an idiot")
    disclosure = _case(store, "2", "my stepdad hits me", safeguarding=True)
    _sign_in(web, store, settings, clock, MODERATOR)
    page = web.get(f"/cases/{case_id}").text
    assert 'data-verb="warn"' in page and 'data-verb="restore"' not in page  # what the case offers now
    assert web.post(f"/cases/{case_id}/decide", data={"verb": "warn"}).status_code == 403  # no form token
    assert (
        web.post(f"/cases/{disclosure}/decide", data={"verb": "warn", "csrf": _csrf(web)}).status_code == 404
    )
    assert store.get_case(case_id).is_open  # type: ignore[union-attr]

    answer = web.post(f"/cases/{case_id}/decide", data={"verb": "warn", "csrf": _csrf(web)})
    assert (
        answer.status_code == 200
        and "Done: warn." in answer.text
        and "carries it out on telegram" in answer.text
    )
    case = store.get_case(case_id)
    assert case is not None and case.status == "warned" and case.closed_by == MODERATOR
    history = store.author_history("telegram", "42", now=clock.now(), strike_lifetime=timedelta(days=30))
    assert len(history.strikes) == 1  # the same review as the card's button: a warning is a strike
    (item,) = store.outbox("telegram")
    assert item.case_id == case_id and '"action": "warn"' in item.steps
    assert item.outcome.startswith(f"Outcome: Warned by telegram:{MODERATOR} (console)")
    again = web.post(f"/cases/{case_id}/decide", data={"verb": "remove", "csrf": _csrf(web)})
    assert (
        "Not done: This case is already closed (warned)." in again.text and len(store.outbox("telegram")) == 1
    )


def test_no_sanction_on_a_disclosure_from_the_web_either_and_officers_add_notes(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    disclosure = _case(store, "1", "my stepdad hits me", safeguarding=True)
    _sign_in(web, store, settings, clock, OFFICER)
    page = web.get(f"/cases/{disclosure}").text
    assert 'data-verb="ack"' in page and 'data-verb="warn"' not in page
    forged = web.post(f"/cases/{disclosure}/decide", data={"verb": "warn", "csrf": _csrf(web)})
    assert "Not done: warn is not a decision for a disclosure case." in forged.text
    acknowledged = web.post(f"/cases/{disclosure}/decide", data={"verb": "ack", "csrf": _csrf(web)})
    assert "Acknowledged." in acknowledged.text and 'data-verb="ack"' not in acknowledged.text
    noted = web.post(f"/cases/{disclosure}/notes", data={"note": "Rang Sam <b>today</b>", "csrf": _csrf(web)})
    assert "Rang Sam &lt;b&gt;today&lt;/b&gt;" in noted.text
    assert [note.text for note in store.notes(disclosure)] == ["Rang Sam <b>today</b>"]
    audited = [action for _, _, action, via in store.audit_log(disclosure) if via == "console"]
    assert "decide-ack" in audited and "note" in audited
    assert (
        store.author_history("telegram", "42", now=clock.now(), strike_lifetime=timedelta(days=30)).strikes
        == ()
    )


def test_a_learner_page_shows_what_the_role_may_see_with_strikes_and_when_they_lapse(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    ordinary = _case(store, "1", "you are an idiot")
    disclosure = _case(store, "2", "my stepdad hits me", safeguarding=True)
    _sign_in(web, store, settings, clock, MODERATOR)
    web.post(f"/cases/{ordinary}/decide", data={"verb": "warn", "csrf": _csrf(web)})
    page = web.get("/learners/telegram/42")
    assert page.status_code == 200 and f'href="/cases/{ordinary}"' in page.text
    assert (
        f'href="/cases/{disclosure}"' not in page.text
        and "1 more case(s) only a safeguarding officer" in page.text
    )
    assert "civility under 4.1, lapses" in page.text
    assert "Export as JSON" not in page.text  # subject access is the officers'
    assert web.get("/learners/telegram/42/export.json").status_code == 404
    assert web.get("/learners/telegram/nobody").status_code == 404


def test_an_officer_exports_everything_held_and_erases_the_words(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    ordinary = _case(store, "1", "you are an idiot")
    disclosure = _case(store, "2", "my stepdad hits me", safeguarding=True)
    store.add_note(disclosure, actor=OFFICER, actor_name="Olu", text="Rang Sam.", at=clock.now())
    _sign_in(web, store, settings, clock, OFFICER)
    exported = web.get("/learners/telegram/42/export.json")
    assert exported.headers["content-disposition"] == 'attachment; filename="classmod-telegram-42.json"'
    data = exported.json()
    assert data["subject"]["names"] == ["Sam"] and data["exported_by"] == f"telegram:{OFFICER}"
    assert {case["case"]: case["text"] for case in data["cases"]} == {
        ordinary: "you are an idiot",
        disclosure: "my stepdad hits me",
    }
    assert data["cases"][0]["staff_notes"][0]["text"] == "Rang Sam."
    pdf = web.get("/learners/telegram/42/export.pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-")
    assert {action for _, _, action, _ in store.audit_log(disclosure)} >= {"export-json", "export-pdf"}

    assert web.post("/learners/telegram/42/erase", data={}).status_code == 403  # no form token
    erased = web.post("/learners/telegram/42/erase", data={"csrf": _csrf(web)})
    assert "The words of 2 case(s) erased" in erased.text
    assert [store.get_case(case_id).text for case_id in (ordinary, disclosure)] == [None, None]  # type: ignore[union-attr]
    assert store.get_case(ordinary).status == "open"  # type: ignore[union-attr]  (the case stays)
    after = web.get("/learners/telegram/42/export.json").json()
    assert all(case["text"] is None and case["text_erased_at"] for case in after["cases"])


def test_the_queue_filters_by_category_in_the_database(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    rude = _case(store, "1", "you are an idiot")  # civility and personal data
    disclosure = _case(store, "2", "my stepdad hits me", safeguarding=True)
    _sign_in(web, store, settings, clock, OFFICER)
    assert f"/cases/{rude}" in web.get("/?category=personal_data").text
    page = web.get("/?category=safeguarding").text
    assert f"/cases/{disclosure}" in page and f"/cases/{rude}" not in page
    assert "No open cases match these filters" in web.get("/?category=sexual").text
    assert f"/cases/{rude}" in web.get("/?category=nonsense").text  # an unknown category filters nothing


def test_a_groups_charts_its_mode_and_the_shadow_calibration_report(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    store.authorise_group("telegram", "-100200", title="ESOL Entry 3", authorised_by="test", at=POSTED)
    rude = _case(store, "1", "you are an idiot")
    disclosure = _case(store, "2", "my stepdad hits me", safeguarding=True)
    for action in ("hide", "remind", "escalate"):
        store.record_action(rude, action, "shadow", detail="shadow mode", at=POSTED)
    _sign_in(web, store, settings, clock, MODERATOR)
    listing = web.get("/groups").text
    assert 'href="/groups/telegram/-100200"' in listing and ">enforce<" in listing
    page = web.get("/groups/telegram/-100200").text
    assert (
        page.count("<rect x=") == 1 and "1 civility</title>" in page
    )  # the moderator's count: no disclosure
    assert "safeguarding</title>" not in page and f"/cases/{disclosure}" not in page
    assert "would have: escalated 1, hidden 1, reminded 1" in page and f'href="/cases/{rude}"' in page
    assert web.post("/groups/telegram/-100200/mode", data={"mode": "shadow"}).status_code == 403  # no token
    switched = web.post("/groups/telegram/-100200/mode", data={"mode": "shadow", "csrf": _csrf(web)})
    assert "now in shadow mode" in switched.text and store.group_mode("telegram", "-100200") == "shadow"
    assert web.get("/groups/telegram/-100999").status_code == 404

    web.cookies.clear()
    _sign_in(web, store, settings, clock, OFFICER)
    assert "1 safeguarding</title>" in web.get("/groups/telegram/-100200").text


def test_the_policy_page_shows_each_clause_its_reminder_and_the_languages(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    _sign_in(web, store, settings, clock, MODERATOR)
    page = web.get("/policy").text
    policy = load_policy()
    clause = next(item for item in policy.clauses if item.reminder)
    assert f"{clause.id} {clause.title}" in page
    assert "New groups start in enforce mode." in page and "<td>pl</td><td>draft</td>" in page


def test_a_moderator_notes_on_an_ordinary_case_and_not_on_an_officers_one(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    ordinary = _case(store, "1", "you are an idiot")
    disclosure = _case(store, "2", "my stepdad hits me", safeguarding=True)
    _sign_in(web, store, settings, clock, MODERATOR)
    noted = web.post(f"/cases/{ordinary}/notes", data={"note": "Spoke to the tutor.", "csrf": _csrf(web)})
    assert "Spoke to the tutor." in noted.text and "Note added." in noted.text
    refused = web.post(f"/cases/{disclosure}/notes", data={"note": "x", "csrf": _csrf(web)})
    assert refused.status_code == 404 and store.notes(disclosure) == []


def test_staff_set_a_groups_own_thresholds_but_never_safeguardings(
    web: TestClient, store: Store, settings: Settings, clock: FakeClock
) -> None:
    store.authorise_group("telegram", "-100200", title="ESOL Entry 3", authorised_by="test", at=POSTED)
    _sign_in(web, store, settings, clock, MODERATOR)
    page = web.get("/groups/telegram/-100200").text
    assert 'name="threshold_civility"' in page and 'name="threshold_safeguarding"' not in page
    form = {
        "csrf": _csrf(web, "/groups/telegram/-100200"),
        "threshold_civility": "0.9",
        "threshold_safeguarding": "0.99",
    }
    saved = web.post("/groups/telegram/-100200/thresholds", data=form)
    assert "thresholds are saved" in saved.text and 'value="0.90"' in saved.text
    assert store.group_thresholds("telegram", "-100200") == {"civility": 0.9}
    bad = web.post("/groups/telegram/-100200/thresholds", data={**form, "threshold_civility": "2"})
    assert "a threshold is a number from 0.05 to 0.99" in bad.text
    assert store.group_thresholds("telegram", "-100200") == {"civility": 0.9}
    cleared = web.post("/groups/telegram/-100200/thresholds", data={**form, "threshold_civility": ""})
    assert cleared.status_code == 200 and store.group_thresholds("telegram", "-100200") == {}
