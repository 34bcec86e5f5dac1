"""a delegation is given to a phone, not to an account

Giving a delegation no longer looks for the delegate's account, so that it tells nobody which
phones are registered: the delegation keeps the keyed hash of the delegate's phone and the phone
sealed for the principal (``delegate_phone``), and the account that holds the phone is the
delegate. Delegations made before get both from their delegate's account (its phone opened and
sealed again for the principal, as ``identity_svc.personal_data`` does now); ``delegate_id``
goes.

Downgrading gives each delegation its delegate's account back by the phone; a delegation to a
phone that has no account (one the old rule could not have made) is deleted.

Revision ID: 1d3d1502870c
Revises: 9c3d5e7f1a20
Create Date: 2026-12-07 06:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from identity_svc.personal_data import PersonalData
from identity_svc.settings import IdentitySettings

revision: str = "1d3d1502870c"
down_revision: str | None = "9c3d5e7f1a20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

account = sa.table(
    "account",
    sa.column("id", sa.Uuid()),
    sa.column("phone_hash", sa.String()),
    sa.column("phone_sealed", sa.LargeBinary()),
)
delegation = sa.table(
    "delegation",
    sa.column("id", sa.Uuid()),
    sa.column("principal_id", sa.Uuid()),
    sa.column("delegate_id", sa.Uuid()),
    sa.column("delegate_phone_hash", sa.String()),
    sa.column("delegate_phone_sealed", sa.LargeBinary()),
)


def _personal_data() -> PersonalData:
    settings = IdentitySettings()
    # As the service seals and opens them (those sealed before key ids too).
    settings.install_sealing()
    return PersonalData(lookup_key=settings.lookup_hash_key_bytes)


def upgrade() -> None:
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delegate_phone_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("delegate_phone_sealed", sa.LargeBinary(), nullable=True))

    connection = op.get_bind()
    rows = connection.execute(
        sa.select(
            delegation.c.id,
            delegation.c.principal_id,
            account.c.id.label("delegate_id"),
            account.c.phone_hash,
            account.c.phone_sealed,
        ).join(account, account.c.id == delegation.c.delegate_id)
    ).all()
    if rows:
        personal = _personal_data()
        for row in rows:
            phone = personal.unseal("phone", row.phone_sealed, account_id=row.delegate_id)
            connection.execute(
                delegation.update()
                .where(delegation.c.id == row.id)
                .values(
                    delegate_phone_hash=row.phone_hash,
                    delegate_phone_sealed=personal.seal(
                        "delegate_phone", phone, account_id=row.principal_id
                    ),
                )
            )

    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegation_delegate_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_delegation_delegate_id_account"), type_="foreignkey"
        )
        batch_op.drop_column("delegate_id")
        batch_op.alter_column(
            "delegate_phone_hash", existing_type=sa.String(length=64), nullable=False
        )
        batch_op.alter_column(
            "delegate_phone_sealed", existing_type=sa.LargeBinary(), nullable=False
        )
        batch_op.create_index(
            batch_op.f("ix_delegation_delegate_phone_hash"), ["delegate_phone_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delegate_id", sa.Uuid(), nullable=True))

    holder = (
        sa.select(account.c.id)
        .where(account.c.phone_hash == delegation.c.delegate_phone_hash)
        .scalar_subquery()
    )
    op.execute(delegation.update().values(delegate_id=holder))
    op.execute(delegation.delete().where(delegation.c.delegate_id.is_(None)))

    with op.batch_alter_table("delegation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delegation_delegate_phone_hash"))
        batch_op.drop_column("delegate_phone_sealed")
        batch_op.drop_column("delegate_phone_hash")
        batch_op.alter_column("delegate_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_delegation_delegate_id_account"), "account", ["delegate_id"], ["id"]
        )
        batch_op.create_index(
            batch_op.f("ix_delegation_delegate_id"), ["delegate_id"], unique=False
        )
