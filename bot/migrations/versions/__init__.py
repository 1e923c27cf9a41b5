"""One Alembic revision per file, oldest first: ``0001_*``, ``0002_*``, ..."""
