"""Languages: a learner's chosen language and locale, a group's default, and what a reminder is made of.

The reminder's parts let it be said again in the learner's language (a moderator's warning, a resume).
A case records the language its message was written in and whether the scorers covered it; per group and
day, the messages in a language they do not cover are counted (``classmod status``).

All new columns are nullable: existing people, groups and cases read as "not chosen" (English, or the
platform's locale) and as a reminder kept only in English.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the language columns."""
    with op.batch_alter_table("classmod_people") as table:
        table.add_column(sa.Column("language", sa.String(), nullable=True))
        table.add_column(sa.Column("locale", sa.String(), nullable=True))
    with op.batch_alter_table("classmod_groups") as table:
        table.add_column(sa.Column("language", sa.String(), nullable=True))
    with op.batch_alter_table("classmod_cases") as table:
        table.add_column(sa.Column("reminder_keys", sa.JSON(), nullable=True))
        table.add_column(sa.Column("language", sa.String(), nullable=True))
        table.add_column(sa.Column("assessed", sa.String(), nullable=True))
    op.create_table(
        "classmod_language_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "chat_id", "day", "language", name="uq_classmod_language_counts_day"),
    )


def downgrade() -> None:
    """Drop them (chosen languages are forgotten)."""
    op.drop_table("classmod_language_counts")
    with op.batch_alter_table("classmod_cases") as table:
        table.drop_column("assessed")
        table.drop_column("language")
        table.drop_column("reminder_keys")
    with op.batch_alter_table("classmod_groups") as table:
        table.drop_column("language")
    with op.batch_alter_table("classmod_people") as table:
        table.drop_column("locale")
        table.drop_column("language")
