"""hosted datasets: the hosted_record table; resources' subject kinds and rows per subject;
fields' value types, choices and nullability

Revision ID: e3a5f98ef8ba
Revises: 965f8b73193d
Create Date: 2026-11-26 11:17:40.603029
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e3a5f98ef8ba"
down_revision: str | None = "965f8b73193d"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hosted_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("resource_code", sa.String(length=64), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("field_values", sa.JSON(), nullable=False),
        sa.Column("sealed_values", sa.LargeBinary(), nullable=True),
        sa.Column("identifier_hashes", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_code"],
            ["data_resource.code"],
            name=op.f("fk_hosted_record_resource_code_data_resource"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hosted_record")),
        sa.UniqueConstraint(
            "resource_code", "subject_hash", "position", name=op.f("uq_hosted_record_resource_code")
        ),
    )
    with op.batch_alter_table("data_resource", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("subject_kinds", sa.JSON(), server_default='["person"]', nullable=False)
        )
        batch_op.add_column(
            sa.Column("rows_per_subject", sa.String(length=8), server_default="one", nullable=False)
        )

    with op.batch_alter_table("resource_field", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("value_type", sa.String(length=32), server_default="text", nullable=False)
        )
        batch_op.add_column(sa.Column("choices", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("nullable", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("resource_field", schema=None) as batch_op:
        batch_op.drop_column("nullable")
        batch_op.drop_column("choices")
        batch_op.drop_column("value_type")

    with op.batch_alter_table("data_resource", schema=None) as batch_op:
        batch_op.drop_column("rows_per_subject")
        batch_op.drop_column("subject_kinds")

    op.drop_table("hosted_record")
