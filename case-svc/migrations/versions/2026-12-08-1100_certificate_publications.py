"""certificates a completed case issues, and their publication to the exchange

A case keeps the certificate type its item issues and, sealed, its applicant as the exchange
names a subject; the deliver step writes the certificate (its number sealed) as a pending
publication, which case-svc's publisher sends to the exchange's certificate library.

Revision ID: 7b3e9c2a5d16
Revises: 6c4f2a8e1d37
Create Date: 2026-12-08 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7b3e9c2a5d16"
down_revision: str | None = "6c4f2a8e1d37"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issues_certificate", sa.String(length=64), nullable=True))
        # Sealed (servicekit.sealing.SealedJSON): the sealed string as a JSON string.
        batch_op.add_column(sa.Column("certificate_holder", sa.JSON(), nullable=True))
    op.create_table(
        "certificate_publication",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("certificate_type", sa.String(length=64), nullable=False),
        # Sealed (servicekit.sealing.SealedText): the column holds the sealed string.
        sa.Column("certificate_number", sa.Text(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("issuing_department", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=64), nullable=True),
        sa.Column("refusal_code", sa.String(length=64), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["case.id"], name=op.f("fk_certificate_publication_case_id_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificate_publication")),
        sa.UniqueConstraint("case_id", name=op.f("uq_certificate_publication_case_id")),
    )
    op.create_index(
        "ix_certificate_publication_due",
        "certificate_publication",
        ["status", "attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_certificate_publication_due", table_name="certificate_publication")
    op.drop_table("certificate_publication")
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_column("certificate_holder")
        batch_op.drop_column("issues_certificate")
