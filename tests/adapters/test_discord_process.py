"""The real ``classmod run discord`` process against the fake Discord: stopped, killed and started again.

Each test starts the bot as a subprocess, with its settings in the environment (the fake's URLs as a
REST proxy and a self-hosted gateway), sends a burst of messages, stops the process (SIGTERM, as
``docker stop`` and systemd do) or kills it (SIGKILL, as the kernel's OOM killer does) mid-burst,
starts it again and checks that every abusive message was acted on, once. The fake runs as Discord
does: an event nobody was connected for is never sent again.

The kill test runs 3 times by default at random points (``CLASSMOD_TEST_KILL_SEED`` replays one) and
10 more times in the ``slow`` group (``make test-slow``).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.store import Store
from tests.fakes import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]
CLASS = 2_100_000_000_000_000_001
GENERAL = 2_100_000_000_000_000_010
STAFF = 2_100_000_000_000_000_002
MODS = 2_100_000_000_000_000_020
OFFICER_ROOM = 2_100_000_000_000_000_021
LEARNERS = [2_100_000_000_000_000_100 + index for index in range(10)]
NAMES = ["ann", "ben", "cat", "dev", "eli", "fay", "gus", "hal", "ivy", "jo"]

MESSAGES = "/channels/{channel_id}/messages"
COMMANDS = "/applications/{application_id}/commands"
START_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 60.0


def _abusive(index: int) -> str:
    """A threat (hidden, warned, carded at once) or personal data (hidden at once), by learner ``index``."""
    if index % 2:
        return f"I know where you live {NAMES[(index + 1) % len(NAMES)]}"
    return f"my number is 07700 900{index:03d}, text me"


CLEAN = ["see you on Tuesday", "thanks for the worksheet", "is the exam in Room 12?", "good morning all"]


@dataclass
class Deployment:
    """One site: the fake Discord, the store on disk, and the bot's environment."""

    fake: FakeDiscord
    home: Path
    store: Store
    env: dict[str, str]
    users: dict[int, dict[str, Any]]
    logs: list[Path] = field(default_factory=list)

    async def start(self) -> asyncio.subprocess.Process:
        """Start ``classmod run discord``; return once it has registered its commands and its read marks."""
        synced = len(self.fake.calls_to("PUT", COMMANDS))
        log = self.home / f"classmod-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from bot.cli import app; app()",
                "run",
                "discord",
                cwd=self.home,
                env=self.env,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            await self.until(
                lambda: (
                    len(self.fake.calls_to("PUT", COMMANDS)) > synced
                    and self.store.read_mark("discord", str(GENERAL)) is not None
                ),
                START_TIMEOUT_S,
                process,
            )
        except BaseException:
            process.kill()
            await process.wait()
            raise
        return process

    async def until(
        self, condition: Callable[[], bool], timeout: float, process: asyncio.subprocess.Process | None = None
    ) -> None:
        """Wait for ``condition``; fail with the bot's log if it does not come or the process ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if process is not None and process.returncode is not None:
                pytest.fail(f"classmod exited with {process.returncode}:\n{self.output()}")
            if loop.time() > deadline:
                pytest.fail(f"not within {timeout:.0f} s:\n{self.output()}")
            await asyncio.sleep(0.05)

    async def stop(self, process: asyncio.subprocess.Process) -> int:
        """SIGTERM, as ``docker stop`` sends; return the exit status."""
        process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            pytest.fail(f"classmod did not exit within {STOP_TIMEOUT_S:.0f} s of SIGTERM:\n{self.output()}")

    def send(self, index: int, text: str) -> int:
        return int(self.fake.send_message(GENERAL, self.users[LEARNERS[index]], text)["id"])

    def cases_by_message(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for case in self.store.cases(limit=1000):
            counts[case.message_id] = counts.get(case.message_id, 0) + 1
        return counts

    def cards(self) -> list[str]:
        return [
            message["embeds"][0]["title"]
            for message in self.fake.sent_messages(MODS)
            if message.get("embeds")
        ]

    def is_acted_on(self, message_id: int) -> bool:
        return str(message_id) in self.cases_by_message() and self.fake.is_deleted(GENERAL, message_id)

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-6000:]}" for log in self.logs)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with FakeDiscord(redirect=False, holds_missed_events=False) as fake:
        users = {user: fake.make_user(user, name) for user, name in zip(LEARNERS, NAMES, strict=True)}
        fake.add_guild(CLASS, "ESOL Entry 3", channels=[(GENERAL, "general")], members=list(users.values()))
        fake.add_guild(STAFF, "SCLS staff", channels=[(MODS, "moderators"), (OFFICER_ROOM, "safeguarding")])
        database_url = f"sqlite:///{tmp_path / 'classmod.db'}"
        store = Store.open(database_url)
        store.authorise_group(
            "discord", str(CLASS), title="ESOL Entry 3", authorised_by="test", at=datetime.now(UTC)
        )
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("CLASSMOD_") or name == "CLASSMOD_HEADS"
        }
        env.update(
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            CLASSMOD_DATABASE_URL=database_url,
            CLASSMOD_MODEL_DIR=str(tmp_path / "models"),  # none there: the fallback scorer, quick to load
            CLASSMOD_DISCORD_TOKEN=fake.token,
            CLASSMOD_DISCORD_API_URL=fake.base_url,
            CLASSMOD_DISCORD_GATEWAY_URL=fake.gateway_url,
            CLASSMOD_DISCORD_MODERATORS_CHANNEL=str(MODS),
            CLASSMOD_DISCORD_SAFEGUARDING_CHANNEL=str(OFFICER_ROOM),
            CLASSMOD_SHUTDOWN_GRACE_SECONDS="30",
            # Where the store holds a lease per platform, a process killed holds it until it expires.
            CLASSMOD_LEASE_SECONDS="2",
        )
        yield Deployment(fake, tmp_path, store, env, users)
        store.close()


def _assert_no_text_in_logs(site: Deployment, texts: list[str]) -> None:
    output = site.output()
    assert not [text for text in texts if text in output], "message text in the bot's log"


async def test_sigterm_finishes_the_messages_in_hand_and_the_restart_reads_the_rest(site: Deployment) -> None:
    first = await site.start()
    # Discord makes the bot wait before each of its next posts: reminders and cards are in flight.
    site.fake.rate_limit(times=6, retry_after=1.0, routes=[f"POST {MESSAGES}"])
    sent = [site.send(index, _abusive(index)) for index in range(5)]
    site.send(5, CLEAN[0])
    await site.until(lambda: bool(site.fake.calls_to("POST", MESSAGES, ok=False)), SETTLE_TIMEOUT_S, first)

    first.send_signal(signal.SIGTERM)
    sent += [site.send(index, _abusive(index)) for index in range(5, 10)]  # while it stops
    site.send(0, CLEAN[1])
    status = await asyncio.wait_for(first.wait(), STOP_TIMEOUT_S)

    assert status == 0, site.output()
    # What the stopped bot had taken on, it finished: each case it opened is hidden and carded.
    stored = site.store.cases(limit=100)
    assert stored, "the first run handled nothing"
    for case in stored:
        assert site.fake.is_deleted(GENERAL, int(case.message_id))
        assert any(title.startswith(f"Case #{case.id} ") for title in site.cards()), site.cards()
    assert site.store.unfinished_cases("discord", since=datetime(2000, 1, 1, tzinfo=UTC)) == []

    second = await site.start()
    await site.until(lambda: all(site.is_acted_on(message) for message in sent), SETTLE_TIMEOUT_S, second)
    assert await site.stop(second) == 0

    assert sorted(site.cases_by_message().values()) == [1] * len(sent)
    _assert_no_text_in_logs(site, [_abusive(index) for index in range(10)] + CLEAN)


KILL_RUNS = [pytest.param(0, id="run0")] + [
    pytest.param(run, id=f"slow-run{run}", marks=pytest.mark.slow) for run in range(1, 13)
]


@pytest.mark.parametrize("run", KILL_RUNS)
async def test_a_kill_at_a_random_point_loses_nothing_and_makes_no_second_case(
    site: Deployment, run: int
) -> None:
    seed = int(os.environ.get("CLASSMOD_TEST_KILL_SEED") or random.SystemRandom().randrange(2**32))
    where = f"run {run}, CLASSMOD_TEST_KILL_SEED={seed}"
    chance = random.Random(seed)
    first = await site.start()
    abusive: list[int] = []
    clean: list[int] = []
    order = [("abusive", index) for index in range(10)] + [("clean", index) for index in range(5)]
    chance.shuffle(order)
    calls_before = len(site.fake.calls)
    kill_after = chance.randrange(0, 45)  # the bot makes about 40 calls for this burst
    for kind, index in order:
        if kind == "abusive":
            abusive.append(site.send(index, _abusive(index)))
        else:
            clean.append(site.send(index, CLEAN[index % len(CLEAN)]))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT_S
    while len(site.fake.calls) - calls_before < kill_after and loop.time() < deadline:
        await asyncio.sleep(0.005)
    first.kill()
    await first.wait()

    second = await site.start()
    await site.until(lambda: all(site.is_acted_on(message) for message in abusive), SETTLE_TIMEOUT_S, second)
    await site.until(
        lambda: not site.store.unfinished_cases("discord", since=datetime(2000, 1, 1, tzinfo=UTC)),
        SETTLE_TIMEOUT_S,
        second,
    )
    assert await site.stop(second) == 0, where

    cases = site.cases_by_message()
    assert sorted(cases) == sorted(str(message) for message in abusive), where
    assert set(cases.values()) == {1}, f"a message got two cases ({where})"
    carded = [title.split("#", 1)[1].split(" ", 1)[0] for title in site.cards()]
    assert sorted(carded) == sorted(str(case.id) for case in site.store.cases(limit=100)), where  # once each
    deleted = [
        call.params["message_id"]
        for call in site.fake.calls_to("DELETE", "/channels/{channel_id}/messages/{message_id}", ok=True)
        if call.params["channel_id"] == GENERAL
    ]
    assert sorted(deleted) == sorted(abusive), f"each abusive message deleted once ({where})"
    for case in site.store.cases(limit=100):
        hides = [
            item for item in site.store.case_actions(case.id) if item.action == "hide" and item.actor == "bot"
        ]
        assert hides[-1].outcome == "ok", f"case {case.id}: {hides[-1]} ({where})"
    _assert_no_text_in_logs(site, [_abusive(index) for index in range(10)] + CLEAN)
