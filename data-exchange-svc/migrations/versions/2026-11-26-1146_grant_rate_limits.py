"""grant rate limits: calls a minute and burst per grant (both null: no limit of its own)

Revision ID: 45f4e6856858
Revises: e3a5f98ef8ba
Create Date: 2026-11-26 11:46:14.752228
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "45f4e6856858"
down_revision: str | None = "e3a5f98ef8ba"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sharing_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_per_minute", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rate_burst", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sharing_grant", schema=None) as batch_op:
        batch_op.drop_column("rate_burst")
        batch_op.drop_column("rate_per_minute")
