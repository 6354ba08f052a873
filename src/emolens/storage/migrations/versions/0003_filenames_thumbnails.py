"""The uploaded file's name, and an optional small JPEG thumbnail, with each analysis.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analyses", sa.Column("filename", sa.String(255)))
    op.add_column("analyses", sa.Column("thumbnail", sa.LargeBinary()))


def downgrade() -> None:
    op.drop_column("analyses", "thumbnail")
    op.drop_column("analyses", "filename")
