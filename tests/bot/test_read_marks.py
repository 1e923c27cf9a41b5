"""Read marks: the mark of a chat never passes a message that might still be unread."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.read_marks import ReadMarks
from bot.store import Store

CHAT = "3001"


@pytest.fixture
def marks(tmp_path: Path) -> Iterator[ReadMarks]:
    store = Store.open(f"sqlite:///{tmp_path / 'marks.db'}")
    yield ReadMarks(store, "discord", clock=lambda: datetime(2025, 3, 14, tzinfo=UTC))
    store.close()


def _mark(marks: ReadMarks) -> str | None:
    return marks.store.read_mark("discord", CHAT)


async def test_a_chat_never_read_starts_where_it_is_told_and_is_read_on_from_its_mark(
    marks: ReadMarks,
) -> None:
    assert await marks.begin(CHAT, "100") == "100"
    await marks.read(CHAT, "105")
    assert await marks.begin(CHAT, "200") == "105"  # a later start does not skip what was missed


async def test_live_messages_move_the_mark_only_once_the_history_read_has_caught_up(marks: ReadMarks) -> None:
    await marks.begin(CHAT, "100")
    await marks.handled(CHAT, "150")  # live, while older messages may still be unread in the history
    assert _mark(marks) == "100"
    await marks.read(CHAT, "120")
    marks.caught_up(CHAT)
    await marks.handled(CHAT, "160")
    assert _mark(marks) == "160"


async def test_a_disconnection_during_the_read_leaves_the_chat_to_the_next_read(marks: ReadMarks) -> None:
    await marks.begin(CHAT, "100")
    marks.disconnected()
    marks.caught_up(CHAT)  # the read that began before the drop ends
    await marks.handled(CHAT, "150")
    assert _mark(marks) == "100"


async def test_a_message_that_could_not_be_handled_holds_the_mark_until_it_is_read_again(
    marks: ReadMarks,
) -> None:
    await marks.begin(CHAT, "100")
    marks.caught_up(CHAT)
    marks.failed(CHAT)  # say message 110: the database was down
    await marks.handled(CHAT, "120")
    await marks.read(CHAT, "130")
    assert _mark(marks) == "100"
    assert await marks.begin(CHAT, "100") == "100"  # the next read starts before it
    await marks.read(CHAT, "110")
    assert _mark(marks) == "110"


async def test_a_group_authorised_now_is_read_from_now(marks: ReadMarks) -> None:
    await marks.restart(CHAT, "500")
    await marks.handled(CHAT, "510")
    assert _mark(marks) == "510"
