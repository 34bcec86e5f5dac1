"""add known login address

Addresses an account signed in from (a keyed hash of the login name and the address): failed
sign-ins elsewhere do not slow sign-ins from them.

Revision ID: 3c7d9e1f5a24
Revises: 5b6a88265fec
Create Date: 2026-12-07 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c7d9e1f5a24"
down_revision: str | None = "5b6a88265fec"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_login_address",
        sa.Column("login_address_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("login_address_hash", name=op.f("pk_known_login_address")),
    )
    with op.batch_alter_table("known_login_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_known_login_address_signed_in_at"), ["signed_in_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("known_login_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_known_login_address_signed_in_at"))
    op.drop_table("known_login_address")
