"""Every query identity-svc makes about real-name attempts, face challenges and attempts, and
the events of binding ID numbers to accounts."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import (
    Account,
    BindingEvent,
    FaceAttempt,
    FaceChallenge,
    RealNameAttempt,
)


async def real_name_attempt_times(
    session: AsyncSession, account_id: uuid.UUID, *, since: dt.datetime
) -> Sequence[dt.datetime]:
    """When the account asked the registry since ``since``, oldest first."""
    rows = await session.scalars(
        select(RealNameAttempt.occurred_at)
        .where(RealNameAttempt.account_id == account_id, RealNameAttempt.occurred_at > since)
        .order_by(RealNameAttempt.occurred_at)
    )
    return rows.all()


async def add_real_name_attempt(session: AsyncSession, attempt: RealNameAttempt) -> None:
    session.add(attempt)
    await session.flush()


async def add_challenge(session: AsyncSession, challenge: FaceChallenge) -> None:
    session.add(challenge)
    await session.flush()


async def challenge(session: AsyncSession, challenge_id: uuid.UUID) -> FaceChallenge | None:
    return await session.get(FaceChallenge, challenge_id)


async def spend_challenge(
    session: AsyncSession, challenge_id: uuid.UUID, *, now: dt.datetime
) -> bool:
    """Mark the challenge used, if nobody did first: single use, even under a race."""
    result = await session.execute(
        update(FaceChallenge)
        .where(FaceChallenge.id == challenge_id, FaceChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def add_face_attempt(session: AsyncSession, attempt: FaceAttempt) -> None:
    session.add(attempt)
    await session.flush()


async def count_face_failure(session: AsyncSession, account_id: uuid.UUID) -> int:
    """Add one to the account's face failures, in the database (no lost update); the new count."""
    failures = await session.scalar(
        update(Account)
        .where(Account.id == account_id)
        .values(face_failures=Account.face_failures + 1)
        .returning(Account.face_failures)
        .execution_options(synchronize_session=False)
    )
    return int(failures or 0)


async def lock_face(session: AsyncSession, account_id: uuid.UUID, *, until: dt.datetime) -> None:
    await session.execute(
        update(Account)
        .where(Account.id == account_id)
        .values(face_locked_until=until, face_failures=0)
        .execution_options(synchronize_session=False)
    )


async def add_binding_event(session: AsyncSession, event: BindingEvent) -> None:
    session.add(event)
    await session.flush()


async def binding_event(session: AsyncSession, event_id: uuid.UUID) -> BindingEvent | None:
    return await session.get(BindingEvent, event_id)


async def mark_told(session: AsyncSession, event_id: uuid.UUID, *, now: dt.datetime) -> None:
    """Record that the account the event is about was told of it."""
    await session.execute(
        update(BindingEvent)
        .where(BindingEvent.id == event_id)
        .values(notified_at=now)
        .execution_options(synchronize_session=False)
    )
