"""Every query identity-svc makes about delegations."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import Delegation


async def add(session: AsyncSession, delegation: Delegation) -> None:
    session.add(delegation)
    await session.flush()


async def get(session: AsyncSession, delegation_id: uuid.UUID) -> Delegation | None:
    return await session.get(Delegation, delegation_id)


async def of_account(
    session: AsyncSession, account_id: uuid.UUID, phone_hash: str
) -> Sequence[Delegation]:
    """Every delegation the account gave, or received at its phone, newest first."""
    rows = await session.scalars(
        select(Delegation)
        .where(
            or_(
                Delegation.principal_id == account_id,
                Delegation.delegate_phone_hash == phone_hash,
            )
        )
        .order_by(Delegation.created_at.desc(), Delegation.id.desc())
    )
    return rows.all()


async def active_between(
    session: AsyncSession,
    *,
    principal_id: uuid.UUID,
    delegate_phone_hash: str,
    now: dt.datetime,
) -> Delegation | None:
    """The delegation in force now from the principal to the phone, if any (at most one is
    allowed at a time)."""
    delegation: Delegation | None = await session.scalar(
        select(Delegation)
        .where(
            Delegation.principal_id == principal_id,
            Delegation.delegate_phone_hash == delegate_phone_hash,
            Delegation.revoked_at.is_(None),
            Delegation.valid_until > now,
        )
        .order_by(Delegation.created_at.desc())
        .limit(1)
    )
    return delegation


async def flush(session: AsyncSession) -> None:
    await session.flush()
