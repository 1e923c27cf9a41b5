"""Fixtures for the bot's tests: a real store on a SQLite file and on PostgreSQL.

The PostgreSQL URL comes from ``CLASSMOD_TEST_POSTGRES_URL``. When that server does not answer, the
PostgreSQL variants are skipped, unless ``CLASSMOD_REQUIRE_POSTGRES=1`` (CI) makes them fail. Each
PostgreSQL test gets a fresh schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from bot.sealing import Sealer
from bot.store import Store

POSTGRES_URL = os.environ.get(
    "CLASSMOD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_POSTGRES = os.environ.get("CLASSMOD_REQUIRE_POSTGRES") == "1"


@dataclass
class Backend:
    """Where a test's store lives; ``open()`` gives another store on the same database."""

    name: str
    url: str
    connect_args: dict[str, Any] = field(default_factory=dict)
    sqlite_path: Path | None = None
    opened: list[Store] = field(default_factory=list)

    def open(self, sealer: Sealer | None = None) -> Store:
        store = Store.open(self.url, connect_args=self.connect_args, sealer=sealer)
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()


@cache
def _postgres_admin() -> tuple[sa.Engine | None, str]:
    """An AUTOCOMMIT engine on the test server, or None and why it cannot be reached."""
    masked = sa.make_url(POSTGRES_URL).render_as_string(hide_password=True)
    engine = sa.create_engine(
        POSTGRES_URL, connect_args={"connect_timeout": 2}, isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return None, (
            f"PostgreSQL not reachable at {masked}: set CLASSMOD_TEST_POSTGRES_URL or start a server"
            f" ({lines[0] if lines else type(exc).__name__})"
        )
    return engine, ""


def postgres_engine_or_skip() -> sa.Engine:
    """The admin engine; skips the test (fails it under CLASSMOD_REQUIRE_POSTGRES=1) when unreachable."""
    engine, reason = _postgres_admin()
    if engine is None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{reason}; CLASSMOD_REQUIRE_POSTGRES=1 requires it")
        pytest.skip(reason)
    return engine


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A fresh, empty database: a SQLite file in tmp_path, or a new schema on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "classmod.db"
        chosen = Backend("sqlite", f"sqlite:///{path}", sqlite_path=path)
        yield chosen
        chosen.close_all()
        return
    admin = postgres_engine_or_skip()
    schema = f"classmod_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    chosen = Backend("postgres", POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield chosen
    finally:
        chosen.close_all()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def store(backend: Backend) -> Store:
    """A store opened on the test's fresh database (closed when the test ends)."""
    return backend.open()
