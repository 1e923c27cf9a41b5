"""The database schema's revision: Alembic migrations, applied under a lock at start-up.

The history lives in ``bot/migrations/versions/`` (package data, so an installed classmod has it) and
is applied programmatically: there is no ``alembic.ini``. Every upgrade runs in one transaction that
first takes a lock, so of two processes starting at once on a fresh database one creates the tables
and the other, once the first has committed, finds nothing to do:

- PostgreSQL: ``pg_advisory_xact_lock`` in the migration transaction (its DDL is transactional, and
  the lock goes with the commit or rollback);
- SQLite: ``BEGIN IMMEDIATE`` on the one connection that runs the whole upgrade (see
  :func:`_sqlite_transaction`).

A database made by the release before the migrations (tables from ``create_all``, no version table)
is recognised and stamped at revision 0001, which is that schema, before the later revisions run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from bot.errors import StorageError

__all__ = ["FIRST_REVISION", "VERSION_TABLE", "SchemaUpgrade", "head_revision", "schema_revision", "upgrade"]

VERSION_TABLE = "classmod_alembic_version"
"""Where Alembic keeps the revision: prefixed like every classmod table, so a shared database's own
``alembic_version`` (another application's) is left alone."""
FIRST_REVISION = "0001"
"""The schema the releases before the migrations made with ``create_all``."""

_PREVIOUS_RELEASE_TABLES = frozenset(
    {
        "classmod_appeals",
        "classmod_case_actions",
        "classmod_cases",
        "classmod_consents",
        "classmod_groups",
        "classmod_inbound_updates",
        "classmod_leases",
        "classmod_people",
        "classmod_read_marks",
        "classmod_seen_messages",
        "classmod_strikes",
    }
)
_MIGRATIONS = Path(__file__).with_name("migrations")
# Any fixed 64-bit number, the same in every classmod: the lock is per database, not per schema, so
# two classmods in different schemas of one database merely upgrade one after the other.
_ADVISORY_LOCK_KEY = 0x636C6173736D6F64  # "classmod"
# How long a second process waits (ms) for the first to finish an upgrade.
_LOCK_WAIT_MS = 120_000
logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchemaUpgrade:
    """The schema revision before and after an upgrade; ``before`` is None for an empty database.

    ``is_from_previous_release``: the database had no revision but the previous release's tables, and
    was stamped at :data:`FIRST_REVISION` (``before``) first.
    """

    before: str | None
    after: str
    is_from_previous_release: bool = False

    @property
    def is_change(self) -> bool:
        """Whether any migration ran or a previous release's database was stamped."""
        return self.before != self.after or self.is_from_previous_release


def head_revision() -> str:
    """The newest revision this classmod knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise StorageError(f"no migrations in {_MIGRATIONS}: reinstall classmod")
    return head


def schema_revision(engine: Engine) -> str | None:
    """The database's schema revision, None when it has none (empty, or made before the migrations)."""
    with engine.connect() as connection:
        return _revision(connection)


def upgrade(engine: Engine, *, display: str) -> SchemaUpgrade:
    """Bring the database to the newest revision, under the migration lock; a no-op when it is there.

    Args:
        engine: the store's engine.
        display: the database URL with its password masked, for error messages.

    Raises:
        StorageError: the database is at a revision this classmod does not know (a newer classmod
            upgraded it).

    """
    config = _config()
    script = ScriptDirectory.from_config(config)
    known = {revision.revision for revision in script.walk_revisions()}
    with engine.connect() as connection, _locked(connection):
        config.attributes["connection"] = connection
        before = _revision(connection)
        if before is not None and before not in known:
            raise StorageError(
                f"the database at {display} is at schema revision {before}, which this classmod does not "
                f"know (it knows up to {head_revision()}): it was upgraded by a newer classmod: "
                "upgrade classmod"
            )
        is_from_previous_release = before is None and _is_previous_release(connection)
        if is_from_previous_release:
            command.stamp(config, FIRST_REVISION)
            before = FIRST_REVISION
            logger.info("database made by the release before migrations: stamped at %s", FIRST_REVISION)
        if before != script.get_current_head():
            command.upgrade(config, "head")
        after = _revision(connection)
    if after is None:  # pragma: no cover - the upgrade writes the version table
        raise StorageError(f"the schema upgrade at {display} recorded no revision")
    if before != after:
        logger.info("database schema upgraded from %s to %s", before or "an empty database", after)
    return SchemaUpgrade(before, after, is_from_previous_release)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["version_table"] = VERSION_TABLE
    return config


def _revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _is_previous_release(connection: Connection) -> bool:
    # The previous release's create_all made every table at each start. A database that has only some
    # of them is older still: revision 0001 runs on it instead and adds the missing ones.
    existing = set(inspect(connection).get_table_names())
    return existing >= _PREVIOUS_RELEASE_TABLES


@contextmanager
def _locked(connection: Connection) -> Iterator[None]:
    if connection.dialect.name == "sqlite":
        with _sqlite_transaction(connection):
            yield
        return
    with connection.begin():
        if connection.dialect.name == "postgresql":
            # A stuck upgrade elsewhere fails this start-up after a while instead of hanging it.
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{_LOCK_WAIT_MS}ms'")
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
        yield


@contextmanager
def _sqlite_transaction(connection: Connection) -> Iterator[None]:
    # SQLite locks the whole file, so its own write lock is the migration lock: BEGIN IMMEDIATE takes
    # it before the revision is read, and SQLite's DDL is transactional, so the version check, the
    # stamp and every migration commit or roll back together while a second process waits in its own
    # BEGIN IMMEDIATE (up to _LOCK_WAIT_MS). Python's sqlite3 driver would otherwise run DDL
    # outside any transaction (it only opens one before INSERT, UPDATE and DELETE): hence AUTOCOMMIT
    # here, which hands transaction control to the statements below. A lock file beside the database
    # would be no sounder and would not cover other hosts on a network share; SQLite's lock does.
    # The isolation level is restored when the connection goes back to the pool.
    connection.execution_options(isolation_level="AUTOCOMMIT")
    driver: Any = connection.connection.driver_connection
    waited = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {_LOCK_WAIT_MS}")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if driver.in_transaction:
                connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(waited or 0)}")
