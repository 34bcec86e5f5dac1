"""Every query of a certificate's publication: the publications by number, and the place of a
new row among the subject's rows in the library."""

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import HostedRecord, IssuedCertificate


async def by_number(
    session: AsyncSession, certificate_type: str, number_hash: str
) -> IssuedCertificate | None:
    statement = select(IssuedCertificate).where(
        IssuedCertificate.certificate_type == certificate_type,
        IssuedCertificate.number_hash == number_hash,
    )
    return (await session.scalars(statement)).one_or_none()


async def next_position(session: AsyncSession, resource_code: str, subject_hash: str) -> int:
    """After the subject's last row: a publication adds a row and moves none."""
    statement = select(func.max(HostedRecord.position)).where(
        HostedRecord.resource_code == resource_code,
        HostedRecord.subject_hash == subject_hash,
    )
    last = await session.scalar(statement)
    return 0 if last is None else last + 1


async def add(session: AsyncSession, published: IssuedCertificate) -> None:
    session.add(published)
    await session.flush()
