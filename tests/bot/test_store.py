"""The case store, on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.errors import StorageError
from bot.store import CaseRecord, Store
from bot.store import cases as cases_module
from moderation.types import (
    Action,
    ActionKind,
    Author,
    Category,
    ChatMessage,
    Decision,
    Evidence,
    Role,
    Route,
    Strike,
)
from moderation.verdicts import is_officers_only

if TYPE_CHECKING:
    from tests.bot.conftest import Backend

NOW = datetime(2025, 3, 14, 9, 30, 15, 123456, tzinfo=UTC)
PURGED_PHRASE = "Zebra marmalade 7741: my address is 12 Quince Lane, QX9 9ZZ, ring 07700 900456 after six"


def _message(text: str = "you are useless, ring me on 07700 900123", **overrides: Any) -> ChatMessage:
    values: dict[str, Any] = {
        "platform": "telegram",
        "chat_id": "-100200",
        "message_id": "501",
        "author": Author(id="u-42", display_name="Sam Learner", role=Role.LEARNER),
        "text": text,
        "sent_at": NOW,
    }
    values.update(overrides)
    return ChatMessage(**values)


def _decision(**overrides: Any) -> Decision:
    values: dict[str, Any] = {
        "scores": {Category.CIVILITY: 0.91, Category.PERSONAL_DATA: 1.0, Category.HARASSMENT: 0.2},
        "flagged": (Category.PERSONAL_DATA, Category.CIVILITY),
        "evidence": (
            Evidence(Category.PERSONAL_DATA, kind="phone", source="personal_data", start=27, end=40),
            Evidence(Category.CIVILITY, kind="toxicity", source="detoxify", score=0.91),
        ),
        "clauses": ("4.2", "6.1"),
        "actions": (
            Action(ActionKind.HIDE),
            Action(ActionKind.REMIND),
            Action(ActionKind.ESCALATE, Route.MODERATORS),
        ),
        "reminder": "Please keep phone numbers out of the group (clause 6.1).",
        "explanation": "personal_data: phone; civility: toxicity 0.91",
        "scorer": "detoxify:unbiased-small",
    }
    values.update(overrides)
    return Decision(**values)


def _case(store: Store, message_id: str = "501", at: datetime = NOW, **overrides: Any) -> CaseRecord:
    return store.record_case(_message(message_id=message_id, **overrides), _decision(), at)


# -- cases --------------------------------------------------------------------------------------


def test_case_round_trip_keeps_every_field(store: Store) -> None:
    message = _message(
        revision=3, is_edit=True, author=Author(id="t-7", display_name="Alex Tutor", role=Role.TUTOR)
    )
    decision = _decision()
    created_at = datetime(2025, 3, 14, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))

    case = store.record_case(message, decision, created_at)

    assert case.id > 0
    assert (case.platform, case.chat_id, case.message_id, case.revision) == ("telegram", "-100200", "501", 3)
    assert (case.author_id, case.author_name, case.author_role) == ("t-7", "Alex Tutor", Role.TUTOR)
    assert case.text == message.text
    assert case.is_edit is True
    assert case.created_at == NOW
    assert case.scores == {"civility": 0.91, "personal_data": 1.0, "harassment": 0.2}
    assert case.flagged == (Category.PERSONAL_DATA, Category.CIVILITY)
    assert case.clauses == ("4.2", "6.1")
    assert case.evidence == decision.evidence
    assert case.actions == decision.actions
    assert case.top_action is ActionKind.ESCALATE
    assert case.route is Route.MODERATORS
    assert case.reminder == decision.reminder
    assert case.explanation == decision.explanation
    assert case.scorer == "detoxify:unbiased-small"
    assert (case.status, case.is_open, case.closed_by, case.closed_at, case.purged_at) == (
        "open",
        True,
        None,
        None,
        None,
    )

    stored = store.get_case(case.id)
    assert stored == case
    assert stored is not None
    assert stored.created_at.tzinfo is UTC
    assert isinstance(stored.author_role, Role)
    assert all(isinstance(category, Category) for category in stored.flagged)


def test_case_without_route_or_reminder_round_trips(store: Store) -> None:
    decision = _decision(
        actions=(Action(ActionKind.REMIND),), reminder=None, evidence=(), flagged=(Category.CIVILITY,)
    )

    case = store.record_case(_message(), decision, NOW)

    assert store.get_case(case.id) == case
    assert (case.route, case.reminder, case.top_action, case.evidence) == (None, None, ActionKind.REMIND, ())


def test_get_case_of_unknown_id_is_none(store: Store) -> None:
    assert store.get_case(9999) is None


def test_record_case_refuses_an_unflagged_decision(store: Store) -> None:
    with pytest.raises(ValueError, match="flagged"):
        store.record_case(_message(), _decision(actions=(), flagged=()), NOW)
    assert store.counts()["cases"] == 0


def test_record_case_is_idempotent_per_message_revision(store: Store) -> None:
    first = _case(store)
    again = store.record_case(
        _message(text="different text"), _decision(explanation="other"), NOW + timedelta(1)
    )
    edit = _case(store, revision=1, is_edit=True)

    assert again == first
    assert edit.id != first.id
    assert store.counts()["cases"] == 2


def test_record_case_is_committed_before_it_returns(backend: Backend) -> None:
    writer, reader = backend.open(), backend.open()

    case = _case(writer)

    assert reader.get_case(case.id) == case


def test_cases_are_listed_newest_first(store: Store) -> None:
    old = _case(store, "1", at=NOW - timedelta(hours=2))
    new = _case(store, "2", at=NOW)
    other = _case(store, "3", at=NOW - timedelta(hours=1), author=Author("u-9", "Kim", Role.LEARNER))

    assert [case.id for case in store.cases()] == [new.id, other.id, old.id]
    assert [case.id for case in store.cases(limit=2)] == [new.id, other.id]
    assert [case.id for case in store.cases_for_author("telegram", "u-42")] == [new.id, old.id]
    assert store.cases_for_author("discord", "u-42") == []


def test_close_case_acts_once(store: Store) -> None:
    case = _case(store)

    closed = store.close_case(case.id, "upheld", actor="mod-1", at=NOW + timedelta(minutes=5))
    pressed_again = store.close_case(case.id, "restored", actor="mod-2", at=NOW + timedelta(minutes=6))

    assert (closed.status, closed.closed_by, closed.closed_at, closed.is_open) == (
        "upheld",
        "mod-1",
        NOW + timedelta(minutes=5),
        False,
    )
    assert pressed_again == closed
    assert store.get_case(case.id) == closed
    assert store.open_cases() == []
    assert [found.id for found in store.cases(status="upheld")] == [case.id]


@pytest.mark.parametrize("status", ["open", "deleted"])
def test_close_case_refuses_a_status_that_does_not_close(store: Store, status: str) -> None:
    case = _case(store)
    with pytest.raises(ValueError, match="cannot close"):
        store.close_case(case.id, status, actor="mod-1", at=NOW)


def test_close_case_of_unknown_id_raises(store: Store) -> None:
    with pytest.raises(ValueError, match="no case 404"):
        store.close_case(404, "closed", actor="mod-1", at=NOW)


# -- idempotency --------------------------------------------------------------------------------


def test_mark_seen_is_true_only_the_first_time(store: Store) -> None:
    assert store.mark_seen("telegram", "-100200", "501", 0, NOW) is True
    assert store.mark_seen("telegram", "-100200", "501", 0, NOW) is False
    assert store.mark_seen("telegram", "-100200", "501", 1, NOW) is True
    assert store.mark_seen("telegram", "-100999", "501", 0, NOW) is True
    assert store.mark_seen("discord", "-100200", "501", 0, NOW) is True


def test_mark_seen_is_race_safe(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    results: list[bool] = []
    barrier = threading.Barrier(len(stores))

    def handle(store: Store) -> None:
        barrier.wait()
        results.append(store.mark_seen("telegram", "-100200", "777", 0, NOW))

    threads = [threading.Thread(target=handle, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]


# -- read marks: where the bot has read up to in each chat -------------------------------------


def test_a_chat_s_read_mark_starts_once_and_only_moves_forward(store: Store) -> None:
    assert store.read_mark("discord", "3001") is None
    assert store.start_read_mark("discord", "3001", "1000", NOW) == "1000"
    assert store.start_read_mark("discord", "3001", "5", NOW) == "1000"  # a start never moves it back

    assert store.advance_read_mark("discord", "3001", "999", NOW) is False
    assert store.advance_read_mark("discord", "3001", "1001", NOW) is True
    assert store.advance_read_mark("discord", "3001", "10000", NOW) is True  # compared as numbers
    assert store.advance_read_mark("discord", "3001", "9999", NOW) is False
    assert store.read_mark("discord", "3001") == "10000"

    assert store.advance_read_mark("discord", "3002", "7", NOW) is True  # no mark yet: it starts there
    assert store.read_mark("discord", "3002") == "7"
    assert store.read_mark("telegram", "3001") is None


def test_a_read_mark_holds_ids_only(store: Store) -> None:
    with pytest.raises(ValueError, match="message id"):
        store.advance_read_mark("discord", "3001", "hello there", NOW)
    with pytest.raises(ValueError, match="message id"):
        store.start_read_mark("discord", "3001", "0123", NOW)


def test_read_marks_are_race_safe(backend: Backend) -> None:
    stores = [backend.open() for _ in range(4)]
    barrier = threading.Barrier(len(stores))

    def advance(store: Store, first: int) -> None:
        barrier.wait()
        for message_id in range(first, 400, len(stores)):
            store.advance_read_mark("discord", "3001", str(1_000 + message_id), NOW)

    threads = [threading.Thread(target=advance, args=(store, index)) for index, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert stores[0].read_mark("discord", "3001") == "1399"


# -- the action log and appeals ----------------------------------------------------------------


def test_action_log_keeps_every_attempt_in_order(store: Store) -> None:
    case = _case(store)

    hidden = store.record_action(case.id, "hide", "ok", at=NOW)
    store.record_action(case.id, "remind", "failed", detail="Forbidden: bot was blocked by the user", at=NOW)
    store.record_action(case.id, "uphold", "ok", actor="mod-1", at=NOW + timedelta(minutes=3))

    log = store.case_actions(case.id)
    assert [(entry.action, entry.outcome, entry.actor) for entry in log] == [
        ("hide", "ok", "bot"),
        ("remind", "failed", "bot"),
        ("uphold", "ok", "mod-1"),
    ]
    assert log[0] == hidden
    assert log[1].detail == "Forbidden: bot was blocked by the user"
    assert log[2].at == NOW + timedelta(minutes=3)
    assert log[2].at.tzinfo is UTC
    assert store.case_actions(case.id + 1) == []


def test_action_log_refuses_an_unknown_outcome_or_case(store: Store) -> None:
    case = _case(store)
    with pytest.raises(ValueError, match="outcome"):
        store.record_action(case.id, "hide", "maybe", at=NOW)
    with pytest.raises(ValueError, match="no case"):
        store.record_action(case.id + 100, "hide", "ok", at=NOW)


def test_appeals_are_recorded_against_their_case(store: Store) -> None:
    case = _case(store)

    appeal = store.add_appeal(case.id, "u-42", "I was only sharing my own number", NOW)

    assert (appeal.case_id, appeal.author_id, appeal.status, appeal.at) == (case.id, "u-42", "open", NOW)
    assert store.appeals(case.id) == [appeal]
    with pytest.raises(ValueError, match="no case"):
        store.add_appeal(case.id + 100, "u-42", None, NOW)


def test_one_appeal_per_case_is_open_at_a_time(store: Store) -> None:
    case = _case(store)
    first = store.add_appeal(case.id, "u-42", "I was quoting the book", NOW)
    assert first is not None

    assert store.add_appeal(case.id, "u-42", "again", NOW) is None
    assert store.open_appeal(case.id) == first
    assert store.decide_appeal(first.id, "denied", actor="mod-1", at=NOW) is True
    assert store.decide_appeal(first.id, "granted", actor="mod-2", at=NOW) is False  # a double tap acts once

    assert store.open_appeal(case.id) is None
    assert [appeal.status for appeal in store.appeals(case.id)] == ["denied"]
    assert [(item.action, item.actor) for item in store.case_actions(case.id)] == [("appeal-denied", "mod-1")]
    second = store.add_appeal(case.id, "u-42", "new evidence", NOW)
    assert second is not None and store.latest_appeals([case.id]) == {case.id: second}


def test_an_overturned_case_lifts_its_strike_and_its_breach(store: Store) -> None:
    kept, restored = _case(store, "501"), _case(store, "502")
    for case in (kept, restored):
        store.add_strike("telegram", "u-42", Strike(Category.HARASSMENT, "4.2", NOW), case.id)

    store.overturn_case(restored.id, actor="mod-1", at=NOW)

    history = store.author_history("telegram", "u-42", now=NOW, strike_lifetime=timedelta(days=30))
    assert len(history.strikes) == 1
    assert len(history.breaches) == len(kept.flagged) > 0
    assert store.get_case(restored.id).status == "restored"  # type: ignore[union-attr]


# -- authors ------------------------------------------------------------------------------------


def test_strikes_decay_after_their_lifetime(store: Store) -> None:
    case = _case(store)
    store.add_strike("telegram", "u-42", Strike(Category.CIVILITY, "4.2", NOW - timedelta(days=40)), case.id)
    store.add_strike("telegram", "u-42", Strike(Category.HARASSMENT, "5.1", NOW - timedelta(days=2)), None)
    later = _case(store, "502")
    store.add_strike("telegram", "u-42", Strike(Category.CIVILITY, "4.2", NOW - timedelta(days=9)), later.id)
    store.add_strike("telegram", "u-other", Strike(Category.CIVILITY, "4.2", NOW), None)
    store.add_strike("discord", "u-42", Strike(Category.CIVILITY, "4.2", NOW), None)

    history = store.author_history("telegram", "u-42", now=NOW, strike_lifetime=timedelta(days=30))

    assert history.strikes == (
        Strike(Category.CIVILITY, "4.2", NOW - timedelta(days=9)),
        Strike(Category.HARASSMENT, "5.1", NOW - timedelta(days=2)),
    )
    assert history.has_photo_consent is False
    assert store.counts()["strikes"] == 5
    with pytest.raises(ValueError, match="no case"):
        store.add_strike("telegram", "u-42", Strike(Category.CIVILITY, "4.2", NOW), case.id + 100)


def test_photo_consent_can_be_given_revoked_and_given_again(store: Store) -> None:
    assert store.has_consent("telegram", "u-42") is False

    assert store.add_consent("telegram", "u-42", recorded_by="tutor-1", at=NOW) is True
    assert store.add_consent("telegram", "u-42", recorded_by="tutor-1", at=NOW) is False
    assert store.has_consent("telegram", "u-42") is True
    assert store.has_consent("discord", "u-42") is False
    assert store.author_history(
        "telegram", "u-42", now=NOW, strike_lifetime=timedelta(days=30)
    ).has_photo_consent
    assert store.counts()["consents"] == 1

    assert store.revoke_consent("telegram", "u-42", at=NOW + timedelta(days=1)) is True
    assert store.revoke_consent("telegram", "u-42", at=NOW + timedelta(days=1)) is False
    assert store.has_consent("telegram", "u-42") is False
    assert store.counts()["consents"] == 0

    assert store.add_consent("telegram", "u-42", recorded_by="tutor-2", at=NOW + timedelta(days=2)) is True
    assert store.has_consent("telegram", "u-42") is True


def test_people_keep_their_latest_role(store: Store) -> None:
    assert store.role_of("telegram", "u-42") is None

    store.upsert_person("telegram", "u-42", "Sam", Role.LEARNER)
    store.upsert_person("telegram", "u-42", "Sam T.", Role.TUTOR)

    assert store.role_of("telegram", "u-42") is Role.TUTOR
    assert store.role_of("discord", "u-42") is None


# -- groups -------------------------------------------------------------------------------------


def test_groups_are_moderated_only_once_authorised(store: Store) -> None:
    assert store.is_authorised("telegram", "-100200") is False

    noted = store.record_group("telegram", "-100200", title="ESOL Tuesday", at=NOW)
    assert (noted.is_authorised, noted.added_at, noted.authorised_by) == (False, NOW, None)
    assert store.is_authorised("telegram", "-100200") is False

    later = NOW + timedelta(hours=1)
    authorised = store.authorise_group(
        "telegram", "-100200", title="ESOL Tue", authorised_by="mod-1", at=later
    )
    assert authorised == replace(
        noted, title="ESOL Tue", is_authorised=True, authorised_by="mod-1", authorised_at=later
    )
    assert store.is_authorised("telegram", "-100200") is True
    assert store.is_authorised("discord", "-100200") is False

    direct = store.authorise_group("discord", "9001", title="Maths", authorised_by="mod-2", at=NOW)
    assert direct.added_at == NOW
    assert store.groups() == [direct, authorised]
    assert (store.counts()["groups"], store.counts()["authorised_groups"]) == (2, 2)

    assert store.revoke_group("telegram", "-100200") is True
    assert store.revoke_group("telegram", "-100200") is False
    assert store.is_authorised("telegram", "-100200") is False
    assert store.record_group("telegram", "-100200", title="ESOL", at=later).is_authorised is False
    assert (store.counts()["groups"], store.counts()["authorised_groups"]) == (2, 1)


# -- retention ----------------------------------------------------------------------------------


def test_purge_erases_old_text_and_keeps_the_audit_trail(store: Store) -> None:
    old = _case(store, "1", at=NOW - timedelta(days=100), text=PURGED_PHRASE)
    new = _case(store, "2", at=NOW - timedelta(days=10))
    store.record_action(old.id, "hide", "ok", at=old.created_at)
    store.close_case(old.id, "upheld", actor="mod-1", at=old.created_at + timedelta(hours=1))
    store.add_appeal(old.id, "u-42", "it was my own number", old.created_at + timedelta(days=1))
    store.mark_seen("telegram", "-100200", "1", 0, NOW - timedelta(days=100))
    store.mark_seen("telegram", "-100200", "2", 0, NOW - timedelta(days=10))

    assert store.purge(older_than=timedelta(days=90), now=NOW) == 1

    purged = store.get_case(old.id)
    assert purged is not None
    assert (purged.text, purged.reminder, purged.purged_at) == (None, None, NOW)
    assert [(item.category, item.kind, item.start, item.end) for item in purged.evidence] == [
        (Category.PERSONAL_DATA, "phone", None, None),
        (Category.CIVILITY, "toxicity", None, None),
    ]
    assert replace(
        purged, text=old.text, reminder=old.reminder, evidence=old.evidence, purged_at=None
    ) == replace(old, status="upheld", closed_by="mod-1", closed_at=old.created_at + timedelta(hours=1))
    assert [entry.action for entry in store.case_actions(old.id)] == ["hide"]
    assert [appeal.reason for appeal in store.appeals(old.id)] == [None]
    assert store.get_case(new.id) == new
    assert store.mark_seen("telegram", "-100200", "1", 0, NOW) is True, "old ids are forgotten"
    assert store.mark_seen("telegram", "-100200", "2", 0, NOW) is False, "recent ids are kept"

    counts = store.counts()
    assert (counts["cases"], counts["purged_cases"], counts["cases_upheld"], counts["cases_open"]) == (
        2,
        1,
        1,
        1,
    )
    assert store.purge(older_than=timedelta(days=90), now=NOW) == 0


def test_reviewed_cases_are_those_a_person_decided_whose_text_is_kept(store: Store) -> None:
    restored = _case(store, "1", at=NOW - timedelta(days=3))
    upheld = _case(store, "2", at=NOW - timedelta(days=2))
    _case(store, "3", at=NOW - timedelta(days=1))  # still open
    settled_by_bot = _case(store, "4", at=NOW)
    purged = _case(store, "5", at=NOW - timedelta(days=100), text=PURGED_PHRASE)
    store.close_case(upheld.id, "upheld", actor="mod-1", at=NOW)
    store.close_case(restored.id, "restored", actor="mod-1", at=NOW)
    store.close_case(settled_by_bot.id, "closed", actor="bot", at=NOW)
    store.close_case(purged.id, "warned", actor="mod-1", at=NOW)
    assert [case.id for case in store.reviewed_cases()] == [purged.id, restored.id, upheld.id]

    store.purge(older_than=timedelta(days=90), now=NOW)

    reviewed = store.reviewed_cases()
    assert [(case.id, case.status) for case in reviewed] == [(restored.id, "restored"), (upheld.id, "upheld")]
    assert all(case.text for case in reviewed), "a purged case is never returned"


def test_purged_text_leaves_no_trace_in_the_sqlite_file(tmp_path: Path) -> None:
    # The store sets PRAGMA secure_delete=ON (freed cell space is zeroed; without it fragments of
    # the phrase stay in the page) and checkpoints the WAL with TRUNCATE after a purge, so no VACUUM
    # is needed. Every 8-byte window of the phrase is checked, not only the whole phrase.
    path = tmp_path / "classmod.db"
    with Store.open(f"sqlite:///{path}") as store:
        old = _case(store, "1", at=NOW - timedelta(days=100), text=PURGED_PHRASE)
        _case(store, "2", at=NOW, text="recent and kept")
        assert PURGED_PHRASE.encode() in _sqlite_bytes(path), "the phrase should be on disk before the purge"

        assert store.purge(older_than=timedelta(days=90), now=NOW) == 1

        assert _fragments_left(PURGED_PHRASE, _sqlite_bytes(path)) == []
        assert b"recent and kept" in _sqlite_bytes(path)
        assert store.get_case(old.id) is not None


def _sqlite_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def _fragments_left(phrase: str, data: bytes, width: int = 8) -> list[bytes]:
    encoded = phrase.encode()
    return [encoded[i : i + width] for i in range(len(encoded) - width + 1) if encoded[i : i + width] in data]


# -- errors -------------------------------------------------------------------------------------


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.mark_seen("telegram", "-100200", "1", 0, datetime(2025, 3, 14, 9, 30))


def test_unreachable_postgres_raises_storage_error_naming_the_masked_url() -> None:
    url = "postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none?connect_timeout=2"

    with pytest.raises(StorageError) as caught:
        Store.open(url)

    message = str(caught.value)
    assert "postgresql+psycopg://postgres:***@127.0.0.1:1/none" in message
    assert "s3cret" not in message
    assert "could not upgrade the database schema" in message
    assert "CLASSMOD_DATABASE_URL" in message
    assert isinstance(caught.value.__cause__, SQLAlchemyError)


def test_a_database_that_dies_later_raises_storage_error() -> None:
    store = Store("postgresql+psycopg://postgres:s3cret@127.0.0.1:1/none?connect_timeout=2")
    try:
        with pytest.raises(StorageError, match=r"could not record a handled message at .*:\*\*\*@"):
            store.mark_seen("telegram", "-100200", "1", 0, NOW)
        with pytest.raises(StorageError, match="could not record a case"):
            _case(store)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql://classmod:s3cret@localhost/db", "mysql://classmod:***@localhost/db"),
        (
            "postgresql+asyncpg://classmod:s3cret@localhost/db",
            "postgresql+asyncpg://classmod:***@localhost/db",
        ),
        ("no-such-database://classmod:s3cret@localhost/db", "no-such-database://classmod:***@localhost/db"),
    ],
)
def test_a_database_without_a_driver_raises_storage_error_with_the_fix(url: str, shown: str) -> None:
    with pytest.raises(StorageError) as caught:
        Store.open(url)

    message = str(caught.value)
    assert f"cannot use the database at {shown}" in message
    assert "s3cret" not in message
    assert "postgresql+psycopg://" in message and "sqlite:///" in message
    assert "CLASSMOD_DATABASE_URL" in message


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_unwritable_sqlite_path_raises_storage_error(tmp_path: Path, where: str) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    url = f"sqlite:///{blocker}/classmod.db" if where == "under a file" else f"sqlite:///{tmp_path}"

    with pytest.raises(StorageError) as caught:
        Store.open(url)

    assert f"could not upgrade the database schema at {url}: " in str(caught.value)
    assert "CLASSMOD_DATABASE_URL" in str(caught.value)


def test_url_for_display_masks_the_password() -> None:
    store = Store("postgresql+psycopg://classmod:hunter2@db.internal:5432/classmod")
    try:
        assert store.url_for_display == "postgresql+psycopg://classmod:***@db.internal:5432/classmod"
    finally:
        store.close()


def test_unfinished_cases_are_those_never_marked_handled(store: Store) -> None:
    finished = _case(store, "1", at=NOW - timedelta(hours=2))
    store.mark_seen("telegram", "-100200", finished.message_id, 0, NOW - timedelta(hours=2))
    cut_short = _case(store, "2", at=NOW - timedelta(hours=1))
    edit_cut_short = store.record_case(_message(message_id="1", revision=3), _decision(), NOW)
    older = _case(store, "3", at=NOW - timedelta(days=5))
    store.record_case(_message(message_id="4", platform="discord"), _decision(), NOW)  # another platform
    _case(store, "5", at=NOW - timedelta(days=100))
    assert store.purge(older_than=timedelta(days=90), now=NOW) == 1  # "5": no text left to act on

    recent = store.unfinished_cases("telegram", since=NOW - timedelta(days=2))
    assert [case.id for case in recent] == [cut_short.id, edit_cut_short.id]  # in the order stored
    everything = store.unfinished_cases("telegram", since=NOW - timedelta(days=200))
    assert [case.id for case in everything] == [cut_short.id, edit_cut_short.id, older.id]
    assert store.unfinished_cases(
        "telegram", since=NOW - timedelta(days=200), after_id=edit_cut_short.id, limit=1
    ) == [older]


def test_a_case_earns_one_strike_however_often_it_is_recorded(store: Store) -> None:
    case = _case(store)
    strike = Strike(Category.HARASSMENT, "4.2", NOW)
    store.add_strike("telegram", "u-42", strike, case.id)
    store.add_strike("telegram", "u-42", strike, case.id)  # delivered again, or finished by a restart
    store.add_strike("telegram", "u-42", strike, None)  # not from a case: counts
    history = store.author_history("telegram", "u-42", now=NOW, strike_lifetime=timedelta(days=30))
    assert len(history.strikes) == 2


def test_two_writers_recording_the_same_cases_strikes_at_once_record_one_each(backend: Backend) -> None:
    cases = [_case(backend.open(), message_id=str(600 + number)) for number in range(64)]
    stores = [backend.open() for _ in range(2)]
    barrier = threading.Barrier(len(stores))
    failures: list[BaseException] = []

    def record(store: Store) -> None:
        try:
            for case in cases:
                barrier.wait(timeout=30)
                store.add_strike("telegram", "u-42", Strike(Category.HARASSMENT, "4.2", NOW), case.id)
        except BaseException as exc:
            failures.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=record, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert stores[0].counts()["strikes"] == len(cases)


def test_the_database_refuses_a_second_strike_for_a_case_and_allows_many_without_one(
    backend: Backend,
) -> None:
    store = backend.open()
    case = _case(store)
    store.add_strike("telegram", "u-42", Strike(Category.HARASSMENT, "4.2", NOW), case.id)
    engine = sa.create_engine(backend.url, connect_args=backend.connect_args, poolclass=NullPool)
    insert = sa.text(
        "INSERT INTO classmod_strikes (platform, author_id, category, clause_id, case_id, at) "
        "VALUES ('telegram', 'u-42', 'harassment', '4.2', :case_id, :at)"
    )
    try:
        with engine.begin() as connection:
            for _ in range(2):
                connection.execute(insert, {"case_id": None, "at": NOW.replace(tzinfo=None)})
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"case_id": case.id, "at": NOW.replace(tzinfo=None)})
    finally:
        engine.dispose()
    assert store.counts()["strikes"] == 3


# -- inbound journal ----------------------------------------------------------------------------

JOURNALLED_PHRASE = "Quokka lanterns 5512: my flat is 9 Medlar Row, ring 07700 900789 after tea"


def _update_json(update_id: int, text: str = "see you at 10:30") -> str:
    return json.dumps({"update_id": update_id, "message": {"message_id": update_id, "text": text}})


def test_journal_holds_each_update_once_in_id_order_until_forgotten(store: Store) -> None:
    for update_id in (103, 101, 102):
        assert store.journal_update("telegram", update_id, _update_json(update_id), NOW) is True
    later = NOW + timedelta(seconds=5)
    assert store.journal_update("telegram", 101, _update_json(101, "delivered again"), later) is False
    store.journal_update("discord", 101, _update_json(101), NOW)  # another platform's ids are its own

    pending = store.journalled_updates("telegram")

    assert [update.update_id for update in pending] == [101, 102, 103]
    assert pending[0].payload == _update_json(101)  # the first copy is kept
    assert pending[0].received_at == NOW and pending[0].received_at.tzinfo is UTC
    store.forget_update("telegram", 102)
    store.forget_update("telegram", 102)  # forgetting twice (or an id never journalled) is harmless
    assert [update.update_id for update in store.journalled_updates("telegram")] == [101, 103]
    assert [update.update_id for update in store.journalled_updates("discord")] == [101]


def test_a_journalled_update_survives_a_restart(backend: Backend) -> None:
    backend.open().journal_update("telegram", 7, _update_json(7), NOW)  # committed before it returns
    assert [update.update_id for update in backend.open().journalled_updates("telegram")] == [7]


def test_journal_refuses_naive_datetimes(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.journal_update("telegram", 1, _update_json(1), datetime(2025, 3, 14, 9, 30))


def test_a_forgotten_update_leaves_no_trace_in_the_sqlite_file(tmp_path: Path) -> None:
    # The journal holds every message's text, flagged or not, for the seconds it takes to handle it.
    path = tmp_path / "classmod.db"
    with Store.open(f"sqlite:///{path}") as store:
        store.journal_update("telegram", 1, _update_json(1, JOURNALLED_PHRASE), NOW)
        store.journal_update("telegram", 2, _update_json(2, "still being handled"), NOW)
        assert JOURNALLED_PHRASE.encode() in _sqlite_bytes(path), "the phrase should be on disk at first"

        store.forget_update("telegram", 1)
        store.forget_update("telegram", 2)

        assert _fragments_left(JOURNALLED_PHRASE, _sqlite_bytes(path)) == []
        assert _fragments_left("still being handled", _sqlite_bytes(path)) == []


def test_a_case_referred_on_stays_the_officers_even_after_a_granted_appeal(store: Store) -> None:
    case = _case(store)
    assert not is_officers_only(case.flagged, case.route, case.status)

    assert store.reroute_case(case.id, from_route=case.route, to_route=Route.SAFEGUARDING)
    assert not store.reroute_case(case.id, from_route=case.route, to_route=Route.SAFEGUARDING)  # once
    referred = store.get_case(case.id)
    assert referred is not None and referred.is_open and referred.route is Route.SAFEGUARDING
    store.overturn_case(case.id, actor="mod-2", at=NOW)

    after = store.get_case(case.id)
    assert after is not None and after.status == "restored" and after.route is Route.SAFEGUARDING
    assert is_officers_only(after.flagged, after.route, after.status)


def test_response_times_count_from_the_message_to_an_officers_first_answer(store: Store) -> None:
    from datetime import timedelta

    from moderation.types import Urgency
    from moderation.verdicts import Verb

    def disclosure(message_id: str, urgency: Urgency) -> CaseRecord:
        decision = _decision(
            flagged=(Category.SAFEGUARDING,),
            actions=(Action(ActionKind.REMIND), Action(ActionKind.ESCALATE, Route.SAFEGUARDING)),
            urgency=urgency,
        )
        return store.record_case(_message(message_id=message_id), decision, NOW)

    acknowledged = disclosure("601", Urgency.IMMEDIATE)
    decided = disclosure("602", Urgency.HIGH)
    waiting = disclosure("603", Urgency.CONCERN)
    store.record_action(acknowledged.id, "remind", "ok", actor="bot", at=NOW + timedelta(seconds=1))
    store.record_action(
        acknowledged.id, Verb.ACKNOWLEDGE.value, "ok", actor="olu", at=NOW + timedelta(minutes=5)
    )
    store.record_action(
        acknowledged.id, Verb.NO_CONCERN.value, "ok", actor="olu", at=NOW + timedelta(hours=3)
    )
    store.record_action(decided.id, Verb.REFER_ON.value, "ok", actor="olu", at=NOW + timedelta(hours=2))
    _case(store, message_id="604")  # an ordinary case has no level and is not counted

    times = {
        item.case_id: (item.urgency, item.seconds) for item in store.response_times(NOW - timedelta(days=1))
    }

    assert times == {
        acknowledged.id: (Urgency.IMMEDIATE, 300.0),
        decided.id: (Urgency.HIGH, 7200.0),
        waiting.id: (Urgency.CONCERN, None),
    }
    assert store.response_times(NOW + timedelta(days=1)) == []


def test_the_cases_a_person_took_an_action_on_are_found_across_many_ids(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_module, "_IDS_PER_QUERY", 2)  # several queries for five cases
    cases = [_case(store, message_id=str(600 + number)) for number in range(5)]
    for case in cases[::2]:
        store.record_action(case.id, "refer", "ok", actor="mod-1", at=NOW)
    store.record_action(cases[1].id, "refer", "failed", actor="mod-1", at=NOW)
    store.record_action(cases[3].id, "refer", "ok", at=NOW)  # the bot's own entry is no person's

    found = store.cases_with_action([case.id for case in cases], "refer")

    assert found == {cases[0].id, cases[2].id, cases[4].id}
    assert store.cases_with_action([], "refer") == frozenset()


def test_a_decisions_progress_is_kept_so_an_interrupted_one_is_carried_on(store: Store) -> None:
    case = _case(store, message_id="700")
    store.add_to_outbox(
        platform="telegram",
        case_id=case.id,
        steps="[]",
        outcome="Warned",
        keeps_open=False,
        actor="mod-1",
        at=NOW,
    )
    [queued] = store.outbox("telegram")
    assert (queued.steps_done, queued.card_message_id, queued.card_route, queued.error) == (
        0,
        None,
        None,
        None,
    )

    store.note_outbox_card(queued.id, "42", "moderators")
    store.note_outbox_card(queued.id, "43", "safeguarding")  # noted once: the card decided on stays
    store.outbox_steps_done(queued.id, 2, error="hide failed: gone")

    [carried_on] = store.outbox("telegram")
    assert (carried_on.steps_done, carried_on.card_message_id, carried_on.card_route) == (
        2,
        "42",
        "moderators",
    )
    assert carried_on.error == "hide failed: gone"
    assert store.finish_outbox_item(queued.id, at=NOW, error=carried_on.error)
    store.outbox_steps_done(queued.id, 3, error=None)  # a finished decision is not reopened
    assert store.outbox("telegram") == []
