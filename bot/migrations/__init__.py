"""The database schema's history as Alembic migrations, applied by ``bot/schema.py``.

Every change to the tables in ``bot/tables.py`` comes with a new file in ``versions/``.
"""
