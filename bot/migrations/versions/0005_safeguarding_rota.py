"""The safeguarding rota's steps and the moderators' reminders, officers' notes on cases, daily digests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the alerts, case notes and digests tables."""
    op.create_table(
        "classmod_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["classmod_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_classmod_alerts_case_id", "classmod_alerts", ["case_id"])
    op.create_table(
        "classmod_case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("actor_name", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["classmod_cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_classmod_case_notes_case_id", "classmod_case_notes", ["case_id"])
    op.create_table(
        "classmod_digests",
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "day"),
    )


def downgrade() -> None:
    """Drop them (the record of alerts and the officers' notes are lost)."""
    op.drop_table("classmod_digests")
    op.drop_table("classmod_case_notes")
    op.drop_table("classmod_alerts")
