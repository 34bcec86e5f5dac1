"""certificates their issuers publish to the certificate library, one at a time

Revision ID: 4c7e2a9d5b13
Revises: 8e4f0a2b6c19
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c7e2a9d5b13"
down_revision: str | None = "8e4f0a2b6c19"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "issued_certificate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("certificate_type", sa.String(length=64), nullable=False),
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("issuing_department", sa.String(length=128), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("published_by", sa.String(length=128), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_certificate")),
        sa.UniqueConstraint("call_id", name=op.f("uq_issued_certificate_call_id")),
        sa.UniqueConstraint(
            "certificate_type",
            "number_hash",
            name=op.f("uq_issued_certificate_certificate_type"),
        ),
    )


def downgrade() -> None:
    op.drop_table("issued_certificate")
