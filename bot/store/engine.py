"""What every part of the store shares: the engine, opening and closing, sessions and errors.

:meth:`StoreEngine._guard` is the one place a database failure becomes a
:class:`~bot.errors.StorageError` (what it says, and never says: see :mod:`bot.store`), and
:func:`_configure_sqlite` the one place SQLite's WAL, foreign keys and ``secure_delete`` are set.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Session, SQLModel, col, create_engine, select

from bot import schema
from bot.errors import StorageError
from bot.schema import SchemaUpgrade
from bot.sealing import MARKER, Sealer
from bot.tables import AlertRow, AppealRow, CaseActionRow, CaseNoteRow, CaseRow, InboundUpdateRow, OutboxRow

__all__ = ["StoreEngine"]

_POSTGRES_CONNECT_TIMEOUT_S = 10
_WAL_SWITCH_WAIT_S = 10.0
# Every column the store seals, by table: the words people wrote (and their names).
_SEALED_COLUMNS: tuple[tuple[type[SQLModel], tuple[str, ...]], ...] = (
    (CaseRow, ("text", "author_name")),
    (CaseActionRow, ("detail",)),
    (AppealRow, ("reason",)),
    (CaseNoteRow, ("text", "actor_name")),
    (AlertRow, ("detail",)),
    (OutboxRow, ("steps",)),
    (InboundUpdateRow, ("payload",)),
)
_Row = TypeVar("_Row", bound=SQLModel)


class StoreEngine:
    """The connection to the database that each aggregate's part of :class:`~bot.store.Store` builds on."""

    def __init__(
        self, url: str, *, connect_args: Mapping[str, Any] | None = None, sealer: Sealer | None = None
    ) -> None:
        self._display = _mask(url)
        self._sealer = sealer or Sealer()
        arguments = dict(connect_args or {})
        try:
            parsed = make_url(url)
            self._is_sqlite = parsed.get_backend_name() == "sqlite"
            self._sqlite_path = parsed.database if self._is_sqlite else None
            if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
                arguments.setdefault("connect_timeout", _POSTGRES_CONNECT_TIMEOUT_S)
            self._engine: Engine = create_engine(
                url, connect_args=arguments, hide_parameters=True, pool_pre_ping=not self._is_sqlite
            )
        except (ImportError, ArgumentError) as exc:
            # A database or driver classmod does not ship (mysql://, postgresql+asyncpg://, ...).
            raise StorageError(
                f"cannot use the database at {self._display}: {_reason(exc)}; classmod supports SQLite "
                "(sqlite:///path/to/classmod.db) and PostgreSQL through psycopg "
                "(postgresql+psycopg://user:password@host/database): fix CLASSMOD_DATABASE_URL"
            ) from exc
        if self._is_sqlite:
            event.listen(self._engine, "connect", _configure_sqlite)
        self._wiping = threading.Lock()
        self._schema_upgrade: SchemaUpgrade | None = None
        self._last_wipe = time.monotonic()

    @classmethod
    def open(
        cls, url: str, *, connect_args: Mapping[str, Any] | None = None, sealer: Sealer | None = None
    ) -> Self:
        """Open the store at ``url``, creating its folder (SQLite) and applying pending schema migrations.

        The migrations run under a lock (:mod:`bot.schema`), so processes starting together on one
        database all succeed; :attr:`schema_upgrade` says what this opening changed.

        Raises:
            StorageError: the database cannot be reached or written, or a newer classmod upgraded it;
                or it holds sealed texts and ``sealer`` has no key that opens them.

        """
        store = cls(url, connect_args=connect_args, sealer=sealer)
        try:
            with store._guard("upgrade the database schema"):
                path = store._sqlite_path
                if path and path != ":memory:" and not path.startswith("file:"):
                    Path(path).parent.mkdir(parents=True, exist_ok=True)
                store._schema_upgrade = schema.upgrade(store._engine, display=store._display)
            store._check_keys()
        except StorageError:
            store.close()
            raise
        return store

    def _check_keys(self) -> None:
        """Open one sealed value per sealed column, if there is one: a missing or wrong key fails here."""
        with self._guard("look for encrypted case texts"), self._session() as session:
            for model, names in _SEALED_COLUMNS:
                for name in names:
                    column = col(getattr(model, name))
                    found = session.exec(select(column).where(column.like(MARKER + "%")).limit(1)).first()
                    self._sealer.open(found)

    @property
    def schema_upgrade(self) -> SchemaUpgrade | None:
        """The schema revisions before and after :meth:`open` migrated; None for a store not opened so."""
        return self._schema_upgrade

    def schema_revision(self) -> str | None:
        """The database's schema revision now (None: it has none yet)."""
        with self._guard("read the schema revision"):
            return schema.schema_revision(self._engine)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url_for_display(self) -> str:
        """The database URL with any password masked."""
        return self._display

    # -- helpers --------------------------------------------------------------------------------

    def _session(self) -> Session:
        return Session(self._engine, expire_on_commit=False)

    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (SQLAlchemyError, sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"could not {doing} at {self._display}: {_reason(exc)}; "
                "check CLASSMOD_DATABASE_URL / that the server is running"
            ) from exc

    @staticmethod
    def _insert_once(session: Session, row: SQLModel) -> bool:
        """Insert a row a unique key guards; False (nothing written) when it is already there."""
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return True

    def _save_unique(
        self, doing: str, query: Any, make: Callable[[], _Row], change: Callable[[_Row], None]
    ) -> _Row:
        """Update the row ``query`` finds, or insert a new one; a racing insert makes it retry once."""
        with self._guard(doing):
            for attempt in range(2):
                with self._session() as session:
                    row: _Row = session.exec(query).one_or_none() or make()
                    change(row)
                    session.add(row)
                    try:
                        session.commit()
                    except IntegrityError:
                        if attempt:
                            raise
                        continue
                    return row
        raise AssertionError("unreachable")

    def _wipe_wal(self) -> None:
        if not self._wiping.acquire(blocking=False):
            return  # another thread is wiping it now
        try:
            with self._guard("wipe the write-ahead log"), self._engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            self._last_wipe = time.monotonic()
        finally:
            self._wiping.release()


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("datetimes given to the store must be timezone-aware")
    return at.astimezone(UTC)


def _mask(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    reason = lines[0] if lines else type(cause).__name__
    return reason if len(reason) <= 200 else reason[:197] + "..."


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA secure_delete=ON")
        _use_wal(cursor)
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    # Turning a new file to WAL needs it alone for a moment, and SQLite answers "database is locked"
    # at once, without its busy wait, while another process opens the same new file (two start-ups
    # at once): try again for a while. A file already in WAL (every start after the first) is left be.
    deadline = time.monotonic() + _WAL_SWITCH_WAIT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)
