"""The inbound journal's own bookkeeping: an update in it is queued once, however it arrives."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Bot, Update

from adapters.telegram.journal import UpdateJournal
from bot.store import Store


class _SlowStore(Store):
    """A real store whose journalling waits for a go-ahead, as a busy database does."""

    go = threading.Event()

    def journal_update(self, platform: str, update_id: int, payload: str, at: datetime) -> bool:
        self.go.wait(5)
        return super().journal_update(platform, update_id, payload, at)


class _Application:
    def __init__(self) -> None:
        self.update_queue: asyncio.Queue[object] = asyncio.Queue()


async def test_a_copy_arriving_while_the_replay_runs_is_queued_once(tmp_path: Path) -> None:
    store = _SlowStore(f"sqlite:///{tmp_path / 'journal.db'}")
    Store.open(f"sqlite:///{tmp_path / 'journal.db'}").close()  # the tables
    payload: dict[str, Any] = {
        "update_id": 41,
        "message": {"message_id": 7, "date": 0, "chat": {"id": 1001, "type": "private"}, "text": "/policy"},
    }
    store.go.set()
    store.journal_update("telegram", 41, json.dumps(payload), datetime.now(UTC))  # a killed process left it
    store.go.clear()
    bot = Bot("123456:TEST-TOKEN")
    journal = UpdateJournal(store, bot)
    application = _Application()

    # Telegram sends the update again; journalling it waits on the store while the replay runs.
    recording = asyncio.ensure_future(journal.record(Update.de_json(payload, bot)))
    await asyncio.sleep(0.1)
    replayed = await journal.replay(application)  # type: ignore[arg-type]
    store.go.set()
    queued_copy = await recording

    assert replayed + int(queued_copy) == 1
    store.close()
