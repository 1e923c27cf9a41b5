"""One strike per case: a unique index on ``classmod_strikes.case_id``.

Strikes were checked for, then inserted, with nothing in the database to stop two writers both
inserting: duplicates for the same case are removed first (the earliest id stays). Strikes with no
case (NULL) stay as they are, any number of them, on SQLite and PostgreSQL alike.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Remove the later duplicates of a case's strike, then add the unique index."""
    op.execute(
        sa.text(
            "DELETE FROM classmod_strikes WHERE case_id IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM classmod_strikes AS earlier "
            "WHERE earlier.case_id = classmod_strikes.case_id AND earlier.id < classmod_strikes.id)"
        )
    )
    op.create_index("uq_classmod_strikes_case_id", "classmod_strikes", ["case_id"], unique=True)


def downgrade() -> None:
    """Drop the unique index (the removed duplicates do not come back)."""
    op.drop_index("uq_classmod_strikes_case_id", table_name="classmod_strikes")
