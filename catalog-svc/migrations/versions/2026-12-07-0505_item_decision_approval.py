"""who decides an item's reviewed applications: the handler who reviewed one, or a supervisor who
did not review it approving the decision (``service_item.decision_approval``)

Existing items read "single", as they were handled until case-svc had a supervisor's step; the
seed then marks the items that need a second person. Only a reviewed item can need one: an
instant item's application is decided as it is filed.

Revision ID: 676439763bf1
Revises: 15e7c002288b
Create Date: 2026-12-07 05:05:40
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "676439763bf1"
down_revision: str | None = "15e7c002288b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "decision_approval", sa.String(length=16), server_default="single", nullable=False
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_service_item_decision_approval"),
            "decision_approval = 'single' "
            "OR (decision_approval = 'second_person' AND processing_mode = 'review')",
        )


def downgrade() -> None:
    with op.batch_alter_table("service_item", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_service_item_decision_approval"), type_="check")
        batch_op.drop_column("decision_approval")
