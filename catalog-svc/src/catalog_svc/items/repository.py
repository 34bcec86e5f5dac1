"""Every query catalog-svc makes about service items."""

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import ReferenceDataset, ServiceItem
from servicekit.db import insert_for, utcnow

#: The ``reference_dataset`` row whose token every publication or withdrawal replaces.
PUBLISHED_ITEMS_TOKEN = "published_items"


async def get(session: AsyncSession, code: str) -> ServiceItem | None:
    return await session.get(ServiceItem, code)


#: What the search index reads of an item: not its form, materials or fee, whose JSON would
#: cost more to decode at every start than the rest of the index to build.
INDEXED_COLUMNS = (
    ServiceItem.code,
    ServiceItem.name,
    ServiceItem.department_type,
    ServiceItem.handling_tier,
    ServiceItem.subject,
    ServiceItem.processing_mode,
    ServiceItem.min_loa,
    ServiceItem.promised_working_days,
    ServiceItem.offered_in,
    ServiceItem.aliases,
    ServiceItem.keywords,
    ServiceItem.topics,
)


#: Codes and names of the items that exist but are not published.
UNPUBLISHED_NAMES = select(ServiceItem.code, ServiceItem.name).where(
    ServiceItem.status != "published"
)


async def changed_since(
    session: AsyncSession,
    since: dt.datetime,
    *,
    after: tuple[dt.datetime, str] | None,
    limit: int,
) -> list[ServiceItem]:
    """Items changed after ``since``, oldest change first; ``after`` continues from a
    (changed_at, code) position."""
    query = select(ServiceItem).where(ServiceItem.changed_at > since)
    if after is not None:
        at, code = after
        query = query.where(
            or_(
                ServiceItem.changed_at > at,
                and_(ServiceItem.changed_at == at, ServiceItem.code > code),
            )
        )
    query = query.order_by(ServiceItem.changed_at, ServiceItem.code).limit(limit)
    return list(await session.scalars(query))


async def published_for_index(session: AsyncSession) -> list[dict[str, Any]]:
    query = select(*INDEXED_COLUMNS).where(ServiceItem.status == "published")
    rows = await session.execute(query.order_by(ServiceItem.code))
    return [dict(row._mapping) for row in rows]


async def published_items_token(session: AsyncSession) -> str | None:
    token: str | None = await session.scalar(
        select(ReferenceDataset.fingerprint).where(ReferenceDataset.name == PUBLISHED_ITEMS_TOKEN)
    )
    return token


async def replace_published_items_token(session: AsyncSession) -> None:
    """A new token: every process's snapshot reads the items again at its next check. One
    upsert, so that two publications at once both succeed (the later write wins; either token
    differs from what the snapshots hold)."""
    token, now = secrets.token_hex(16), utcnow()
    statement = insert_for(session, ReferenceDataset).values(
        name=PUBLISHED_ITEMS_TOKEN, fingerprint=token, loaded_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"fingerprint": token, "loaded_at": now}
        )
    )
