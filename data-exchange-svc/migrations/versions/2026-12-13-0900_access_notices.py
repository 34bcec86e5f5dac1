"""access notices: how far the ledger's accesses were told to the citizens they are about

The cursor starts at the ledger's end: what was accessed before is in each citizen's access
log already, and is not told again as news.

Revision ID: 9a3f6c2e7d18
Revises: 6e1b3d9a0c47
Create Date: 2026-12-13 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9a3f6c2e7d18"
down_revision: str | None = "6e1b3d9a0c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_notice_cursor",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_notice_cursor")),
    )
    op.execute(
        "INSERT INTO access_notice_cursor (id, seq)"
        " SELECT 1, COALESCE(MAX(seq), 0) FROM ledger_entry"
    )


def downgrade() -> None:
    op.drop_table("access_notice_cursor")
