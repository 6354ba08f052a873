"""Live windows keyed by time bucket: a unique key that frames upsert into.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analyses", sa.Column("live_window", sa.String(400)))
    op.create_index("ux_analyses_live_window", "analyses", ["live_window"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_analyses_live_window", "analyses")
    op.drop_column("analyses", "live_window")
