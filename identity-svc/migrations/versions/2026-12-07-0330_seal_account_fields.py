"""an account's birth date, sex and region, and a session's address, sealed at rest

The columns become text holding sealed values (``servicekit.sealing``); values stored before
read as they are until ``python -m servicekit.sealing rewrap`` seals them. On PostgreSQL only:
SQLite keeps any text in these columns as they are, and rebuilding ``account`` there would trip
the foreign keys that point at it.

Revision ID: 9c3d5e7f1a20
Revises: 3c7d9e1f5a24
Create Date: 2026-12-07 03:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c3d5e7f1a20"
down_revision: str | None = "3c7d9e1f5a24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.alter_column(
            "birth_date",
            existing_type=sa.Date(),
            type_=sa.Text(),
            existing_nullable=True,
            postgresql_using="birth_date::text",
        )
        batch_op.alter_column(
            "sex", existing_type=sa.String(length=8), type_=sa.Text(), existing_nullable=True
        )
        batch_op.alter_column(
            "region_code",
            existing_type=sa.String(length=12),
            type_=sa.Text(),
            existing_nullable=True,
        )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.alter_column(
            "client_address",
            existing_type=sa.String(length=64),
            type_=sa.Text(),
            existing_nullable=True,
        )


def downgrade() -> None:
    # Only values never sealed go back (sealed text is no date).
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.alter_column(
            "client_address",
            existing_type=sa.Text(),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.alter_column(
            "region_code",
            existing_type=sa.Text(),
            type_=sa.String(length=12),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "sex", existing_type=sa.Text(), type_=sa.String(length=8), existing_nullable=True
        )
        batch_op.alter_column(
            "birth_date",
            existing_type=sa.Text(),
            type_=sa.Date(),
            existing_nullable=True,
            postgresql_using="birth_date::date",
        )
