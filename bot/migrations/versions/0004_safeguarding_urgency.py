"""Safeguarding: how urgent a case is (immediate, high or concern), and the audit log of who viewed one.

The urgency column is nullable: cases from before read as having no level (ordinary cases never have one).

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
    """Add the urgency column and the audit table."""
    with op.batch_alter_table("classmod_cases") as table:
        table.add_column(sa.Column("urgency", sa.String(), nullable=True))
    op.create_table(
        "classmod_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("via", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_classmod_audit_at", "classmod_audit", ["at"])
    op.create_index("ix_classmod_audit_case_id", "classmod_audit", ["case_id"])


def downgrade() -> None:
    """Drop them (the audit log is lost)."""
    op.drop_table("classmod_audit")
    with op.batch_alter_table("classmod_cases") as table:
        table.drop_column("urgency")
