"""Every query case-svc makes about cases and case numbers.

Two writes are races settled by the database rather than by Python: the case-number counter
(one upsert that increments and returns, serialised on the counter row) and a transition
(``UPDATE … WHERE version = :expected``).
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from case_svc.models import Case, CaseEvent, CaseNumberCounter
from servicekit.db import insert_for


async def next_case_sequence(session: AsyncSession, *, region_code: str, day: str) -> int:
    """The next number of the (region, day) counter: one statement, atomic on both backends."""
    table = CaseNumberCounter.__table__
    statement = (
        insert_for(session, table)
        .values(region_code=region_code, day=day, last_value=1)
        .on_conflict_do_update(
            index_elements=["region_code", "day"],
            set_={"last_value": table.c.last_value + 1},
        )
        .returning(table.c.last_value)
    )
    value: int = (await session.execute(statement)).scalar_one()
    return value


async def add_case(session: AsyncSession, case: Case) -> None:
    session.add(case)
    await session.flush()


async def case_by_number(session: AsyncSession, case_no: str) -> Case | None:
    case: Case | None = await session.scalar(
        select(Case)
        .where(Case.case_no == case_no)
        .options(selectinload(Case.history))
        .execution_options(populate_existing=True)
    )
    return case


async def case_by_id(session: AsyncSession, case_id: uuid.UUID) -> Case | None:
    case: Case | None = await session.scalar(
        select(Case)
        .where(Case.id == case_id)
        .options(selectinload(Case.history))
        .execution_options(populate_existing=True)
    )
    return case


async def list_cases(
    session: AsyncSession,
    *,
    applicant_id: str | None = None,
    department_id: str | None = None,
    item_codes: Sequence[str] | None = None,
    statuses: Sequence[str] = (),
    after: tuple[dt.datetime, uuid.UUID] | None = None,
    limit: int,
) -> list[Case]:
    """Newest first, keyset-paginated on (submitted_at, id); one more than ``limit`` is read so
    the caller knows whether a next page exists."""
    statement = select(Case)
    if applicant_id is not None:
        statement = statement.where(Case.applicant_id == applicant_id)
    if department_id is not None:
        statement = statement.where(Case.department_id == department_id)
    if item_codes is not None:
        statement = statement.where(Case.item_code.in_(item_codes))
    if statuses:
        statement = statement.where(Case.status.in_(statuses))
    if after is not None:
        at, case_id = after
        statement = statement.where(
            or_(Case.submitted_at < at, and_(Case.submitted_at == at, Case.id < case_id))
        )
    statement = statement.order_by(Case.submitted_at.desc(), Case.id.desc()).limit(limit + 1)
    return list(await session.scalars(statement))


async def update_case(
    session: AsyncSession, case_id: uuid.UUID, *, expected_version: int, values: dict[str, Any]
) -> int | None:
    """Write ``values`` to the case if it is still at ``expected_version``: its new version, or
    None if it was changed meanwhile. The WHERE clause, not a prior read, decides the race."""
    statement = (
        update(Case)
        .where(Case.id == case_id, Case.version == expected_version)
        .values(**values, version=Case.version + 1)
        .returning(Case.version)
        .execution_options(synchronize_session=False)
    )
    version: int | None = (await session.execute(statement)).scalar_one_or_none()
    return version


async def add_event(session: AsyncSession, event: CaseEvent) -> None:
    session.add(event)
    await session.flush()


async def intakes_past_due(
    session: AsyncSession, *, now: dt.datetime, limit: int
) -> list[uuid.UUID]:
    """Applications still in intake past their time for it, oldest first."""
    statement = (
        select(Case.id)
        .where(Case.status == "submitted", Case.intake_due_at < now)
        .order_by(Case.intake_due_at)
        .limit(limit)
    )
    return list(await session.scalars(statement))
