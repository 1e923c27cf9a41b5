"""The real ``classmod run telegram`` process against the fake Bot API: killed, stopped, doubled.

Telegram confirms a whole batch of updates as soon as the bot asks for the next one, so a bot that
dies mid-batch is never sent those updates again; only the inbound journal can save them. Each test
starts the command as an operator would (a subprocess, its settings in the environment) against the
fake served in a thread, and asserts what the class would notice: every abusive message gone, each
with one case, and nothing clean touched.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.pipeline import REPOSTED
from bot.store import Store
from tests.fakes import FakeBotAPI
from tests.fakes.threaded import served_in_thread

ROOT = Path(__file__).resolve().parents[2]
GROUPS = (-1001111111111, -1001111111112)
MODS = -1002222222222
OFFICER_CHAT = -1003333333333
MOD, CLEAN_AUTHOR = 3001, 1001
ABUSIVE = (
    "I know where you live, number {n}",
    "call me on 07700 900{n:03d}",
    "you are a stupid idiot, number {n}",
)
KILL_RUNS, SLOW_KILL_RUNS = 3, 10
STOP_BOUND_S = 20  # a graceful stop must end well inside what `docker stop` and systemd allow
WAIT_S = 90  # how long a started bot may take to act (start-up loads the scorer)


@dataclass
class Burst:
    """Messages pushed in one go: ``abusive`` and ``clean`` as (chat id, message id)."""

    abusive: list[tuple[int, int]] = field(default_factory=list)
    clean: list[tuple[int, int]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


class Bots:
    """Starts ``classmod run telegram`` against the fake; any process still running is killed at the end."""

    def __init__(self, fake: FakeBotAPI, directory: Path) -> None:
        self.fake = fake
        self.directory = directory
        self.database_url = f"sqlite:///{directory / 'classmod.db'}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def environment(self, **settings: str) -> dict[str, str]:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("CLASSMOD_") or name == "CLASSMOD_HEADS"
        }
        environment.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            COLUMNS="250",  # one log record a line where it fits
            PTB_TIMEDELTA="true",
            CLASSMOD_DATABASE_URL=self.database_url,
            CLASSMOD_MODEL_DIR=str(self.directory / "models"),  # none there: the fallback scorer
            CLASSMOD_TELEGRAM_TOKEN=self.fake.token,
            CLASSMOD_TELEGRAM_API_URL=self.fake.base_url,
            CLASSMOD_TELEGRAM_MODERATORS_CHAT=str(MODS),
            CLASSMOD_TELEGRAM_SAFEGUARDING_CHAT=str(OFFICER_CHAT),
            CLASSMOD_TELEGRAM_MODERATORS=f"[{MOD}]",
        )
        environment.update({f"CLASSMOD_{name.upper()}": value for name, value in settings.items()})
        return environment

    def start(self, name: str, **settings: str) -> subprocess.Popen[bytes]:
        with (self.directory / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", "from bot.cli import app; app()", "run", "telegram"],
                env=self.environment(**settings),
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes[name] = process
        return process

    def start_polling(self, name: str) -> subprocess.Popen[bytes]:
        process = self.start(name)
        self.wait_until(lambda: self.fake.polls_waiting > 0, f"{name} to poll", process)
        return process

    def output(self, name: str) -> str:
        """What the process wrote, with Rich's line wrapping undone."""
        return re.sub(r"\s+", " ", (self.directory / f"{name}.log").read_text(errors="replace"))

    def wait_until(
        self, condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes] | None = None
    ) -> None:
        """Wait for ``condition``; fail, with the bot's output, if it exits or ``WAIT_S`` passes first."""
        if not self.wait_for(condition, process):
            state = "exited" if process is not None and process.poll() is not None else f"waited {WAIT_S} s"
            tail = f":\n{self._tail(process)}" if process is not None else ""
            pytest.fail(f"{state} before {what}{tail}")

    def wait_for(self, condition: Callable[[], bool], process: subprocess.Popen[bytes] | None = None) -> bool:
        """Whether ``condition`` came true before ``process`` exited and within ``WAIT_S``."""
        deadline = time.monotonic() + WAIT_S
        while not condition():
            if (process is not None and process.poll() is not None) or time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def stop(self, name: str) -> int:
        """SIGTERM, as `docker stop` and systemd send; fails unless it exits within ``STOP_BOUND_S``."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(STOP_BOUND_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"{name} did not stop within {STOP_BOUND_S} s of SIGTERM:\n{self._tail(process)}")

    def kill_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    def _tail(self, process: subprocess.Popen[bytes]) -> str:
        name = next(name for name, started in self.processes.items() if started is process)
        return (self.directory / f"{name}.log").read_text(errors="replace")[-4000:]


@pytest.fixture
def bots(tmp_path: Path) -> Iterator[Bots]:
    with served_in_thread(FakeBotAPI()) as fake:
        fake.run_threadsafe(lambda: _furnish(fake))
        with Store.open(f"sqlite:///{tmp_path / 'classmod.db'}") as store:
            for group in GROUPS:
                store.authorise_group(
                    "telegram", str(group), title=str(group), authorised_by="test", at=_now()
                )
        started = Bots(fake, tmp_path)
        try:
            yield started
        finally:
            started.kill_all()


def _furnish(fake: FakeBotAPI) -> None:
    for group in GROUPS:
        fake.add_group(group, f"ESOL class {group}")
    fake.add_group(MODS, "Moderators")
    fake.add_group(OFFICER_CHAT, "Safeguarding")
    for user_id in (CLEAN_AUTHOR, *_learners(40)):
        fake.make_user(user_id, f"Learner {user_id}")
        fake.allow_private(user_id)
    fake.make_user(MOD, "Mo")


def _learners(count: int) -> range:
    """One learner per abusive message, so no ladder climbs past what the fake adapter supports."""
    return range(10_001, 10_001 + count)


def _burst(fake: FakeBotAPI, abusive: int, clean: int) -> Burst:
    """Abusive and clean messages interleaved across the groups (run it on the fake's loop)."""
    burst = Burst()
    clean_author = fake.make_user(CLEAN_AUTHOR, f"Learner {CLEAN_AUTHOR}")
    for index in range(max(abusive, clean)):
        group = GROUPS[index % len(GROUPS)]
        if index < abusive:
            text = ABUSIVE[index % len(ABUSIVE)].format(n=index)
            learner = fake.make_user(_learners(abusive)[index], f"Learner {index}")
            burst.abusive.append((group, fake.send_text(group, learner, text)["message_id"]))
            burst.texts.append(text)
        if index < clean:
            text = f"See you in Room 12 on Monday, bring worksheet {index}"
            burst.clean.append((group, fake.send_text(group, clean_author, text)["message_id"]))
            burst.texts.append(text)
    return burst


def _push(bots: Bots, abusive: int = 25, clean: int = 25) -> Burst:
    """Push the burst while the bot waits in getUpdates: it arrives as one batch."""
    burst = bots.fake.run_threadsafe(lambda: _burst(bots.fake, abusive, clean))
    total = abusive + clean
    bots.wait_until(lambda: bool(bots.fake.delivered_batches), "the burst to be delivered")
    assert bots.fake.delivered_batches == [total], "the burst should arrive in one getUpdates batch"
    return burst


def _deleted(bots: Bots, burst: Burst) -> list[tuple[int, int]]:
    return [message for message in burst.abusive if bots.fake.is_deleted(*message)]


def _cases(bots: Bots) -> dict[tuple[int, int], int]:
    """How many cases each message has."""
    with Store.open(bots.database_url) as store:
        counted: dict[tuple[int, int], int] = {}
        for case in store.cases(limit=1000):
            key = (int(case.chat_id), int(case.message_id))
            counted[key] = counted.get(key, 0) + 1
        return counted


def _every_abusive_message_acted_on(bots: Bots, burst: Burst) -> bool:
    cases = _cases(bots)
    return len(_deleted(bots, burst)) == len(burst.abusive) and all(
        message in cases for message in burst.abusive
    )


def _assert_acted_on_once(bots: Bots, burst: Burst, context: str) -> None:
    cases = _cases(bots)
    missing = [
        message for message in burst.abusive if message not in cases or not bots.fake.is_deleted(*message)
    ]
    assert missing == [], f"{context}: {len(missing)} abusive message(s) never acted on"
    assert {message: count for message, count in cases.items() if count > 1} == {}, "a message got two cases"
    touched = [message for message in burst.clean if message in cases or bots.fake.is_deleted(*message)]
    assert touched == [], f"{context}: clean messages acted on"


def _assert_no_message_text_logged(bots: Bots, burst: Burst, *names: str) -> None:
    for name in names:
        output = bots.output(name)
        assert [text for text in burst.texts if text in output] == [], f"{name} logged message text"


def _kill_at(
    bots: Bots,
    victim: subprocess.Popen[bytes],
    method: str,
    chats: tuple[int, ...],
    calls_before: int,
    *,
    carried_out: bool = False,
) -> None:
    """SIGKILL ``victim`` when its call number ``calls_before + 1`` of ``method`` in ``chats`` arrives.

    That call is never carried out, or with ``carried_out`` it is (Telegram did it; the bot, dead,
    never heard so and never recorded it).
    """
    seen = 0
    is_done = threading.Event()

    def hook(method_called: str, params: dict[str, Any]) -> bool:
        nonlocal seen
        if is_done.is_set() or method_called != method or params.get("chat_id") not in chats:
            return False
        seen += 1
        if seen <= calls_before:
            return False
        os.kill(victim.pid, signal.SIGKILL)
        is_done.set()
        return not carried_out

    bots.fake.run_threadsafe(lambda: bots.fake.on_request(hook))


def _kill_runs() -> list[Any]:
    return [
        pytest.param(run, id=f"run{run}", marks=[pytest.mark.slow] if run >= KILL_RUNS else [])
        for run in range(SLOW_KILL_RUNS)
    ]


# Where a kill lands: at a delete Telegram never carried out, at one it carried out but the bot never
# heard of, or at a moderators' card that never went out. (A card Telegram posted whose answer the
# bot never heard would be posted again: Telegram has no idempotency key; the README says so.)
_KILL_POINTS = (
    ("deleteMessage", GROUPS, False),
    ("deleteMessage", GROUPS, True),
    ("sendMessage", (MODS,), False),
)


@pytest.mark.parametrize("run", _kill_runs())
def test_a_bot_killed_mid_batch_acts_on_every_abusive_message_after_a_restart(bots: Bots, run: int) -> None:
    method, chats, carried_out = _KILL_POINTS[run % len(_KILL_POINTS)]
    calls_before = random.randrange(25)
    first = bots.start_polling("first")
    _kill_at(bots, first, method, chats, calls_before, carried_out=carried_out)
    burst = _push(bots)
    first.wait(WAIT_S)
    assert first.returncode == -signal.SIGKILL
    # Usually Telegram was told the whole batch arrived before the kill; a kill at the first
    # deletions may come before that, and then Telegram sends the batch again as well.
    context = (
        f"killed at {method} number {calls_before + 1} ({'carried out' if carried_out else 'never made'}), "
        f"{bots.fake.pending_updates} update(s) unconfirmed"
    )

    second = bots.start_polling("second")
    bots.wait_for(lambda: _every_abusive_message_acted_on(bots, burst), second)
    bots.wait_for(lambda: _cards_out(bots) >= len(burst.abusive), second)
    _assert_acted_on_once(bots, burst, context)
    _assert_nothing_done_twice(bots, burst, context)
    assert bots.stop("second") == 0
    _assert_no_message_text_logged(bots, burst, "first", "second")


def _cards_out(bots: Bots) -> int:
    """How many cases have a card out (a card posted again after the kill counts once)."""
    cards = [m["text"] for m in bots.fake.sent_messages(MODS) if m.get("text", "").startswith("Case #")]
    return len({card.split(" · ", 1)[0] for card in cards})


def _assert_nothing_done_twice(bots: Bots, burst: Burst, context: str) -> None:
    """Each abusive message deleted once and carded, no delete reported failed.

    A case is carded once, except that a card the bot was posting when it was killed may have got out:
    Telegram has no idempotency key, so the restart posts it again, saying so on the card (either card
    decides the case, once). Only the card in flight at the kill can be doubled.
    """
    deleted = [
        (call.params["chat_id"], call.params["message_id"])
        for call in bots.fake.calls_to("deleteMessage")
        if call.ok
    ]
    assert sorted(deleted) == sorted(burst.abusive), f"{context}: deletes {deleted}"
    cards = [m["text"] for m in bots.fake.sent_messages(MODS) if m["text"].startswith("Case #")]
    first: dict[str, str] = {}
    again: list[str] = []
    for card in cards:
        title = card.split(" · ", 1)[0]
        if title in first:
            again.append(card)
        else:
            first[title] = card
    assert len(first) == len(burst.abusive), f"{context}: cards {sorted(first)}"
    assert len(again) <= 1 and all(REPOSTED in card for card in again), f"{context}: posted twice {again}"
    with Store.open(bots.database_url) as store:
        for case in store.cases(limit=1000):
            hides = [
                item for item in store.case_actions(case.id) if item.action == "hide" and item.actor == "bot"
            ]
            assert hides and hides[-1].outcome == "ok", f"{context}: case {case.id} hide {hides[-1:]}"


def test_sigterm_mid_burst_stops_in_bounded_time_and_a_restart_finishes_what_was_in_hand(bots: Bots) -> None:
    # 40 cards for the moderators' group, which Telegram lets a bot post 20 times a minute: the last
    # twenty would hold a graceful stop for a minute, past what `docker stop` waits before SIGKILL.
    bots.start_polling("first")
    burst = _push(bots, abusive=40, clean=10)
    bots.wait_until(
        lambda: bots.fake.pending_updates == 0 and len(_deleted(bots, burst)) >= 5,
        "the burst to be confirmed to Telegram and under way",
    )
    assert bots.stop("first") == 0

    second = bots.start_polling("second")
    bots.wait_for(lambda: _every_abusive_message_acted_on(bots, burst), second)
    _assert_acted_on_once(bots, burst, "stopped with SIGTERM")
    with Store.open(bots.database_url) as store:
        cases = [
            case
            for case in store.cases(limit=1000)
            if (int(case.chat_id), int(case.message_id)) in burst.abusive
        ]
        bots.wait_until(
            lambda: all(_card_posted(store, case.id) for case in cases),
            "every case's card to be posted",
            second,
        )
    assert bots.stop("second") == 0
    output = bots.output("first")
    assert re.search(r"left \d+ update\(s\) in the journal", output), output[-2000:]
    _assert_no_message_text_logged(bots, burst, "first", "second")


def _card_posted(store: Store, case_id: int) -> bool:
    return any(
        record.action == "escalate" and record.outcome == "ok" for record in store.case_actions(case_id)
    )


def test_a_webhook_update_answered_200_is_handled_though_the_bot_is_killed_at_once(bots: Bots) -> None:
    # A learner asks for the policy in private; the bot answers Telegram 200 and is killed as it
    # sends the reply. Telegram will not post that update again.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    webhook = {
        "telegram_mode": "webhook",
        "telegram_webhook_url": f"http://127.0.0.1:{port}/classmod",
        "telegram_webhook_listen": "127.0.0.1",
        "telegram_webhook_port": str(port),
        "telegram_webhook_secret": "s3cret-hook",
    }
    learner_id = _learners(1)[0]
    learner = bots.fake.run_threadsafe(lambda: bots.fake.make_user(learner_id, "Lee"))
    command = bots.fake.run_threadsafe(lambda: bots.fake.private_command(learner, "/policy"))
    first = bots.start("first", **webhook)
    _kill_at(bots, first, "sendMessage", (learner_id,), 0)
    bots.wait_until(lambda: _post_update(port, command) == 200, "the webhook to answer 200", first)
    first.wait(WAIT_S)
    assert first.returncode == -signal.SIGKILL

    second = bots.start("second", **webhook)

    def answered() -> bool:
        return any(
            call.ok and "Complaints Procedure" in call.params["text"]
            for call in bots.fake.calls_to("sendMessage")
            if call.params["chat_id"] == learner_id
        )

    assert bots.wait_for(answered, second), "the learner never got the policy"
    assert bots.stop("second") == 0


