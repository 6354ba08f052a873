"""Initial schema: analyses and emotion tallies.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("session", sa.String(64)),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("elapsed_ms", sa.Float(), nullable=False),
        sa.Column("tta", sa.Boolean(), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("image", sa.LargeBinary()),
        sa.Column("image_type", sa.String(64)),
    )
    op.create_index("ix_analyses_created_ms", "analyses", ["created_ms"])
    op.create_index("ix_analyses_source_created_ms", "analyses", ["source", "created_ms"])
    op.create_index("ix_analyses_session_created_ms", "analyses", ["session", "created_ms"])
    op.create_table(
        "emotion_tallies",
        sa.Column("analysis_id", sa.Integer(), sa.ForeignKey("analyses.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label", sa.String(32), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("emotion_tallies")
    op.drop_table("analyses")
