"""the handling workflow: who decides, the claim, the reviewer, the paused clock, and history
entries that say for whom, with which clock and what the step carried

Statuses and actions grow longer names (``supplement_requested``, ``request_supplement``).
Existing cases keep their statuses: ``submitted``, ``accepted``, ``completed``, ``withdrawn``
are statuses of the new workflow; ``rejected`` (the old refusal) becomes ``not_accepted`` when
it was refused at intake and ``denied`` when after acceptance. Their history entries by
``department`` are recorded as the ``handler``'s.

Revision ID: 7b1e4c9d2a30
Revises: 5d0c3a7e91b2
Create Date: 2026-12-07 05:30:00
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import chinese_calendar
import sqlalchemy as sa
from alembic import op

revision: str = "7b1e4c9d2a30"
down_revision: str | None = "5d0c3a7e91b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SHANGHAI = ZoneInfo("Asia/Shanghai")
_INTAKE_WORKING_DAYS = 5


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.alter_column(
            "status", existing_type=sa.String(length=16), type_=sa.String(length=24)
        )
        batch_op.add_column(
            sa.Column(
                "decision_approval",
                sa.String(length=16),
                nullable=False,
                server_default="single",
            )
        )
        batch_op.add_column(sa.Column("assignee_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reviewer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("statutory_due_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("statutory_working_days", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("clock_paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("intake_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_case_intake_due", ["status", "intake_due_at"], unique=False)
        batch_op.create_index(
            "ix_case_department_due", ["department_id", "due_at", "id"], unique=False
        )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        for column in ("action", "from_status", "status"):
            batch_op.alter_column(
                column, existing_type=sa.String(length=16), type_=sa.String(length=24)
            )
        batch_op.add_column(sa.Column("acting_for", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("clock", sa.String(length=8), nullable=False, server_default="running")
        )
        batch_op.add_column(sa.Column("detail", sa.JSON(), nullable=True))
    case = sa.table("case", sa.column("id", sa.Uuid()), sa.column("status", sa.String()))
    event = sa.table(
        "case_event",
        sa.column("case_id", sa.Uuid()),
        sa.column("action", sa.String()),
        sa.column("from_status", sa.String()),
        sa.column("status", sa.String()),
        sa.column("actor_role", sa.String()),
        sa.column("clock", sa.String()),
    )
    for refused_in, name in (("submitted", "not_accepted"), ("accepted", "denied")):
        refused = sa.select(event.c.case_id).where(
            event.c.status == "rejected", event.c.from_status == refused_in
        )
        op.execute(
            case.update()
            .where(case.c.status == "rejected", case.c.id.in_(refused))
            .values(status=name)
        )
        op.execute(
            event.update()
            .where(event.c.status == "rejected", event.c.from_status == refused_in)
            .values(status=name, action="not_accept" if name == "not_accepted" else "deny")
        )
    op.execute(
        event.update().where(event.c.actor_role == "department").values(actor_role="handler")
    )
    op.execute(
        event.update()
        .where(event.c.status.in_(["completed", "not_accepted", "denied", "withdrawn"]))
        .values(clock="stopped")
    )
    # Cases still in intake get their time for it from when they were received.
    received = sa.table(
        "case",
        sa.column("status", sa.String()),
        sa.column("processing_mode", sa.String()),
        sa.column("submitted_at", sa.DateTime(timezone=True)),
        sa.column("intake_due_at", sa.DateTime(timezone=True)),
    )
    rows = op.get_bind().execute(
        sa.select(received.c.submitted_at)
        .where(received.c.status == "submitted", received.c.processing_mode == "review")
        .distinct()
    )
    for (submitted_at,) in list(rows):
        op.execute(
            received.update()
            .where(received.c.status == "submitted", received.c.submitted_at == submitted_at)
            .values(intake_due_at=_intake_due(submitted_at))
        )
    # An instant item's completion was recorded as an approval by the system.
    op.execute(
        event.update()
        .where(event.c.action == "approve", event.c.actor_role == "system")
        .values(action="complete")
    )


def _intake_due(submitted_at: dt.datetime) -> dt.datetime:
    # The rule as it stands today (case_svc.workflow.deadlines), written out here: a migration
    # keeps the meaning it had when it was written.
    if submitted_at.tzinfo is None:
        submitted_at = submitted_at.replace(tzinfo=dt.UTC)
    local = submitted_at.astimezone(_SHANGHAI).date()
    counted = 0
    while counted < _INTAKE_WORKING_DAYS:
        local += dt.timedelta(days=1)
        try:
            working = chinese_calendar.is_workday(local)
        except NotImplementedError:
            working = local.weekday() < 5
        counted += working
    close = dt.datetime.combine(local, dt.time(23, 59, 59), tzinfo=_SHANGHAI)
    return close.astimezone(dt.UTC)


def downgrade() -> None:
    case = sa.table("case", sa.column("status", sa.String()))
    op.execute(
        case.update().where(case.c.status.in_(["not_accepted", "denied"])).values(status="rejected")
    )
    with op.batch_alter_table("case_event", schema=None) as batch_op:
        batch_op.drop_column("detail")
        batch_op.drop_column("clock")
        batch_op.drop_column("acting_for")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_department_due")
        batch_op.drop_index("ix_case_intake_due")
        for column in (
            "intake_due_at",
            "clock_paused_at",
            "statutory_working_days",
            "statutory_due_at",
            "warn_at",
            "reviewer_id",
            "claimed_at",
            "assignee_id",
            "decision_approval",
        ):
            batch_op.drop_column(column)
