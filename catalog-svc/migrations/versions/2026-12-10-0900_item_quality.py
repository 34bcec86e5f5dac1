"""each item's live quality, counted from other services' events

``item_quality``: per item and department, first ratings (satisfied, bad reviews) and completed
cases; ``item_working_days``: how many completed cases took so many working days; and the inbox
of the events counted (``case.completed``, ``rating.created``, ``appeal.decided``). Empty at
first: the figures start from the events posted after this version is deployed.

Revision ID: 5d2b8e4a9c13
Revises: 8c41d2a7e915
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_inbox_events, drop_inbox_events

revision: str = "5d2b8e4a9c13"
down_revision: str | None = "8c41d2a7e915"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_quality",
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.Column("bad_reviews", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("item_code", "department_id", name=op.f("pk_item_quality")),
    )
    op.create_index(op.f("ix_item_quality_changed_at"), "item_quality", ["changed_at"])
    op.create_table(
        "item_working_days",
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "item_code", "department_id", "working_days", name=op.f("pk_item_working_days")
        ),
    )
    op.create_index(op.f("ix_item_working_days_changed_at"), "item_working_days", ["changed_at"])
    create_inbox_events()


def downgrade() -> None:
    drop_inbox_events()
    op.drop_index(op.f("ix_item_working_days_changed_at"), table_name="item_working_days")
    op.drop_table("item_working_days")
    op.drop_index(op.f("ix_item_quality_changed_at"), table_name="item_quality")
    op.drop_table("item_quality")
