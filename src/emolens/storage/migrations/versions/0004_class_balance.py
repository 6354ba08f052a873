"""The class balance (how readily a face is called neutral) whose calibration scored each analysis; null for
analyses stored before it was recorded.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analyses", sa.Column("class_balance", sa.Float()))


def downgrade() -> None:
    op.drop_column("analyses", "class_balance")
