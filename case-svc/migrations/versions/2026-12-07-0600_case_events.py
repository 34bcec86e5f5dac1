"""case events: the outbox (servicekit.events) and when a case first went overdue

Revision ID: 9e2a6c1f4b73
Revises: 7b1e4c9d2a30
Create Date: 2026-12-07 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_outbox_events, drop_outbox_events

revision: str = "9e2a6c1f4b73"
down_revision: str | None = "7b1e4c9d2a30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_events()
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_at", sa.DateTime(timezone=True), nullable=True))
        # Open cases past their promised time not yet reported overdue.
        batch_op.create_index("ix_case_overdue_watch", ["overdue_at", "due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_overdue_watch")
        batch_op.drop_column("overdue_at")
    drop_outbox_events()
