"""Every query identity-svc makes about the audit trail."""

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import AuditEvent


async def add(session: AsyncSession, event: AuditEvent) -> None:
    session.add(event)
    await session.flush()


async def page_of(
    session: AsyncSession, subject: str, *, after: uuid.UUID | None, limit: int
) -> Sequence[AuditEvent]:
    """The subject's events in the order they were written (ids are UUIDv7), after ``after``,
    at most ``limit``."""
    statement = select(AuditEvent).where(AuditEvent.subject == subject)
    if after is not None:
        statement = statement.where(AuditEvent.id > after)
    rows = await session.scalars(statement.order_by(AuditEvent.id).limit(limit))
    return rows.all()
