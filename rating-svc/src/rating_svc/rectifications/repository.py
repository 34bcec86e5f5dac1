"""Every query rating-svc makes about rectifications and their history."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Rating, Rectification, RectificationEvent


async def add(session: AsyncSession, rectification: Rectification) -> None:
    session.add(rectification)
    await session.flush()


async def add_event(session: AsyncSession, event: RectificationEvent) -> None:
    session.add(event)
    await session.flush()


async def get(session: AsyncSession, rectification_id: uuid.UUID) -> Rectification | None:
    return await session.get(Rectification, rectification_id, populate_existing=True)


async def of_rating(session: AsyncSession, rating_id: uuid.UUID) -> Rectification | None:
    rectification: Rectification | None = await session.scalar(
        select(Rectification).where(Rectification.rating_id == rating_id)
    )
    return rectification


async def history(
    session: AsyncSession, rectification_id: uuid.UUID
) -> Sequence[RectificationEvent]:
    return (
        await session.scalars(
            select(RectificationEvent)
            .where(RectificationEvent.rectification_id == rectification_id)
            .order_by(RectificationEvent.seq)
        )
    ).all()


async def update_at_version(
    session: AsyncSession, rectification_id: uuid.UUID, *, version: int, values: dict[str, Any]
) -> bool:
    """The change, if the rectification is still at ``version`` (it then takes the next)."""
    result = await session.execute(
        update(Rectification)
        .where(Rectification.id == rectification_id, Rectification.version == version)
        .values(version=version + 1, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def queue(
    session: AsyncSession,
    *,
    department_id: str,
    escalated_too: bool,
    status: str | None,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[tuple[Rectification, int]]:
    """The department's rectifications (and, for its supervisors, those escalated to it), with
    each one's review level, oldest first."""
    owner = Rectification.department_id == department_id
    if escalated_too:
        owner = or_(owner, Rectification.escalated_to_department_id == department_id)
    query = (
        select(Rectification, Rating.level)
        .join(Rating, Rating.id == Rectification.rating_id)
        .where(owner)
    )
    if status is not None:
        query = query.where(Rectification.status == status)
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                Rectification.opened_at > at,
                and_(Rectification.opened_at == at, Rectification.id > last_id),
            )
        )
    query = query.order_by(Rectification.opened_at, Rectification.id).limit(limit)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def past_due(
    session: AsyncSession,
    *,
    status: str,
    due_column: str,
    overdue_column: str,
    now: dt.datetime,
    limit: int,
) -> Sequence[uuid.UUID]:
    """Rectifications in ``status`` whose deadline passed and that were not marked for it."""
    due = getattr(Rectification, due_column)
    marked = getattr(Rectification, overdue_column)
    return (
        await session.scalars(
            select(Rectification.id)
            .where(Rectification.status == status, due < now, marked.is_(None))
            .order_by(due)
            .limit(limit)
        )
    ).all()


async def follow_ups_lapsed(
    session: AsyncSession, *, status: str, now: dt.datetime, limit: int
) -> Sequence[uuid.UUID]:
    """Rectifications still waiting for a follow-up rating whose time to rate it is over."""
    return (
        await session.scalars(
            select(Rectification.id)
            .where(Rectification.status == status, Rectification.follow_up_due_at < now)
            .order_by(Rectification.follow_up_due_at)
            .limit(limit)
        )
    ).all()
