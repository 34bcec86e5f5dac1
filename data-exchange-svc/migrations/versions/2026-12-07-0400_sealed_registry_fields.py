"""the registries' personal fields sealed at rest

The population registry's name, birth date, ethnicity and address become text columns holding
sealed values (``servicekit.sealing``); its face template and the hosted records' fields keep
their columns and hold sealed values too. Values already stored read as they are until
``python -m servicekit.sealing rewrap`` seals them.

Revision ID: 8e4f0a2b6c19
Revises: 5d1c2a7e9f30
Create Date: 2026-12-07 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8e4f0a2b6c19"
down_revision: str | None = "5d1c2a7e9f30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT_COLUMNS = {
    "name": sa.String(length=64),
    "ethnicity": sa.String(length=16),
    "registered_address": sa.String(length=256),
}


def upgrade() -> None:
    with op.batch_alter_table("population_record", schema=None) as batch_op:
        for column, was in _TEXT_COLUMNS.items():
            batch_op.alter_column(
                column, existing_type=was, type_=sa.Text(), existing_nullable=False
            )
        batch_op.alter_column(
            "birth_date",
            existing_type=sa.Date(),
            type_=sa.Text(),
            existing_nullable=False,
            postgresql_using="birth_date::text",
        )


def downgrade() -> None:
    # Only a registry whose values were never sealed goes back (sealed text is no date).
    with op.batch_alter_table("population_record", schema=None) as batch_op:
        batch_op.alter_column(
            "birth_date",
            existing_type=sa.Text(),
            type_=sa.Date(),
            existing_nullable=False,
            postgresql_using="birth_date::date",
        )
        for column, was in _TEXT_COLUMNS.items():
            batch_op.alter_column(
                column, existing_type=sa.Text(), type_=was, existing_nullable=False
            )
