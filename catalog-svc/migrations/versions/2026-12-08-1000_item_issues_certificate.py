"""the electronic certificate an item's completed application issues
(``service_item.issues_certificate``)

case-svc's deliver step then carries the certificate's number and publishes it to the exchange's
certificate library. Existing items issue none until the seed marks those that do. Only a
reviewed item issues one: an instant item is completed as it is filed, with nothing delivered.

Revision ID: 2f8a6d1c4e57
Revises: 676439763bf1
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2f8a6d1c4e57"
down_revision: str | None = "676439763bf1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("issues_certificate", sa.String(length=64), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_service_item_issues_certificate"),
            "issues_certificate IS NULL OR processing_mode = 'review'",
        )


def downgrade() -> None:
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_service_item_issues_certificate"), type_="check")
        batch_op.drop_column("issues_certificate")
