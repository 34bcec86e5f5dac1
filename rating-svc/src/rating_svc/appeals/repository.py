"""Every query rating-svc makes about appeals."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Appeal, Invitation, Rating


async def add(session: AsyncSession, appeal: Appeal) -> None:
    session.add(appeal)
    await session.flush()


async def get(session: AsyncSession, appeal_id: uuid.UUID) -> Appeal | None:
    return await session.get(Appeal, appeal_id, populate_existing=True)


async def of_rating(session: AsyncSession, rating_id: uuid.UUID) -> Appeal | None:
    appeal: Appeal | None = await session.scalar(
        select(Appeal).where(Appeal.rating_id == rating_id)
    )
    return appeal


async def decide_if_pending(
    session: AsyncSession,
    appeal_id: uuid.UUID,
    *,
    status: str,
    decided_by: str,
    decided_at: dt.datetime,
    note: str,
) -> bool:
    """The decision, if the appeal is still pending: of two decisions at once, one wins."""
    result = await session.execute(
        update(Appeal)
        .where(Appeal.id == appeal_id, Appeal.status == "pending")
        .values(status=status, decided_by=decided_by, decided_at=decided_at, decision_note=note)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def exclude_rating(session: AsyncSession, rating_id: uuid.UUID, *, at: dt.datetime) -> None:
    await session.execute(
        update(Rating)
        .where(Rating.id == rating_id, Rating.excluded_at.is_(None))
        .values(excluded_at=at)
        .execution_options(synchronize_session=False)
    )


async def withdraw_invitations(
    session: AsyncSession, *, case_no: str, kind: str, at: dt.datetime
) -> None:
    """The case's unanswered invitations of the kind lapse now."""
    await session.execute(
        update(Invitation)
        .where(
            Invitation.case_no == case_no,
            Invitation.kind == kind,
            Invitation.rating_id.is_(None),
            Invitation.expires_at > at,
        )
        .values(expires_at=at)
        .execution_options(synchronize_session=False)
    )


async def of_department(
    session: AsyncSession,
    *,
    department_id: str,
    deciding_too: bool,
    status: str | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Appeal]:
    """The appeals the department filed (and, for its supervisors, those it decides), oldest
    first, from after ``after`` (filed at, id)."""
    owner = Appeal.department_id == department_id
    if deciding_too:
        owner = or_(owner, Appeal.decider_department_id == department_id)
    query = select(Appeal).where(owner)
    if status is not None:
        query = query.where(Appeal.status == status)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(Appeal.filed_at > at, and_(Appeal.filed_at == at, Appeal.id > last_id))
        )
    query = query.order_by(Appeal.filed_at, Appeal.id).limit(limit)
    return (await session.scalars(query)).all()
