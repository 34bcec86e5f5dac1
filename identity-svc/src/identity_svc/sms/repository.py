"""Every query identity-svc makes about SMS codes."""

import datetime as dt
import uuid

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import SmsCode


async def add(session: AsyncSession, code: SmsCode) -> None:
    session.add(code)
    await session.flush()


async def latest(session: AsyncSession, phone_hash: str) -> SmsCode | None:
    code: SmsCode | None = await session.scalar(
        select(SmsCode)
        .where(SmsCode.phone_hash == phone_hash)
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
    )
    return code


async def count_failure(session: AsyncSession, code_id: uuid.UUID) -> None:
    await session.execute(
        update(SmsCode)
        .where(SmsCode.id == code_id)
        .values(failed_attempts=SmsCode.failed_attempts + 1)
        .execution_options(synchronize_session=False)
    )


async def spend(session: AsyncSession, code_id: uuid.UUID, *, now: dt.datetime) -> bool:
    """Mark the code used, if nobody did first: the database arbitrates concurrent logins."""
    result = await session.execute(
        update(SmsCode)
        .where(SmsCode.id == code_id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1
