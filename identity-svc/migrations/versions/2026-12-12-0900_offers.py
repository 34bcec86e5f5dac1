"""offers: a life event of hers becomes an offer to file what it calls for, and a message of
her inbox points to it (a case's columns are then empty)

Revision ID: b7f44555af4a
Revises: 4f7c2a9e1b58
Create Date: 2026-12-12 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7f44555af4a"
down_revision: str | None = "4f7c2a9e1b58"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ABOUT_A_CASE_OR_AN_OFFER = (
    "(offer_id IS NULL) = (case_no IS NOT NULL AND item_code IS NOT NULL"
    " AND case_status IS NOT NULL)"
)


def upgrade() -> None:
    op.create_table(
        "offer",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("life_event_id", sa.Uuid(), nullable=False),
        sa.Column("bundle_code", sa.String(length=48), nullable=True),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("draft_no", sa.String(length=40), nullable=True),
        sa.Column("application_no", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'declined')", name=op.f("ck_offer_status")
        ),
        sa.CheckConstraint(
            "(bundle_code IS NULL) <> (item_code IS NULL)", name=op.f("ck_offer_files_one_thing")
        ),
        sa.CheckConstraint(
            "status <> 'confirmed' OR application_no IS NOT NULL", name=op.f("ck_offer_filed")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offer")),
        sa.UniqueConstraint("owner_id", "life_event_id", name=op.f("uq_offer_owner_id")),
    )
    op.create_index("ix_offer_owner_newest", "offer", ["owner_id", "created_at", "id"])
    with op.batch_alter_table("inbox_message") as batch:
        batch.alter_column("case_no", existing_type=sa.String(length=40), nullable=True)
        batch.alter_column("item_code", existing_type=sa.String(length=64), nullable=True)
        batch.alter_column("case_status", existing_type=sa.String(length=32), nullable=True)
        batch.add_column(sa.Column("offer_id", sa.Uuid(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_inbox_message_offer_id_offer"), "offer", ["offer_id"], ["id"]
        )
        batch.create_check_constraint(
            op.f("ck_inbox_message_about_a_case_or_an_offer"), ABOUT_A_CASE_OR_AN_OFFER
        )


def downgrade() -> None:
    # An offer's messages go with the offers: the columns of a case's cannot hold them.
    op.execute("DELETE FROM inbox_message WHERE offer_id IS NOT NULL")
    with op.batch_alter_table("inbox_message") as batch:
        batch.drop_constraint(op.f("ck_inbox_message_about_a_case_or_an_offer"), type_="check")
        batch.drop_constraint(op.f("fk_inbox_message_offer_id_offer"), type_="foreignkey")
        batch.drop_column("offer_id")
        batch.alter_column("case_status", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("item_code", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("case_no", existing_type=sa.String(length=40), nullable=False)
    op.drop_index("ix_offer_owner_newest", table_name="offer")
    op.drop_table("offer")
