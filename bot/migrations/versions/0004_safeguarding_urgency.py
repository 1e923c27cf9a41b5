"""Safeguarding urgency: how urgent a safeguarding case is (immediate, high or concern), on the case.

Nullable: cases from before read as having no level (ordinary cases never have one).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the urgency column."""
    with op.batch_alter_table("classmod_cases") as table:
        table.add_column(sa.Column("urgency", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("classmod_cases") as table:
        table.drop_column("urgency")
