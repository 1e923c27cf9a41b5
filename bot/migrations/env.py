"""Alembic's environment: runs the migrations on the connection ``bot/schema.py`` locked and handed over.

There is no ``alembic.ini`` and no online/offline switch: classmod always migrates on a connection it
opened itself, inside the transaction that holds the migration lock.
"""

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import bot.tables  # noqa: F401  (registers the tables on SQLModel.metadata, for autogenerate)


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "classmod's migrations run on a connection bot/schema.py passes in; "
            "use `classmod db upgrade`, not the alembic command"
        )
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        version_table=context.config.attributes["version_table"],
        # One transaction for the whole upgrade: bot/schema.py began it and holds the lock in it.
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


_run()
