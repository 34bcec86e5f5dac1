"""case materials: the files a case holds, described here, their content sealed in the store

Revision ID: 7c2883ef6370
Revises: 4c2d9e8a1f57
Create Date: 2026-12-07 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2883ef6370"
down_revision: str | None = "4c2d9e8a1f57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_material",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        # Sealed (servicekit.sealing.SealedText): the column holds the sealed string.
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=100), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploader_role", sa.String(length=16), nullable=False),
        sa.Column("acting_for", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_material_case_id_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_material")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_case_material_storage_key")),
    )
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        # A case's materials in the order they came.
        batch_op.create_index(
            "ix_case_material_case", ["case_id", "uploaded_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_material", schema=None) as batch_op:
        batch_op.drop_index("ix_case_material_case")
    op.drop_table("case_material")
