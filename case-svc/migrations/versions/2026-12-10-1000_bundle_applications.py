"""one-issue applications: a bundle filed once, a child case at each department it concerns

A bundle draft's children are draft applications (``draft_no``) until it is submitted.

Revision ID: 8b6d2f0e4a31
Revises: 3e8a5c1f7b24
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b6d2f0e4a31"
down_revision: str | None = "3e8a5c1f7b24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bundle_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("application_no", sa.String(length=40), nullable=False),
        sa.Column("bundle_code", sa.String(length=48), nullable=False),
        sa.Column("bundle_name", sa.String(length=128), nullable=False),
        sa.Column("applicant_id", sa.String(length=64), nullable=False),
        sa.Column("applicant_type", sa.String(length=16), nullable=False),
        sa.Column("applicant_region", sa.String(length=12), nullable=False),
        sa.Column("request_key", sa.String(length=64), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("left_out", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bundle_application")),
        sa.UniqueConstraint("application_no", name=op.f("uq_bundle_application_application_no")),
        sa.UniqueConstraint("request_key", name=op.f("uq_bundle_application_request_key")),
    )
    op.create_index(
        "ix_bundle_application_applicant_newest",
        "bundle_application",
        ["applicant_id", "created_at"],
    )
    op.create_table(
        "bundle_child",
        sa.Column("application_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.SmallInteger(), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("department_name", sa.String(length=200), nullable=False),
        sa.Column("department_tier", sa.String(length=16), nullable=False),
        sa.Column("department_region", sa.String(length=12), nullable=False),
        sa.Column("draft_no", sa.String(length=40), nullable=True),
        sa.Column("case_no", sa.String(length=40), nullable=True),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["bundle_application.id"],
            name=op.f("fk_bundle_child_application_id_bundle_application"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("application_id", "seq", name=op.f("pk_bundle_child")),
    )


def downgrade() -> None:
    op.drop_table("bundle_child")
    op.drop_index("ix_bundle_application_applicant_newest", table_name="bundle_application")
    op.drop_table("bundle_application")
