"""Every query catalog-svc makes about departments."""

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Department


async def get(session: AsyncSession, department_id: str) -> Department | None:
    return await session.get(Department, department_id)


async def kinds_serving(
    session: AsyncSession, *, lineage: Sequence[str], below_prefix: str
) -> set[tuple[str, str]]:
    """The (type, tier) of departments in the region's lineage (itself and its ancestors, by
    official code) or anywhere below it (by significant prefix)."""
    query = (
        select(Department.type, Department.tier)
        .where(
            or_(
                Department.region_code.in_(lineage),
                Department.region_code.startswith(below_prefix, autoescape=True),
            )
        )
        .distinct()
    )
    return {(kind, tier) for kind, tier in (await session.execute(query)).all()}
