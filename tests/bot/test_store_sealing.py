"""Case texts and notes encrypted at rest: what a stolen database file holds, start-up, purge, rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from bot.errors import StorageError
from bot.sealing import Sealer, new_key
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
)
from tests.bot.test_store import _decision as flagged_decision
from tests.bot.test_store import _message as flagged_message
from tests.bot.test_store import _sqlite_bytes as sqlite_bytes

if TYPE_CHECKING:
    from bot.store import Store
    from tests.bot.conftest import Backend

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
DISCLOSURE = "my stepdad hits me when he drinks"
PHONE = "07700 900123"
EMAIL = "sam.learner@example.org"
TEXT = f"{DISCLOSURE}, ring me on {PHONE} or write to {EMAIL}"
NAME = "Samira Quillfeather"
SECRETS = (DISCLOSURE, PHONE, EMAIL, NAME, "stepdad", "900123", "example.org", "Quillfeather")
OLD, NEW = new_key(), new_key()


def _message(message_id: str = "501", text: str = TEXT) -> ChatMessage:
    return flagged_message(
        text, message_id=message_id, author=Author(id="u-42", display_name=NAME, role=Role.LEARNER)
    )


def _decision() -> Decision:
    return flagged_decision(
        scores={Category.SAFEGUARDING: 0.97, Category.PERSONAL_DATA: 1.0},
        flagged=(Category.SAFEGUARDING, Category.PERSONAL_DATA),
        evidence=(Evidence(Category.PERSONAL_DATA, kind="phone", source="personal_data", start=44, end=56),),
        actions=(Action(ActionKind.HIDE), Action(ActionKind.ESCALATE, Route.SAFEGUARDING)),
    )


def _fill(store: Store, message_id: str = "501", at: datetime = NOW) -> int:
    case = store.record_case(_message(message_id), _decision(), at)
    store.record_action(
        case.id, "note", "ok", actor="mod-1", detail=f"called {PHONE} about {DISCLOSURE}", at=at
    )
    store.add_appeal(case.id, "u-42", f"I only said {DISCLOSURE} to {EMAIL}", at)
    store.journal_update("telegram", int(message_id), f'{{"text": "{TEXT}"}}', at)
    return case.id


def _raw(backend: Backend, store: Store) -> bytes:
    """Everything an attacker holding the database would see: the files, or every column's raw value."""
    if backend.sqlite_path is not None:
        return sqlite_bytes(backend.sqlite_path)
    engine = sa.create_engine(backend.url, connect_args=backend.connect_args)
    tables = ("classmod_cases", "classmod_case_actions", "classmod_appeals", "classmod_inbound_updates")
    try:
        with engine.connect() as connection:
            rows = [
                str(row[0])
                for table in tables
                for row in connection.execute(sa.text(f"SELECT t::text FROM {table} t"))
            ]
    finally:
        engine.dispose()
    assert rows, "the raw rows should have been read"
    return "\n".join(rows).encode()


def test_with_a_key_the_database_holds_none_of_the_learners_words(backend: Backend) -> None:
    store = backend.open(Sealer([NEW]))
    case_id = _fill(store)

    raw = _raw(backend, store)

    assert [secret for secret in SECRETS if secret.encode() in raw] == []
    assert b"sealed:v1:" in raw
    case = store.get_case(case_id)
    assert case is not None and case.text == TEXT and case.author_name == NAME
    assert [action.detail for action in store.case_actions(case_id)] == [f"called {PHONE} about {DISCLOSURE}"]
    assert store.appeals(case_id)[0].reason == f"I only said {DISCLOSURE} to {EMAIL}"
    assert store.open_appeal(case_id).reason.endswith(EMAIL)  # type: ignore[union-attr]
    assert [update.payload for update in store.journalled_updates("telegram")] == [f'{{"text": "{TEXT}"}}']
    assert [found.text for found in store.cases_for_author("telegram", "u-42")] == [TEXT]


def test_without_a_key_texts_stay_in_clear_as_before(backend: Backend) -> None:
    store = backend.open()
    _fill(store)

    assert PHONE.encode() in _raw(backend, store)


def test_purge_erases_sealed_texts_and_keeps_the_case(backend: Backend) -> None:
    store = backend.open(Sealer([NEW]))
    old = _fill(store, "501", NOW - timedelta(days=100))
    kept = _fill(store, "502", NOW)

    assert store.purge(older_than=timedelta(days=90), now=NOW) == 1

    purged = store.get_case(old)
    assert purged is not None and purged.text is None and purged.purged_at is not None
    assert store.appeals(old)[0].reason is None
    assert store.get_case(kept).text == TEXT  # type: ignore[union-attr]


def test_a_store_holding_sealed_texts_refuses_to_start_without_a_key(backend: Backend) -> None:
    backend.open(Sealer([NEW])).close()  # an empty store: nothing sealed yet, a store without keys starts
    backend.open().close()
    sealed = backend.open(Sealer([NEW]))
    _fill(sealed)
    sealed.close()

    with pytest.raises(StorageError) as caught:
        backend.open()

    assert str(caught.value) == (
        "the case store holds encrypted case texts: "
        "set CLASSMOD_DATA_KEYS to the key(s) they were sealed with"
    )


def test_a_store_refuses_to_start_with_a_key_that_opens_nothing(backend: Backend) -> None:
    _fill(backend.open(Sealer([OLD])))

    with pytest.raises(
        StorageError, match="cannot decrypt case texts with the keys in CLASSMOD_DATA_KEYS"
    ) as caught:
        backend.open(Sealer([NEW]))

    assert OLD not in str(caught.value) and NEW not in str(caught.value)


def test_rotation_then_removing_the_old_key_keeps_every_text_readable(backend: Backend) -> None:
    plain = backend.open()
    before = _fill(plain, "500")  # written before sealing was turned on
    old = backend.open(Sealer([OLD]))
    sealed = _fill(old, "501")

    rotating = backend.open(Sealer([NEW, OLD]))
    assert rotating.reseal(batch_size=2) == 2 * 5
    assert rotating.reseal(batch_size=2) == 0, "a second run finds nothing left to do"

    store = backend.open(Sealer([NEW]))
    for case_id in (before, sealed):
        case = store.get_case(case_id)
        assert case is not None and case.text == TEXT and case.author_name == NAME
        assert store.appeals(case_id)[0].reason == f"I only said {DISCLOSURE} to {EMAIL}"
    assert [secret for secret in SECRETS if secret.encode() in _raw(backend, store)] == []
    with pytest.raises(StorageError):
        backend.open(Sealer([OLD]))


def test_rotation_without_a_key_is_refused(backend: Backend) -> None:
    with pytest.raises(StorageError, match="set CLASSMOD_DATA_KEYS"):
        backend.open().reseal()
