"""The first event table: findings with their source, model, frames, peak, thumbnail, excerpt and review state.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(400), nullable=False, unique=True),
        sa.Column("source", sa.String(300), nullable=False, index=True),
        sa.Column("run", sa.String(200), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("video", sa.Text),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("model_hash", sa.String(64), nullable=False),
        sa.Column("model_kind", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False, index=True),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer),
        sa.Column("fps", sa.Float, nullable=False),
        sa.Column("started_at", sa.DateTime, index=True),
        sa.Column("ended_at", sa.DateTime),
        sa.Column("peak", sa.Float, nullable=False),
        sa.Column("peak_frame", sa.Integer, nullable=False),
        sa.Column("thumbnail", sa.LargeBinary),
        sa.Column("excerpt", sa.Text),
        sa.Column("review", sa.String(20), nullable=False, server_default="new", index=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
