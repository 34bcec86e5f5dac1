"""add signing key public y: ES256 keys (EC P-256) have two coordinates

Revision ID: 5a1c0e9b7d42
Revises: e03df4e7a3c7
Create Date: 2026-11-26 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5a1c0e9b7d42"
down_revision: str | None = "e03df4e7a3c7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_y", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_column("public_y")
