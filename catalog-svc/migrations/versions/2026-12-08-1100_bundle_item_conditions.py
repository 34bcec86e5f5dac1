"""the conditions that leave a bundle's item out for an applicant it does not concern
(``bundle.item_conditions``: item code → condition over the merged form's answers)

Existing bundles read no conditions (every item applies), as they did; the seed then writes
those of ``data/bundles.toml``.

Revision ID: 8c41d2a7e915
Revises: 2f8a6d1c4e57
Create Date: 2026-12-08 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "8c41d2a7e915"
down_revision: str | None = "2f8a6d1c4e57"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bundle", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "item_conditions",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("bundle", schema=None) as batch_op:
        batch_op.drop_column("item_conditions")
