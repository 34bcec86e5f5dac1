"""The queries about OAuth clients that administering them needs (the token grant finds one
by id through ``tokens.repository``)."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import OAuthClient


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def every(session: AsyncSession) -> Sequence[OAuthClient]:
    rows = await session.scalars(select(OAuthClient).order_by(OAuthClient.client_id))
    return rows.all()


async def of_department(session: AsyncSession, dept: str) -> Sequence[OAuthClient]:
    rows = await session.scalars(
        select(OAuthClient)
        .where(OAuthClient.typ == "department_system", OAuthClient.dept == dept)
        .order_by(OAuthClient.client_id)
    )
    return rows.all()
