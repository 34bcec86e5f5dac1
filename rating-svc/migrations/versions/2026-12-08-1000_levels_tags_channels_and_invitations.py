"""levels, tags, channels and invitations

A rating is a level (5 very satisfied … 1 very dissatisfied) with optional dimension scores,
tags, a channel and the rater beside the applicant; a case is rated once (and its rectification
once more: ``kind``). Invitations come from case-svc's ``case.completed`` through the inbox.
Ratings written before get the lowest of their three scores as their level (the old rule of a
bad review: any score of 2 or less).

Revision ID: 8b1f6d2c4a90
Revises: 3e8a5c1d9f47
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from servicekit.migrations import create_inbox_events, drop_inbox_events

revision: str = "8b1f6d2c4a90"
down_revision: str | None = "3e8a5c1d9f47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOWEST_SCORE = (
    "CASE WHEN efficiency <= quality AND efficiency <= attitude THEN efficiency "
    "WHEN quality <= attitude THEN quality ELSE attitude END"
)


def upgrade() -> None:
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.alter_column("citizen_id", new_column_name="applicant_id")
        batch_op.drop_index("ix_rating_citizen_id")
        batch_op.drop_constraint("uq_rating_case_no", type_="unique")
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="case")
        )
        batch_op.add_column(
            sa.Column(
                "applicant_type", sa.String(length=16), nullable=False, server_default="citizen"
            )
        )
        batch_op.add_column(sa.Column("level", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("bad_review", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="app")
        )
        batch_op.add_column(
            sa.Column("case_completed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("excluded_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        f"UPDATE rating SET level = {_LOWEST_SCORE}, bad_review = ({_LOWEST_SCORE}) <= 2, "
        "tags = '[]'"
    )
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.alter_column("level", existing_type=sa.SmallInteger(), nullable=False)
        batch_op.alter_column("bad_review", existing_type=sa.Boolean(), nullable=False)
        batch_op.alter_column("tags", existing_type=sa.JSON(), nullable=False)
        for score in ("efficiency", "quality", "attitude"):
            batch_op.alter_column(score, existing_type=sa.SmallInteger(), nullable=True)
        batch_op.alter_column("kind", server_default=None, existing_type=sa.String(length=16))
        batch_op.alter_column(
            "applicant_type", server_default=None, existing_type=sa.String(length=16)
        )
        batch_op.alter_column("channel", server_default=None, existing_type=sa.String(length=16))
        batch_op.create_index("ix_rating_applicant_id", ["applicant_id"], unique=False)
        batch_op.create_unique_constraint("uq_rating_case_no_kind", ["case_no", "kind"])

    op.create_table(
        "invitation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_no", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("applicant_id", sa.String(length=64), nullable=False),
        sa.Column("applicant_type", sa.String(length=16), nullable=False),
        sa.Column("department_id", sa.String(length=64), nullable=False),
        sa.Column("item_code", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rating_id", sa.Uuid(), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rating_id"], ["rating.id"], name=op.f("fk_invitation_rating_id_rating")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitation")),
        sa.UniqueConstraint("case_no", "kind", name="uq_invitation_case_no_kind"),
    )
    op.create_index(
        "ix_invitation_applicant_list",
        "invitation",
        ["applicant_id", "invited_at", "id"],
        unique=False,
    )
    create_inbox_events()


def downgrade() -> None:
    drop_inbox_events()
    op.drop_index("ix_invitation_applicant_list", table_name="invitation")
    op.drop_table("invitation")
    op.execute("DELETE FROM rating WHERE kind <> 'case'")
    op.execute(
        "UPDATE rating SET efficiency = COALESCE(efficiency, level), "
        "quality = COALESCE(quality, level), attitude = COALESCE(attitude, level)"
    )
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.drop_constraint("uq_rating_case_no_kind", type_="unique")
        batch_op.drop_index("ix_rating_applicant_id")
        for score in ("efficiency", "quality", "attitude"):
            batch_op.alter_column(score, existing_type=sa.SmallInteger(), nullable=False)
        for column in (
            "excluded_at",
            "case_completed_at",
            "channel",
            "tags",
            "bad_review",
            "level",
            "applicant_type",
            "kind",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("applicant_id", new_column_name="citizen_id")
    with op.batch_alter_table("rating", schema=None) as batch_op:
        batch_op.create_index("ix_rating_citizen_id", ["citizen_id"], unique=False)
        batch_op.create_unique_constraint("uq_rating_case_no", ["case_no"])
