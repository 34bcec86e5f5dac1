"""record changes held for a data steward's approval

A provider's load that changes identity-critical fields of a held subject (a name, a face
template, a legal representative) waits in ``record_change`` until a second person decides.

Revision ID: 3b8e61f0c2d4
Revises: 7c2d9e4b1a63
Create Date: 2026-12-07 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3b8e61f0c2d4"
down_revision: str | None = "7c2d9e4b1a63"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "record_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resource_code", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("department", sa.String(length=128), nullable=False),
        sa.Column("department_type", sa.String(length=64), nullable=False),
        sa.Column("department_region", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("records_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=256), nullable=True),
        sa.ForeignKeyConstraint(
            ["resource_code"],
            ["data_resource.code"],
            name=op.f("fk_record_change_resource_code_data_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_change")),
    )
    op.create_index(
        "ix_record_change_type_status",
        "record_change",
        ["department_type", "status", "department_region"],
    )


def downgrade() -> None:
    op.drop_index("ix_record_change_type_status", table_name="record_change")
    op.drop_table("record_change")
