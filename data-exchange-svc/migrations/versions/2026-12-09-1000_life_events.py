"""life events, departments' subscriptions and their deliveries, the platform's outbox

Revision ID: 6e1b3d9a0c47
Revises: 4c7e2a9d5b13
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_outbox_events, drop_outbox_events

revision: str = "6e1b3d9a0c47"
down_revision: str | None = "4c7e2a9d5b13"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_events("event_delivery")

    op.create_table(
        "event_subscription",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=512), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_subscription")),
    )
    with op.batch_alter_table("event_subscription", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_subscription_department"), ["department"], unique=False
        )
        batch_op.create_index(
            "ix_event_subscription_type_status", ["event_type", "status"], unique=False
        )

    op.create_table(
        "life_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("resource_code", sa.String(length=64), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=12), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("recorded_by", sa.String(length=128), nullable=False),
        sa.Column("occurrence", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_life_event")),
        sa.UniqueConstraint("occurrence", name=op.f("uq_life_event_occurrence")),
    )
    with op.batch_alter_table("life_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_life_event_subject_hash"), ["subject_hash"], unique=False
        )

    create_outbox_events()


def downgrade() -> None:
    drop_outbox_events()
    with op.batch_alter_table("life_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_life_event_subject_hash"))

    op.drop_table("life_event")
    with op.batch_alter_table("event_subscription", schema=None) as batch_op:
        batch_op.drop_index("ix_event_subscription_type_status")
        batch_op.drop_index(batch_op.f("ix_event_subscription_department"))

    op.drop_table("event_subscription")
    drop_outbox_events("event_delivery")
