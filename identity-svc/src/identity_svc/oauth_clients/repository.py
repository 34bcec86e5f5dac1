"""The queries about OAuth clients that administering them needs (the token grant finds one
by id through ``tokens.repository``)."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import OAuthClient


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def page(
    session: AsyncSession, *, dept: str | None, after: str | None, limit: int
) -> Sequence[OAuthClient]:
    """Clients by id after ``after``, at most ``limit``: every one, or (``dept``) that
    department's systems."""
    statement = select(OAuthClient)
    if dept is not None:
        statement = statement.where(
            OAuthClient.typ == "department_system", OAuthClient.dept == dept
        )
    if after is not None:
        statement = statement.where(OAuthClient.client_id > after)
    rows = await session.scalars(statement.order_by(OAuthClient.client_id).limit(limit))
    return rows.all()
