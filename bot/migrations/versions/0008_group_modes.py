"""A group's mode: enforce, or shadow (decisions recorded, nothing done to learners).

Groups from before keep NULL, read as enforced (they were).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the mode column."""
    with op.batch_alter_table("classmod_groups") as table:
        table.add_column(sa.Column("mode", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop it (every group is enforced again)."""
    with op.batch_alter_table("classmod_groups") as table:
        table.drop_column("mode")
