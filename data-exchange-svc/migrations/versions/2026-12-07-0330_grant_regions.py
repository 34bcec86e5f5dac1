"""a grant covers the subjects of a region

A data steward approves a grant for the subjects of their own region (or one below it), not the
whole province; the platform's own grants (seeded) keep None: everywhere.

Revision ID: 5d1c2a7e9f30
Revises: 3b8e61f0c2d4
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d1c2a7e9f30"
down_revision: str | None = "3b8e61f0c2d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sharing_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(length=12), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sharing_grant", schema=None) as batch_op:
        batch_op.drop_column("region")
