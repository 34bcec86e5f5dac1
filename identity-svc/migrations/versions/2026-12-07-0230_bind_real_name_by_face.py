"""bind real name by face

A real-name check no longer binds an ID number: it records a claim, and the face match against
that number's registry template binds it (a later face match on another account takes it over).
New: the claim's columns on ``account`` and the ``binding_event`` audit trail.

Bindings made before by name and number alone, on an account that never passed a face match,
are not trusted: they become claims (the account back at level 1), so that whoever made them
must pass the face match before acting in that person's name. Downgrading drops the claims.

Revision ID: 5b6a88265fec
Revises: 674665c0fe7e
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5b6a88265fec"
down_revision: str | None = "674665c0fe7e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("real_name_claimed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("claimed_name_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("claimed_id_number_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_id_number_hash", sa.String(length=64), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_account_claimed_id_number_hash"),
            ["claimed_id_number_hash"],
            unique=False,
        )

    op.create_table(
        "binding_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=False),
        sa.Column("other_account_id", sa.Uuid(), nullable=True),
        sa.Column("id_number_hash", sa.String(length=64), nullable=False),
        sa.Column("face_attempt_id", sa.Uuid(), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('bound', 'taken', 'lost', 'claim_lost')", name=op.f("ck_binding_event_kind")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_binding_event_account_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["account.id"], name=op.f("fk_binding_event_actor_id_account")
        ),
        sa.ForeignKeyConstraint(
            ["other_account_id"],
            ["account.id"],
            name=op.f("fk_binding_event_other_account_id_account"),
        ),
        sa.ForeignKeyConstraint(
            ["face_attempt_id"],
            ["face_attempt.id"],
            name=op.f("fk_binding_event_face_attempt_id_face_attempt"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_binding_event")),
    )
    with op.batch_alter_table("binding_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_binding_event_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_binding_event_id_number_hash"), ["id_number_hash"], unique=False
        )

    _demote_bindings_without_a_face_match()


def _demote_bindings_without_a_face_match() -> None:
    """A binding no face match ever confirmed becomes the account's claim. In one UPDATE whose
    assignments all read the row as it was (PostgreSQL and SQLite alike)."""
    account = sa.table(
        "account",
        sa.column("id", sa.Uuid()),
        sa.column("typ", sa.String()),
        sa.column("loa", sa.SmallInteger()),
        sa.column("real_name_claimed_at", sa.DateTime(timezone=True)),
        sa.column("claimed_name_sealed", sa.LargeBinary()),
        sa.column("claimed_id_number_sealed", sa.LargeBinary()),
        sa.column("claimed_id_number_hash", sa.String()),
        sa.column("real_name_verified_at", sa.DateTime(timezone=True)),
        sa.column("name_sealed", sa.LargeBinary()),
        sa.column("name_hash", sa.String()),
        sa.column("id_number_sealed", sa.LargeBinary()),
        sa.column("id_number_hash", sa.String()),
        sa.column("birth_date", sa.Date()),
        sa.column("sex", sa.String()),
        sa.column("region_code", sa.String()),
        sa.column("face_verified_until", sa.DateTime(timezone=True)),
    )
    face_attempt = sa.table(
        "face_attempt", sa.column("account_id", sa.Uuid()), sa.column("matched", sa.Boolean())
    )
    face_matched = (
        sa.select(face_attempt.c.account_id)
        .where(face_attempt.c.account_id == account.c.id, face_attempt.c.matched.is_(True))
        .exists()
    )
    op.execute(
        account.update()
        .where(
            account.c.typ == "citizen",
            account.c.id_number_sealed.is_not(None),
            sa.not_(face_matched),
        )
        .values(
            real_name_claimed_at=account.c.real_name_verified_at,
            claimed_name_sealed=account.c.name_sealed,
            claimed_id_number_sealed=account.c.id_number_sealed,
            claimed_id_number_hash=account.c.id_number_hash,
            loa=1,
            real_name_verified_at=None,
            name_sealed=None,
            name_hash=None,
            id_number_sealed=None,
            id_number_hash=None,
            birth_date=None,
            sex=None,
            region_code=None,
            face_verified_until=None,
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("binding_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_binding_event_id_number_hash"))
        batch_op.drop_index(batch_op.f("ix_binding_event_account_id"))

    op.drop_table("binding_event")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_claimed_id_number_hash"))
        batch_op.drop_column("claimed_id_number_hash")
        batch_op.drop_column("claimed_id_number_sealed")
        batch_op.drop_column("claimed_name_sealed")
        batch_op.drop_column("real_name_claimed_at")
