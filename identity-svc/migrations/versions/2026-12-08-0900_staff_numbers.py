"""staff numbers (工号): each staff account gets one, and a counter per region gives them out

An applicant sees who acted on her case by their staff number, never their name. Staff
accounts made before get their numbers here, in creation order (their ids are UUIDv7), per
region, and the counters start after them.

Revision ID: 7b2e4c6d8f10
Revises: 1d3d1502870c
Create Date: 2026-12-08 09:00:00
"""

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b2e4c6d8f10"
down_revision: str | None = "1d3d1502870c"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: As ``identity_svc.staff.service.PLATFORM_STAFF_REGION`` (a migration keeps its own copy).
PLATFORM_STAFF_REGION = "000000"

account = sa.table(
    "account",
    sa.column("id", sa.Uuid()),
    sa.column("typ", sa.String()),
    sa.column("dept", sa.String()),
    sa.column("staff_no", sa.String()),
)


def upgrade() -> None:
    counter = op.create_table(
        "staff_number_counter",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", name=op.f("pk_staff_number_counter")),
    )
    # A unique index, not a constraint: SQLite adds it without rebuilding the account table,
    # which the tables that refer to accounts would refuse.
    op.add_column("account", sa.Column("staff_no", sa.String(length=24), nullable=True))
    op.create_index(op.f("ix_account_staff_no"), "account", ["staff_no"], unique=True)

    bind = op.get_bind()
    staff = bind.execute(
        sa.select(account.c.id, account.c.dept)
        .where(account.c.typ == "staff")
        .order_by(account.c.id)
    ).all()
    last: dict[str, int] = defaultdict(int)
    for staff_id, dept in staff:
        region = dept.partition("-")[0] if dept else PLATFORM_STAFF_REGION
        last[region] += 1
        bind.execute(
            account.update()
            .where(account.c.id == staff_id)
            .values(staff_no=f"{region}-{last[region]:04d}")
        )
    if last:
        op.bulk_insert(
            counter,
            [{"region_code": region, "last_value": value} for region, value in last.items()],
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_staff_no"), table_name="account")
    op.drop_column("account", "staff_no")
    op.drop_table("staff_number_counter")
