"""Zones and learning from false alarms: which zone an event was in, and the model that learned it as normal.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("events") as table:
        table.add_column(sa.Column("zone", sa.String(40)))
        table.add_column(sa.Column("learned_into", sa.String(300)))
