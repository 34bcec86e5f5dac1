"""draft applications, and the provenance of a case's form

A draft application is an item's form being filled in (partly by the platform, with its
provenance) until it is submitted and becomes a case; the case keeps each field's provenance.

Revision ID: 9d1f4b7e2c60
Revises: 7b3e9c2a5d16
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d1f4b7e2c60"
down_revision: str | None = "7b3e9c2a5d16"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        # Sealed (servicekit.sealing.SealedJSON): the sealed string as a JSON string.
        batch_op.add_column(sa.Column("form_provenance", sa.JSON(), nullable=True))
    op.create_table(
        "draft",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("draft_no", sa.String(length=40), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("item_version", sa.String(length=32), nullable=False),
        sa.Column("applicant_id", sa.String(length=64), nullable=False),
        sa.Column("applicant_type", sa.String(length=16), nullable=False),
        sa.Column("applicant_region", sa.String(length=12), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("department_name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        # Sealed (servicekit.sealing.SealedJSON): the sealed string as a JSON string.
        sa.Column("form", sa.JSON(), nullable=False),
        sa.Column("provenance", sa.JSON(), nullable=False),  # sealed likewise
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft")),
        sa.UniqueConstraint("draft_no", name=op.f("uq_draft_draft_no")),
    )
    op.create_index(
        "ix_draft_applicant_newest", "draft", ["applicant_id", "created_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_draft_applicant_newest", table_name="draft")
    op.drop_table("draft")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("form_provenance")