def _post_update(port: int, message: dict[str, Any]) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/classmod",
        data=json.dumps({"update_id": 900_001, "message": message}).encode(),
        headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "s3cret-hook"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:  # not listening yet
        return 0


def test_a_second_poller_gets_one_clear_line_and_the_bot_carries_on_once_it_stops(bots: Bots) -> None:
    bot = bots.start_polling("bot")
    rogue_stop = threading.Event()

    def rogue() -> None:  # another process polling with the same token
        while not rogue_stop.is_set():
            url = f"{bots.fake.base_url}{bots.fake.token}/getUpdates?timeout=1"
            try:
                urllib.request.urlopen(url, timeout=5).close()
            except OSError:
                time.sleep(0.05)

    poller = threading.Thread(target=rogue, daemon=True)
    poller.start()
    try:
        bots.wait_until(
            lambda: (
                len(
                    [
                        call
                        for call in bots.fake.calls_to("getUpdates")
                        if call.error_code == 409 and "allowed_updates" in call.params
                    ]
                )
                >= 2
            ),
            "the bot to be refused twice",
            bot,
        )
    finally:
        rogue_stop.set()
        poller.join(10)
    burst = _push_one(bots)
    bots.wait_for(lambda: _every_abusive_message_acted_on(bots, burst), bot)
    _assert_acted_on_once(bots, burst, "after another poller stopped")
    assert bots.stop("bot") == 0
    output = bots.output("bot")
    assert output.count("409 Conflict: another process is polling Telegram with this bot's token") == 1, (
        output
    )
    assert "Traceback" not in output


