"""The database schema: Alembic migrations applied at start-up under a lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import queue
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from bot import schema
from bot.errors import StorageError
from bot.schema import FIRST_REVISION, VERSION_TABLE, SchemaUpgrade, head_revision
from bot.store import Store
from bot.tables import CaseRow, GroupRow, StrikeRow
from moderation.types import Category
from tests.bot.conftest import POSTGRES_URL, Backend, postgres_engine_or_skip

PREVIOUS_RELEASE = Path(__file__).with_name("previous_release")
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
ROUNDS = 6


@dataclass(frozen=True)
class Database:
    """A database to open: its URL and the driver arguments (PostgreSQL: the test's schema)."""

    url: str
    connect_args: dict[str, Any]


def _engine(backend: Backend | Database) -> sa.Engine:
    return sa.create_engine(backend.url, connect_args=backend.connect_args, poolclass=NullPool)


def build_previous_release(backend: Backend | Database) -> None:
    """Create the tables as the release before the migrations did (its create_all's DDL), and no more."""
    dialect = "sqlite" if backend.url.startswith("sqlite") else "postgresql"
    script = (PREVIOUS_RELEASE / f"{dialect}.sql").read_text(encoding="utf-8")
    statements = [part.strip() for part in script.split(";") if part.strip().strip("-\n ")]
    if isinstance(backend, Backend) and backend.sqlite_path is not None:
        backend.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = _engine(backend)
    try:
        with engine.begin() as connection:
            for statement in statements:
                body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
                connection.exec_driver_sql(body)
    finally:
        engine.dispose()


def _describe(connection: sa.Connection) -> dict[str, Any]:
    """Every classmod table's columns, keys, constraints and indexes, as the database reports them."""
    inspector = sa.inspect(connection)
    described: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == VERSION_TABLE:
            continue
        described[table] = {
            "columns": [
                (
                    column["name"],
                    column["type"].compile(dialect=connection.dialect),
                    column["nullable"],
                    column.get("default"),
                )
                for column in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign keys": sorted(
                (tuple(key["constrained_columns"]), key["referred_table"], tuple(key["referred_columns"]))
                for key in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (key["name"], tuple(key["column_names"])) for key in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (index["name"], tuple(index["column_names"]), bool(index["unique"]))
                for index in inspector.get_indexes(table)
            ),
        }
    return described


# -- two start-ups at once --------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def fresh_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Database]]:
    """ROUNDS fresh, empty databases: SQLite files not yet made, or new PostgreSQL schemas."""
    if request.param == "sqlite":
        yield [
            Database(f"sqlite:///{tmp_path / f'round{index}' / 'classmod.db'}", {}) for index in range(ROUNDS)
        ]
        return
    admin = postgres_engine_or_skip()
    schemas = [f"classmod_test_{uuid.uuid4().hex[:12]}" for _ in range(ROUNDS)]
    with admin.connect() as connection:
        for name in schemas:
            connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    try:
        yield [Database(POSTGRES_URL, {"options": f"-csearch_path={name}"}) for name in schemas]
    finally:
        with admin.connect() as connection:
            for name in schemas:
                connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))


def _open_when_released(
    databases: list[Database], barrier: Any, results: Any
) -> None:  # runs in a child process
    for index, database in enumerate(databases):
        barrier.wait(timeout=120)
        try:
            store = Store.open(database.url, connect_args=database.connect_args)
        except Exception as exc:
            results.put((index, "error", f"{type(exc).__name__}: {exc}"))
            continue
        upgrade = store.schema_upgrade
        store.close()
        results.put((index, "ok", upgrade.before if upgrade else "not opened"))


