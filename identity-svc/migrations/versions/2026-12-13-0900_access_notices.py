"""access notices: an access to her data the exchange recorded becomes a message of her inbox
(who read what, why, when, its ledger seq), about neither a case nor an offer

Revision ID: 3c8e5f1a9b27
Revises: b7f44555af4a
Create Date: 2026-12-13 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3c8e5f1a9b27"
down_revision: str | None = "b7f44555af4a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ABOUT_A_CASE_OR_AN_OFFER = (
    "(offer_id IS NULL) = (case_no IS NOT NULL AND item_code IS NOT NULL"
    " AND case_status IS NOT NULL)"
)
ABOUT_ONE_THING = (
    "(CASE WHEN case_no IS NOT NULL AND item_code IS NOT NULL AND case_status IS NOT NULL"
    " THEN 1 ELSE 0 END)"
    " + (CASE WHEN offer_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN access_notice IS NULL THEN 0 ELSE 1 END) = 1"
)


def upgrade() -> None:
    with op.batch_alter_table("inbox_message") as batch:
        batch.add_column(sa.Column("access_notice", sa.JSON(), nullable=True))
        batch.drop_constraint(op.f("ck_inbox_message_about_a_case_or_an_offer"), type_="check")
        batch.create_check_constraint(op.f("ck_inbox_message_about_one_thing"), ABOUT_ONE_THING)


def downgrade() -> None:
    # Access notices go: the columns of a case's or an offer's message cannot hold them (each
    # access stays in her access log at the exchange).
    op.execute("DELETE FROM inbox_message WHERE access_notice IS NOT NULL")
    with op.batch_alter_table("inbox_message") as batch:
        batch.drop_constraint(op.f("ck_inbox_message_about_one_thing"), type_="check")
        batch.create_check_constraint(
            op.f("ck_inbox_message_about_a_case_or_an_offer"), ABOUT_A_CASE_OR_AN_OFFER
        )
        batch.drop_column("access_notice")
