"""the citizen's inbox: a message per event of her cases, and the events processed

Revision ID: 4f7c2a9e1b58
Revises: 7b2e4c6d8f10
Create Date: 2026-12-10 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_inbox_events, drop_inbox_events

revision: str = "4f7c2a9e1b58"
down_revision: str | None = "7b2e4c6d8f10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbox_message",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("case_status", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("texted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox_message")),
        sa.UniqueConstraint("event_id", name=op.f("uq_inbox_message_event_id")),
    )
    op.create_index(
        "ix_inbox_message_owner_newest", "inbox_message", ["owner_id", "created_at", "id"]
    )
    create_inbox_events("received_event")


def downgrade() -> None:
    drop_inbox_events("received_event")
    op.drop_index("ix_inbox_message_owner_newest", table_name="inbox_message")
    op.drop_table("inbox_message")
