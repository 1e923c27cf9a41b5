"""How far the bot got with a console decision, so one interrupted is carried on, not carried out again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the steps done and the card the decision was taken on."""
    with op.batch_alter_table("classmod_outbox") as table:
        table.add_column(sa.Column("steps_done", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("card_message_id", sa.String(), nullable=True))
        table.add_column(sa.Column("card_route", sa.String(), nullable=True))


def downgrade() -> None:
    """Drop them (an interrupted decision is carried out whole again, as before)."""
    with op.batch_alter_table("classmod_outbox") as table:
        table.drop_column("card_route")
        table.drop_column("card_message_id")
        table.drop_column("steps_done")
