"""Every query identity-svc makes about enterprises and their members."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from identity_svc.models import Enterprise, EnterpriseMember


async def by_credit_code(session: AsyncSession, credit_code: str) -> Enterprise | None:
    enterprise: Enterprise | None = await session.scalar(
        select(Enterprise).where(Enterprise.credit_code == credit_code)
    )
    return enterprise


async def get(session: AsyncSession, enterprise_id: uuid.UUID) -> Enterprise | None:
    return await session.get(Enterprise, enterprise_id)


async def add(session: AsyncSession, row: Enterprise | EnterpriseMember) -> None:
    session.add(row)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    await session.flush()


def _in_force(now: dt.datetime) -> list[ColumnElement[bool]]:
    return [
        EnterpriseMember.revoked_at.is_(None),
        or_(EnterpriseMember.valid_until.is_(None), EnterpriseMember.valid_until > now),
    ]


async def membership(
    session: AsyncSession, *, enterprise_id: uuid.UUID, account_id: uuid.UUID, now: dt.datetime
) -> EnterpriseMember | None:
    """The account's standing with the enterprise in force now (at most one at a time)."""
    member: EnterpriseMember | None = await session.scalar(
        select(EnterpriseMember)
        .where(
            EnterpriseMember.enterprise_id == enterprise_id,
            EnterpriseMember.account_id == account_id,
            *_in_force(now),
        )
        .order_by(EnterpriseMember.created_at.desc())
        .limit(1)
    )
    return member


async def member(
    session: AsyncSession, *, enterprise_id: uuid.UUID, member_id: uuid.UUID
) -> EnterpriseMember | None:
    found: EnterpriseMember | None = await session.scalar(
        select(EnterpriseMember).where(
            EnterpriseMember.id == member_id, EnterpriseMember.enterprise_id == enterprise_id
        )
    )
    return found


async def members(session: AsyncSession, enterprise_id: uuid.UUID) -> Sequence[EnterpriseMember]:
    """Everyone who acts or acted for the enterprise, newest first."""
    rows = await session.scalars(
        select(EnterpriseMember)
        .where(EnterpriseMember.enterprise_id == enterprise_id)
        .order_by(EnterpriseMember.created_at.desc(), EnterpriseMember.id.desc())
    )
    return rows.all()


async def memberships_of(
    session: AsyncSession, account_id: uuid.UUID, *, now: dt.datetime
) -> Sequence[tuple[EnterpriseMember, Enterprise]]:
    """The enterprises the account acts for now, with its standing in each."""
    rows = await session.execute(
        select(EnterpriseMember, Enterprise)
        .join(Enterprise, Enterprise.id == EnterpriseMember.enterprise_id)
        .where(EnterpriseMember.account_id == account_id, *_in_force(now))
        .order_by(Enterprise.name, Enterprise.credit_code)
    )
    return [(row[0], row[1]) for row in rows.all()]


async def end_representatives_other_than(
    session: AsyncSession, *, enterprise_id: uuid.UUID, account_id: uuid.UUID, now: dt.datetime
) -> None:
    """The registry names one legal representative: whoever stood before stands no longer."""
    await session.execute(
        update(EnterpriseMember)
        .where(
            EnterpriseMember.enterprise_id == enterprise_id,
            EnterpriseMember.role == "legal_representative",
            EnterpriseMember.account_id != account_id,
            EnterpriseMember.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def end_member(session: AsyncSession, member_id: uuid.UUID, *, now: dt.datetime) -> None:
    await session.execute(
        update(EnterpriseMember)
        .where(EnterpriseMember.id == member_id, EnterpriseMember.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
