"""Every query of draft applications."""

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.models import Draft


async def add(session: AsyncSession, draft: Draft) -> None:
    session.add(draft)
    await session.flush()


async def by_number(
    session: AsyncSession, draft_no: str, *, for_update: bool = False
) -> Draft | None:
    statement = select(Draft).where(Draft.draft_no == draft_no)
    if for_update:
        statement = statement.with_for_update()
    draft: Draft | None = await session.scalar(statement)
    return draft
