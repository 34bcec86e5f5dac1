"""the working days a case's clock stood paused

Kept so that a completed case reports the working days it actually took on the clock
(``case.completed``'s ``working_days_taken``): the catalogue's live quality of an item.

Revision ID: 3e8a5c1f7b24
Revises: 9d1f4b7e2c60
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3e8a5c1f7b24"
down_revision: str | None = "9d1f4b7e2c60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("paused_working_days", sa.SmallInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("paused_working_days")
