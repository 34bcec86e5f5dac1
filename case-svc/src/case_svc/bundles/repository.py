"""Every query case-svc makes about one-issue applications."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from case_svc.models import BundleApplication, BundleChild


async def by_request_key(session: AsyncSession, request_key: str) -> BundleApplication | None:
    query = (
        select(BundleApplication)
        .where(BundleApplication.request_key == request_key)
        .options(selectinload(BundleApplication.children))
    )
    return (await session.scalars(query)).one_or_none()


async def by_number(session: AsyncSession, application_no: str) -> BundleApplication | None:
    query = (
        select(BundleApplication)
        .where(BundleApplication.application_no == application_no)
        .options(selectinload(BundleApplication.children))
    )
    return (await session.scalars(query)).one_or_none()


async def of_applicant(
    session: AsyncSession,
    applicant_id: str,
    *,
    before: tuple[dt.datetime, str] | None,
    limit: int,
) -> Sequence[tuple[BundleApplication, int]]:
    """Hers, newest first, from before ``before`` (created at, number), each with its number
    of children."""
    children = (
        select(func.count())
        .where(BundleChild.application_id == BundleApplication.id)
        .scalar_subquery()
    )
    query = select(BundleApplication, children).where(
        BundleApplication.applicant_id == applicant_id
    )
    if before is not None:
        at, number = before
        query = query.where(
            or_(
                BundleApplication.created_at < at,
                and_(BundleApplication.created_at == at, BundleApplication.application_no < number),
            )
        )
    query = query.order_by(
        BundleApplication.created_at.desc(), BundleApplication.application_no.desc()
    ).limit(limit)
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def record_filed(
    session: AsyncSession, application_id: uuid.UUID, seq: int, case_no: str, at: dt.datetime
) -> None:
    await session.execute(
        update(BundleChild)
        .where(BundleChild.application_id == application_id, BundleChild.seq == seq)
        .values(case_no=case_no, filed_at=at)
    )


async def record_withdrawn(
    session: AsyncSession, application_id: uuid.UUID, seq: int, at: dt.datetime
) -> None:
    await session.execute(
        update(BundleChild)
        .where(BundleChild.application_id == application_id, BundleChild.seq == seq)
        .values(withdrawn_at=at)
    )


async def set_status(
    session: AsyncSession, application_id: uuid.UUID, status: str, at: dt.datetime
) -> None:
    await session.execute(
        update(BundleApplication)
        .where(BundleApplication.id == application_id)
        .values(status=status, updated_at=at)
    )


async def within_items(
    session: AsyncSession, application_ids: Sequence[uuid.UUID], item_codes: Sequence[str]
) -> Sequence[uuid.UUID]:
    """Those of the applications every part of which is one of ``item_codes``."""
    if not application_ids:
        return []
    outside = select(BundleChild.application_id).where(
        BundleChild.application_id.in_(application_ids),
        BundleChild.item_code.not_in(item_codes),
    )
    query = select(BundleApplication.id).where(
        BundleApplication.id.in_(application_ids), BundleApplication.id.not_in(outside)
    )
    return (await session.scalars(query)).all()
