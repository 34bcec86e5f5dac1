"""rectification on the clock

A rectification is owned by the handling department and moves through
``rules/rectification.toml``: a call-back due in 1 working day, a rectification due in 15, the
citizen's follow-up rating; overdue steps are marked once and escalated to the tier above; its
history is kept entry by entry. Rectifications opened before get the dues of the shipped
settings, counted from their opening, and wait for their call-back.

Revision ID: 5d2e7a9c1b34
Revises: 8b1f6d2c4a90
Create Date: 2026-12-08 11:00:00
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.working_days import deadline_after

revision: str = "5d2e7a9c1b34"
down_revision: str | None = "8b1f6d2c4a90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The shipped RATING_CALL_BACK_WORKING_DAYS and RATING_RECTIFICATION_WORKING_DAYS.
_CALL_BACK_DAYS = 1
_RECTIFICATION_DAYS = 15
_FROM_RATING = ("case_no", "item_code", "region_code", "applicant_id")
_NOT_NULL = (
    ("case_no", sa.String(length=40)),
    ("item_code", sa.String(length=64)),
    ("region_code", sa.String(length=12)),
    ("applicant_id", sa.String(length=64)),
    ("version", sa.Integer()),
    ("call_back_due_at", sa.DateTime(timezone=True)),
    ("rectification_due_at", sa.DateTime(timezone=True)),
    ("due_provisional", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=16), type_=sa.String(length=24)
        )
        for name, kind in _NOT_NULL:
            batch_op.add_column(sa.Column(name, kind, nullable=True))
        for name in (
            "called_back_at",
            "call_back_recorded_at",
            "rectified_at",
            "follow_up_due_at",
            "call_back_overdue_at",
            "rectification_overdue_at",
            "closed_at",
        ):
            batch_op.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("call_back_channel", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("call_back_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rectification_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("escalated_to_department_id", sa.String(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("follow_up_rating_id", sa.Uuid(), nullable=True))

    for name in _FROM_RATING:
        op.execute(
            f"UPDATE rectification SET {name} = "
            f"(SELECT rating.{name} FROM rating WHERE rating.id = rectification.rating_id)"
        )
    op.execute("UPDATE rectification SET status = 'awaiting_call_back', version = 1")
    rectification = sa.table(
        "rectification",
        sa.column("id", sa.Uuid()),
        sa.column("opened_at", sa.DateTime(timezone=True)),
        sa.column("call_back_due_at", sa.DateTime(timezone=True)),
        sa.column("rectification_due_at", sa.DateTime(timezone=True)),
        sa.column("due_provisional", sa.Boolean()),
    )
    connection = op.get_bind()
    opened = connection.execute(sa.select(rectification.c.id, rectification.c.opened_at)).all()
    for rectification_id, opened_at in opened:
        if opened_at.tzinfo is None:  # SQLite keeps no zone: the kit stores UTC
            opened_at = opened_at.replace(tzinfo=dt.UTC)
        call_back = deadline_after(opened_at, _CALL_BACK_DAYS)
        rectified = deadline_after(opened_at, _RECTIFICATION_DAYS)
        connection.execute(
            sa.update(rectification)
            .where(rectification.c.id == rectification_id)
            .values(
                call_back_due_at=call_back.due_at,
                rectification_due_at=rectified.due_at,
                due_provisional=call_back.provisional or rectified.provisional,
            )
        )

    with op.batch_alter_table("rectification", schema=None) as batch_op:
        for name, kind in _NOT_NULL:
            batch_op.alter_column(name, existing_type=kind, nullable=False)
        batch_op.create_foreign_key(
            op.f("fk_rectification_follow_up_rating_id_rating"),
            "rating",
            ["follow_up_rating_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_rectification_status_call_back_due_at", ["status", "call_back_due_at"]
        )
        batch_op.create_index(
            "ix_rectification_status_rectification_due_at", ["status", "rectification_due_at"]
        )
        batch_op.create_index("ix_rectification_queue", ["department_id", "opened_at", "id"])
        batch_op.create_index(op.f("ix_rectification_applicant_id"), ["applicant_id"])
        batch_op.create_index(
            op.f("ix_rectification_escalated_to_department_id"), ["escalated_to_department_id"]
        )

    op.create_table(
        "rectification_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rectification_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("acting_for", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["rectification_id"],
            ["rectification.id"],
            name=op.f("fk_rectification_event_rectification_id_rectification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rectification_event")),
        sa.UniqueConstraint("rectification_id", "seq", name="uq_rectification_event_seq"),
    )
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rectification_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_invitation_rectification_id_rectification"),
            "rectification",
            ["rectification_id"],
            ["id"],
        )


def downgrade() -> None:
    op.execute("DELETE FROM invitation WHERE kind = 'follow_up'")
    with op.batch_alter_table("invitation", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_invitation_rectification_id_rectification"), type_="foreignkey"
        )
        batch_op.drop_column("rectification_id")
    op.drop_table("rectification_event")
    op.execute("UPDATE rectification SET follow_up_rating_id = NULL")
    op.execute("DELETE FROM rating WHERE kind = 'follow_up'")
    op.execute("UPDATE rectification SET status = 'open'")
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_rectification_escalated_to_department_id"))
        batch_op.drop_index(op.f("ix_rectification_applicant_id"))
        batch_op.drop_index("ix_rectification_queue")
        batch_op.drop_index("ix_rectification_status_rectification_due_at")
        batch_op.drop_index("ix_rectification_status_call_back_due_at")
        batch_op.drop_constraint(
            op.f("fk_rectification_follow_up_rating_id_rating"), type_="foreignkey"
        )
        for name in (
            "follow_up_rating_id",
            "escalated_to_department_id",
            "rectification_note",
            "call_back_note",
            "call_back_channel",
            "closed_at",
            "rectification_overdue_at",
            "call_back_overdue_at",
            "follow_up_due_at",
            "rectified_at",
            "call_back_recorded_at",
            "called_back_at",
            *(name for name, _kind in reversed(_NOT_NULL)),
        ):
            batch_op.drop_column(name)
        batch_op.alter_column(
            "status", existing_type=sa.String(length=24), type_=sa.String(length=16)
        )