def _push_one(bots: Bots) -> Burst:
    fake = bots.fake

    def push() -> Burst:
        learner = fake.make_user(_learners(1)[0], "Lee")
        message = fake.send_text(GROUPS[0], learner, "I know where you live")
        return Burst(abusive=[(GROUPS[0], message["message_id"])], texts=[message["text"]])

    return fake.run_threadsafe(push)


def _now() -> datetime:
    return datetime.now(UTC)


def test_at_debug_level_nothing_printed_holds_message_text_personal_data_or_the_token(bots: Bots) -> None:
    # An operator turns on DEBUG to chase a fault: python-telegram-bot, httpx and SQLAlchemy then
    # log whole updates, request bodies and SQL parameters unless classmod keeps them out.
    bots.start("debug", log_level="DEBUG")
    bots.wait_until(lambda: bots.fake.polls_waiting > 0, "debug to poll", bots.processes["debug"])
    burst = _push(bots, abusive=6, clean=2)
    bots.wait_until(lambda: _every_abusive_message_acted_on(bots, burst), "the burst to be acted on")
    assert bots.stop("debug") == 0

    output = bots.output("debug")
    assert "DEBUG" in output  # the level took effect for classmod's own records
    leaks = [text for text in burst.texts if text in output]
    leaks += re.findall(r"07700 ?900\d{3}|Learner \d+", output)
    token = bots.fake.token
    leaks += [part for part in (token, token.split(":")[-1]) if part in output]
    assert leaks == [], f"printed at DEBUG: {leaks[:5]}"
