"""a second administrator's approval of a draft, and its entry in the audit trail

A change to an item's assurance level, handling tier or fee is published only once a second
administrator has approved the draft: who approved it and when is kept on the draft, and the
audit trail records each approval (the action ``approved``).

Revision ID: 15e7c002288b
Revises: 9b1f4e2c7a30
Create Date: 2026-12-07 02:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "15e7c002288b"
down_revision: str | None = "9b1f4e2c7a30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIONS = "'created', 'draft_opened', 'edited', 'published', 'withdrawn'"
_ACTIONS_WITH_APPROVAL = "'created', 'draft_opened', 'edited', 'approved', 'published', 'withdrawn'"


def upgrade() -> None:
    with op.batch_alter_table("service_item_draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approved_by_dept", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("item_audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_item_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_item_audit_entry_action"), f"action IN ({_ACTIONS_WITH_APPROVAL})"
        )


def downgrade() -> None:
    # The schema before had no approvals: their entries go with the action they record.
    op.execute(sa.text("DELETE FROM item_audit_entry WHERE action = 'approved'"))
    with op.batch_alter_table("item_audit_entry", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_item_audit_entry_action"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_item_audit_entry_action"), f"action IN ({_ACTIONS})"
        )

    with op.batch_alter_table("service_item_draft", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by_dept")
        batch_op.drop_column("approved_by")
