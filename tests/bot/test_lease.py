"""One bot process per platform: the lease in the store, and a standby process that takes over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.lease import Lease
from bot.store import Store
from tests.bot.conftest import Backend
from tests.factories import NOW
from tests.fakes.telegram_api import FakeBotAPI
from tests.fakes.threaded import served_in_thread

ROOT = Path(__file__).resolve().parents[2]


def test_a_lease_has_one_holder_until_it_expires_or_is_given_up(store: Store) -> None:
    later = NOW + timedelta(seconds=10)

    assert store.take_lease("telegram", "a", now=NOW, until=later) is True
    assert store.take_lease("telegram", "b", now=NOW, until=later) is False
    assert store.take_lease("discord", "b", now=NOW, until=later) is True  # another platform's lease
    assert store.take_lease("telegram", "a", now=NOW + timedelta(seconds=5), until=later) is True  # renewed
    assert (
        store.take_lease(
            "telegram", "b", now=later + timedelta(seconds=1), until=later + timedelta(seconds=10)
        )
        is True
    )
    assert store.take_lease("telegram", "a", now=later + timedelta(seconds=2), until=later) is False
    store.release_lease("telegram", "a")  # not a's any more: nothing happens
    assert store.take_lease("telegram", "a", now=later + timedelta(seconds=2), until=later) is False
    store.release_lease("telegram", "b")
    assert store.take_lease("telegram", "a", now=later + timedelta(seconds=2), until=later) is True


def test_of_two_processes_racing_for_a_lease_exactly_one_wins(backend: Backend) -> None:
    stores = [backend.open() for _ in range(8)]
    start = threading.Barrier(len(stores))
    won: list[bool] = [False] * len(stores)

    def race(index: int) -> None:
        start.wait()
        won[index] = stores[index].take_lease(
            "telegram", f"p{index}", now=NOW, until=NOW + timedelta(seconds=9)
        )

    threads = [threading.Thread(target=race, args=(index,)) for index in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(won) == 1


def test_a_standby_takes_over_when_the_holder_gives_up(store: Store) -> None:
    first = Lease(store, "telegram", seconds=30)
    second = Lease(store, "telegram", seconds=30)
    first.wait()
    took = threading.Event()

    def standby() -> None:
        second.wait(poll=0.05)
        took.set()

    waiting = threading.Thread(target=standby, daemon=True)
    with first.held():
        waiting.start()
        assert not took.wait(0.5)  # held: the standby waits
    assert took.wait(5)  # given up: taken at once, not after 30 s


def test_a_holder_whose_lease_was_taken_stops_itself(store: Store) -> None:
    lost = threading.Event()
    stalled = Lease(store, "discord", seconds=0.3, on_lost=lost.set)
    stalled.wait()
    time.sleep(0.4)  # it stalled past its lease
    other = Lease(store, "discord", seconds=30)
    other.wait(poll=0.05)
    with stalled.held():
        assert lost.wait(2)


# --- two real `classmod run telegram` processes -------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeBotAPI]:
    with served_in_thread(FakeBotAPI()) as fake:
        fake.add_group(-1001, "ESOL Entry 3")
        yield fake


@contextmanager
def _running(tmp_path: Path, fake: FakeBotAPI, name: str) -> Iterator[subprocess.Popen[str]]:
    """``classmod run telegram`` in its own process, its log in ``name.log``; killed after."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CLASSMOD_") or key == "CLASSMOD_HEADS"
    }
    environment |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "CLASSMOD_DATABASE_URL": f"sqlite:///{tmp_path / 'classmod.db'}",
        "CLASSMOD_MODEL_DIR": str(tmp_path / "models"),
        "CLASSMOD_TELEGRAM_TOKEN": fake.token,
        "CLASSMOD_TELEGRAM_API_URL": fake.base_url,
        "CLASSMOD_LEASE_SECONDS": "2",
    }
    with (tmp_path / f"{name}.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from bot.cli import app; sys.exit(app())", "run", "telegram"],
            env=environment,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(30)


def _wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_a_second_process_waits_as_a_standby_and_takes_over_when_the_first_dies(
    tmp_path: Path, telegram: FakeBotAPI
) -> None:
    def log(name: str) -> str:
        return (tmp_path / f"{name}.log").read_text()

    with _running(tmp_path, telegram, "first") as first:
        assert _wait_for(lambda: telegram.calls_to("getUpdates"), 60), log("first")
        with _running(tmp_path, telegram, "second"):
            assert _wait_for(lambda: "hot standby" in log("second"), 60), log("second")
            connected = len(telegram.calls_to("getMe"))
            time.sleep(1.5)
            assert len(telegram.calls_to("getMe")) == connected  # the standby does not even connect
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert _wait_for(lambda: "took over" in log("second"), 15), log("second")
            assert _wait_for(lambda: len(telegram.calls_to("getMe")) > connected, 30), log("second")
