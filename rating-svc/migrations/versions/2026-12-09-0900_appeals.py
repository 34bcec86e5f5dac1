"""appeals

A department appeals a bad review of its case; the tier above decides. An upheld appeal sets
the review's ``excluded_at`` (there since the first table) and closes its open rectification
as ``appealed``.

Revision ID: 2a7d5c3e9b61
Revises: 9c4a1e7f2d58
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2a7d5c3e9b61"
down_revision: str | None = "9c4a1e7f2d58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appeal",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rating_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("decider_department_id", sa.String(length=64), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("grounds", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("filed_by", sa.String(length=64), nullable=False),
        sa.Column("filed_by_role", sa.String(length=16), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appeal_due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rating_id"], ["rating.id"], name=op.f("fk_appeal_rating_id_rating")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeal")),
        sa.UniqueConstraint("rating_id", name=op.f("uq_appeal_rating_id")),
    )
    op.create_index(
        "ix_appeal_decider_status", "appeal", ["decider_department_id", "status", "filed_at"]
    )
    op.create_index(
        "ix_appeal_department_status", "appeal", ["department_id", "status", "filed_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_appeal_department_status", table_name="appeal")
    op.drop_index("ix_appeal_decider_status", table_name="appeal")
    op.drop_table("appeal")