def test_two_processes_starting_at_once_on_a_fresh_database_both_succeed(
    fresh_databases: list[Database],
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    processes = [
        context.Process(target=_open_when_released, args=(fresh_databases, barrier, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=180) for _ in range(2 * ROUNDS)]
    except queue.Empty:
        pytest.fail("a start-up hung")
    finally:
        for process in processes:
            process.join(timeout=60)
    head = head_revision()
    assert sorted(report for report in reports if report[1] != "ok") == []
    for index in range(ROUNDS):
        befores = sorted(str(before) for round_, _, before in reports if round_ == index)
        # One created the tables; the other waited for the lock and found nothing to do.
        assert befores == sorted(["None", head]), f"round {index}: {befores}"
    for database in fresh_databases:
        engine = _engine(database)
        try:
            with engine.connect() as connection:
                assert len(_describe(connection)) == len(SQLModel.metadata.tables)  # every table, made once
                versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
                assert versions == [(head,)]
        finally:
            engine.dispose()


# -- the previous release's database ----------------------------------------------------------


def test_revision_0001_is_the_previous_release_schema(backend: Backend) -> None:
    build_previous_release(backend)
    engine = _engine(backend)
    try:
        with engine.connect() as connection:
            previous = _describe(connection)
            metadata = sa.MetaData()
            metadata.reflect(connection)
            metadata.drop_all(connection)
            connection.commit()
            assert _describe(connection) == {}
            config = schema._config()
            config.attributes["connection"] = connection
            command.upgrade(config, FIRST_REVISION)
            connection.commit()
            assert _describe(connection) == previous
    finally:
        engine.dispose()


def test_the_newest_revision_matches_the_tables_module(store: Store, backend: Backend) -> None:
    engine = _engine(backend)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []


def _fill_previous_release(backend: Backend) -> dict[str, int]:
    # Core inserts naming only the previous release's columns: the ORM would write every column the
    # tables module has now, which the previous release's tables lack.
    engine = _engine(backend)
    try:
        with engine.begin() as connection:

            def insert(table: sa.Table, **values: Any) -> int:
                return int(
                    connection.execute(sa.insert(table).values(**values).returning(table.c.id)).scalar_one()
                )

            first, second = (
                insert(
                    CaseRow.__table__,  # type: ignore[arg-type]
                    platform="telegram",
                    chat_id="-100200",
                    message_id=str(500 + number),
                    author_id="u-42",
                    author_name="Sam Learner",
                    author_role="learner",
                    text=f"message {number}",
                    created_at=NOW - timedelta(hours=number),
                    scores={"civility": 0.9},
                    flagged=["civility"],
                    top_action="warn",
                )
                for number in range(2)
            )
            insert(GroupRow.__table__, platform="telegram", chat_id="-100200", title="ESOL", added_at=NOW)  # type: ignore[arg-type]
            # One by one, so the ids follow this order.
            strikes = [
                insert(
                    StrikeRow.__table__,  # type: ignore[arg-type]
                    platform="telegram",
                    author_id="u-42",
                    category="civility",
                    clause_id="4.2",
                    case_id=case_id,
                    at=NOW - timedelta(minutes=minutes),
                )
                for case_id, minutes in ((first, 5), (first, 4), (second, 3), (None, 2), (None, 1))
            ]
        return {"first": first, "second": second, "kept": strikes[0]}
    finally:
        engine.dispose()


def test_the_previous_release_database_is_stamped_then_upgraded_with_its_data_intact(
    backend: Backend,
) -> None:
    build_previous_release(backend)
    ids = _fill_previous_release(backend)

    store = backend.open()

    assert store.schema_upgrade == SchemaUpgrade(FIRST_REVISION, head_revision(), True)
    assert store.schema_revision() == head_revision()
    first = store.get_case(ids["first"])
    assert first is not None and first.text == "message 0" and first.author_id == "u-42"
    assert [group.chat_id for group in store.groups()] == ["-100200"]
    history = store.author_history("telegram", "u-42", now=NOW, strike_lifetime=timedelta(days=30))
    # Two strikes for the first case became one (the earliest id); the case-less strikes all stay.
    assert len(history.strikes) == 4
    assert all(strike.category is Category.CIVILITY for strike in history.strikes)
    engine = _engine(backend)
    try:
        with engine.connect() as connection:
            strikes = connection.execute(
                sa.text("SELECT id, case_id FROM classmod_strikes WHERE case_id = :case_id"),
                {"case_id": ids["first"]},
            ).all()
            indexes = {
                index["name"]: index for index in sa.inspect(connection).get_indexes("classmod_strikes")
            }
    finally:
        engine.dispose()
    assert strikes == [(ids["kept"], ids["first"])]
    assert indexes["uq_classmod_strikes_case_id"]["unique"]
    assert indexes["uq_classmod_strikes_case_id"]["column_names"] == ["case_id"]
    assert backend.open().schema_upgrade == SchemaUpgrade(head_revision(), head_revision())


def test_a_database_older_than_the_previous_release_gets_the_tables_it_lacks(backend: Backend) -> None:
    build_previous_release(backend)
    engine = _engine(backend)
    try:
        with engine.begin() as connection:
            for table in ("classmod_read_marks", "classmod_leases", "classmod_inbound_updates"):
                connection.execute(sa.text(f"DROP TABLE {table}"))
    finally:
        engine.dispose()

    store = backend.open()

    assert store.schema_upgrade == SchemaUpgrade(None, head_revision())
    assert store.take_lease("telegram", "me", now=NOW, until=NOW + timedelta(minutes=1))


# -- revisions this classmod does not know ----------------------------------------------------


def test_a_database_upgraded_by_a_newer_classmod_is_refused_clearly(backend: Backend) -> None:
    backend.open().close()
    engine = _engine(backend)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    finally:
        engine.dispose()

    with pytest.raises(StorageError) as caught:
        backend.open()

    message = str(caught.value)
    assert "schema revision 9999" in message
    assert message.endswith("upgraded by a newer classmod: upgrade classmod")


def test_a_fresh_database_reports_its_upgrade_from_nothing(store: Store) -> None:
    assert store.schema_upgrade == SchemaUpgrade(None, head_revision())
    assert store.schema_upgrade.is_change
    assert store.schema_revision() == head_revision()
