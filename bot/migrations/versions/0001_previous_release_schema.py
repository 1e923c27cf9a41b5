"""The schema of the releases before migrations, exactly as their ``create_all`` made it.

Every statement has IF NOT EXISTS: a database made by a release older than the previous one lacks the
tables added since (leases, the inbound journal, read marks), and this revision adds them to it. A
complete database of the previous release is stamped at this revision without running it
(``bot/schema.py``).

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the tables, indexes and constraints, each unless it is there already."""
    op.create_table(
        "classmod_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("author_name", sa.String(), nullable=False),
        sa.Column("author_role", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("is_edit", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("flagged", sa.JSON(), nullable=False),
        sa.Column("clauses", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("top_action", sa.String(), nullable=False),
        sa.Column("route", sa.String(), nullable=True),
        sa.Column("reminder", sa.Text(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("scorer", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("closed_by", sa.String(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "platform", "chat_id", "message_id", "revision", name="uq_classmod_cases_message"
        ),
        if_not_exists=True,
    )
    op.create_index(
        "ix_classmod_cases_created_at", "classmod_cases", ["created_at"], unique=False, if_not_exists=True
    )
    op.create_index(
        "ix_classmod_cases_status", "classmod_cases", ["status"], unique=False, if_not_exists=True
    )
    op.create_table(
        "classmod_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_classmod_consents_user_id", "classmod_consents", ["user_id"], unique=False, if_not_exists=True
    )
    op.create_table(
        "classmod_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("is_authorised", sa.Boolean(), nullable=False),
        sa.Column("authorised_by", sa.String(), nullable=True),
        sa.Column("authorised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "chat_id", name="uq_classmod_groups_chat"),
        if_not_exists=True,
    )
    op.create_table(
        "classmod_inbound_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "update_id", name="uq_classmod_inbound_update"),
        if_not_exists=True,
    )
    op.create_table(
        "classmod_leases",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
        if_not_exists=True,
    )
    op.create_table(
        "classmod_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "user_id", name="uq_classmod_people_user"),
        if_not_exists=True,
    )
    op.create_table(
        "classmod_read_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "chat_id", name="uq_classmod_read_marks_chat"),
        if_not_exists=True,
    )
    op.create_table(
        "classmod_seen_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("chat_id", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("platform", "chat_id", "message_id", "revision", name="uq_classmod_seen_message"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_classmod_seen_messages_handled_at",
        "classmod_seen_messages",
        ["handled_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "classmod_appeals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["classmod_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_classmod_appeals_case_id", "classmod_appeals", ["case_id"], unique=False, if_not_exists=True
    )
    op.create_table(
        "classmod_case_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["classmod_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_classmod_case_actions_case_id",
        "classmod_case_actions",
        ["case_id"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "classmod_strikes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(), nullable=False),
        sa.Column("author_id", sa.String(), nullable=False),
        sa.Column("category", sa.String(), nullable=False),
        sa.Column("clause_id", sa.String(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["classmod_cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_classmod_strikes_author_id", "classmod_strikes", ["author_id"], unique=False, if_not_exists=True
    )


def downgrade() -> None:
    """Drop every table."""
    op.drop_index("ix_classmod_strikes_author_id", table_name="classmod_strikes")
    op.drop_table("classmod_strikes")
    op.drop_index("ix_classmod_case_actions_case_id", table_name="classmod_case_actions")
    op.drop_table("classmod_case_actions")
    op.drop_index("ix_classmod_appeals_case_id", table_name="classmod_appeals")
    op.drop_table("classmod_appeals")
    op.drop_index("ix_classmod_seen_messages_handled_at", table_name="classmod_seen_messages")
    op.drop_table("classmod_seen_messages")
    op.drop_table("classmod_read_marks")
    op.drop_table("classmod_people")
    op.drop_table("classmod_leases")
    op.drop_table("classmod_inbound_updates")
    op.drop_table("classmod_groups")
    op.drop_index("ix_classmod_consents_user_id", table_name="classmod_consents")
    op.drop_table("classmod_consents")
    op.drop_index("ix_classmod_cases_status", table_name="classmod_cases")
    op.drop_index("ix_classmod_cases_created_at", table_name="classmod_cases")
    op.drop_table("classmod_cases")
