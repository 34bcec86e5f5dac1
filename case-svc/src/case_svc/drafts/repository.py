"""Every query of draft applications."""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.models import Draft


async def add(session: AsyncSession, draft: Draft) -> None:
    session.add(draft)
    await session.flush()


async def by_number(
    session: AsyncSession, draft_no: str, *, for_update: bool = False
) -> Draft | None:
    """The draft; ``for_update``: locked until the transaction ends. SQLite has no row locks
    and reads outside a write transaction: the row is first written as it is, which takes the
    database's write lock, so that another change waits and then reads what this one wrote."""
    statement = select(Draft).where(Draft.draft_no == draft_no)
    if for_update:
        statement = statement.with_for_update()
        if session.get_bind().dialect.name == "sqlite":
            await session.execute(
                update(Draft)
                .where(Draft.draft_no == draft_no)
                .values(updated_at=Draft.updated_at)
                .execution_options(synchronize_session=False)
            )
    draft: Draft | None = await session.scalar(statement)
    return draft
