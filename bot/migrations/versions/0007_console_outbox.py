"""Decisions taken in the web console, waiting for the platform's bot to carry them out (the outbox).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the outbox table."""
    op.create_table(
        "classmod_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("keeps_open", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["classmod_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_classmod_outbox_platform", "classmod_outbox", ["platform"])


def downgrade() -> None:
    """Drop it (decisions not yet carried out stay recorded on their cases, undone on the platform)."""
    op.drop_table("classmod_outbox")
