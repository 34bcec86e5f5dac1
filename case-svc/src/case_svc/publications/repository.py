"""Every query on the certificates cases issued and their publication: written pending, found
when due, taken and answered at their version."""

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.models import Case, CertificatePublication

PENDING = "pending"
PUBLISHED = "published"
REFUSED = "refused"


async def add(session: AsyncSession, publication: CertificatePublication) -> None:
    session.add(publication)
    await session.flush()


async def of_case(session: AsyncSession, case_id: uuid.UUID) -> CertificatePublication | None:
    publication: CertificatePublication | None = await session.scalar(
        select(CertificatePublication)
        .where(CertificatePublication.case_id == case_id)
        .execution_options(populate_existing=True)
    )
    return publication


async def due(session: AsyncSession, *, now: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Pending publications a publisher may take now, the longest waiting first."""
    statement = (
        select(CertificatePublication.id)
        .where(
            CertificatePublication.status == PENDING,
            CertificatePublication.attempt_at <= now,
        )
        .order_by(CertificatePublication.attempt_at)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def with_case_number(
    session: AsyncSession, publication_id: uuid.UUID
) -> tuple[CertificatePublication, str] | None:
    row = (
        await session.execute(
            select(CertificatePublication, Case.case_no)
            .join(Case, Case.id == CertificatePublication.case_id)
            .where(CertificatePublication.id == publication_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def update_at_version(
    session: AsyncSession,
    publication_id: uuid.UUID,
    *,
    expected_version: int,
    values: dict[str, Any],
) -> bool:
    """Write ``values`` if the publication is still at ``expected_version`` (the WHERE clause
    decides a race between publishers): whether it was."""
    statement = (
        update(CertificatePublication)
        .where(
            CertificatePublication.id == publication_id,
            CertificatePublication.version == expected_version,
        )
        .values(**values, version=CertificatePublication.version + 1)
        .returning(CertificatePublication.version)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None
