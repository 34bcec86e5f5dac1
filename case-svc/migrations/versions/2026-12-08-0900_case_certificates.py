"""case certificates: electronic certificates a case holds as materials, read from the exchange

Revision ID: 5e1a7c3d9b24
Revises: 2f8b6d4e9a11
Create Date: 2026-12-08 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1a7c3d9b24"
down_revision: str | None = "2f8b6d4e9a11"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_certificate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("certificate_type", sa.String(length=64), nullable=False),
        sa.Column("certificate_name", sa.String(length=64), nullable=False),
        # Sealed (servicekit.sealing.SealedText): the column holds the sealed string.
        sa.Column("certificate_number", sa.Text(), nullable=False),
        sa.Column("issuing_department", sa.String(length=128), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("certificate_status", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        # Sealed (servicekit.sealing.SealedJSON): the sealed string as a JSON string.
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploader_role", sa.String(length=16), nullable=False),
        sa.Column("acting_for", sa.String(length=64), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_case_certificate_case_id_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_certificate")),
    )
    with op.batch_alter_table("case_certificate", schema=None) as batch_op:
        # A case's materials in the order they came, beside its uploads.
        batch_op.create_index(
            "ix_case_certificate_case", ["case_id", "uploaded_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_certificate", schema=None) as batch_op:
        batch_op.drop_index("ix_case_certificate_case")
    op.drop_table("case_certificate")
