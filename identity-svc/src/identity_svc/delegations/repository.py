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


async def of_account(session: AsyncSession, account_id: uuid.UUID) -> Sequence[Delegation]:
    """Every delegation the account gave or received, newest first."""
    rows = await session.scalars(
        select(Delegation)
        .where(or_(Delegation.principal_id == account_id, Delegation.delegate_id == account_id))
        .order_by(Delegation.created_at.desc(), Delegation.id.desc())
    )
    return rows.all()


async def active_between(
    session: AsyncSession, *, principal_id: uuid.UUID, delegate_id: uuid.UUID, now: dt.datetime
) -> Delegation | None:
    """The pair's delegation in force now, if any (at most one is allowed at a time)."""
    delegation: Delegation | None = await session.scalar(
        select(Delegation)
        .where(
            Delegation.principal_id == principal_id,
            Delegation.delegate_id == delegate_id,
            Delegation.revoked_at.is_(None),
            Delegation.valid_until > now,
        )
        .order_by(Delegation.created_at.desc())
        .limit(1)
    )
    return delegation


async def flush(session: AsyncSession) -> None:
    await session.flush()
