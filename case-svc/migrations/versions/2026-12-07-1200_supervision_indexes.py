"""supervision's indexes: a department's cases by completion, its open cases, and (PostgreSQL)
its cases by filing in bytewise order

Supervision counts a department's cases filed in a period, completed in it and open now, each
on an index that holds exactly those (``case_svc.supervision.repository``), and pages its rows
by department id in bytewise order, the order the gateway merges the instances' rows in. On
PostgreSQL the department id is indexed with ``COLLATE "C"`` for that order; the existing
``ix_case_department_newest`` has the database's collation, which sorts ``-`` and ``_`` as
nothing under a language's rules, so the filing index is built again bytewise there. SQLite's
default collation is bytewise: its existing index serves.

The open statuses' condition is written out here, as the partial index must keep it whatever
the code later calls ended; the queries write the same list (``ENDED_STATUSES``).

Revision ID: 4c2d9e8a1f57
Revises: 9e2a6c1f4b73
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c2d9e8a1f57"
down_revision: str | None = "9e2a6c1f4b73"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = "status NOT IN ('completed', 'denied', 'not_accepted', 'withdrawn')"


def _department(postgresql: bool) -> sa.TextClause | str:
    return sa.text('department_id COLLATE "C"') if postgresql else "department_id"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    department = _department(postgresql)
    if postgresql:
        op.create_index("ix_case_department_filed", "case", [department, "submitted_at"])
    op.create_index("ix_case_department_completed", "case", [department, "completed_at"])
    op.create_index(
        "ix_case_department_open",
        "case",
        [department],
        postgresql_where=sa.text(_OPEN),
        sqlite_where=sa.text(_OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_case_department_open", table_name="case")
    op.drop_index("ix_case_department_completed", table_name="case")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_case_department_filed", table_name="case")
