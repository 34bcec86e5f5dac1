"""case events keep the staff number of the staff member who acted

The applicant's view of her case's history names staff by their part and staff number (工号),
never by account or name. Steps taken before have no number.

Revision ID: 6c4f2a8e1d37
Revises: 5e1a7c3d9b24
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "6c4f2a8e1d37"
down_revision: str | None = "5e1a7c3d9b24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_event", sa.Column("actor_staff_no", sa.String(length=24), nullable=True))


def downgrade() -> None:
    op.drop_column("case_event", "actor_staff_no")
