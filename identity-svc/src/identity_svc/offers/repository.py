"""Every query of the offers."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import Offer


async def of_owner(session: AsyncSession, owner_id: str, offer_id: uuid.UUID) -> Offer | None:
    return await session.scalar(
        select(Offer).where(Offer.id == offer_id, Offer.owner_id == owner_id)
    )


async def by_ids(session: AsyncSession, offer_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Offer]:
    if not offer_ids:
        return {}
    offers = await session.scalars(select(Offer).where(Offer.id.in_(offer_ids)))
    return {offer.id: offer for offer in offers}


async def exists_for(session: AsyncSession, owner_id: str, life_event_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(Offer.id).where(Offer.owner_id == owner_id, Offer.life_event_id == life_event_id)
    )
    return found is not None


async def page_of(
    session: AsyncSession,
    owner_id: str,
    *,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Offer]:
    """Her offers, newest first, after a position; one more than ``limit`` when there are."""
    query = select(Offer).where(Offer.owner_id == owner_id)
    if after is not None:
        at, last = after
        query = query.where(
            or_(Offer.created_at < at, and_(Offer.created_at == at, Offer.id < last))
        )
    query = query.order_by(Offer.created_at.desc(), Offer.id.desc()).limit(limit + 1)
    return (await session.scalars(query)).all()


async def keep_draft(session: AsyncSession, offer_id: uuid.UUID, draft_no: str) -> str:
    """The draft her confirmation opened, unless another confirmation's was kept first: the
    draft kept."""
    await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.draft_no.is_(None))
        .values(draft_no=draft_no, version=Offer.version + 1)
    )
    kept = await session.scalar(select(Offer.draft_no).where(Offer.id == offer_id))
    return kept or draft_no


async def decide(
    session: AsyncSession,
    offer_id: uuid.UUID,
    *,
    status: str,
    application_no: str | None,
    now: dt.datetime,
) -> bool:
    """Confirmed or declined, if it is still open: whether it was."""
    result = await session.execute(
        update(Offer)
        .where(Offer.id == offer_id, Offer.status == "open")
        .values(
            status=status,
            application_no=application_no,
            decided_at=now,
            version=Offer.version + 1,
        )
    )
    return bool(getattr(result, "rowcount", 0))
