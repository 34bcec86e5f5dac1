"""Every query case-svc makes about cases and case numbers.

Two writes are races settled by the database rather than by Python: the case-number counter
(one upsert that increments and returns, serialised on the counter row) and a transition
(``UPDATE … WHERE version = :expected``).
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, case, func, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, selectinload
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from case_svc.models import Base, Case, CaseEvent, CaseNumberCounter
from case_svc.workflow.state_machine import CLOCK, Clock
from servicekit.db import insert_for
from servicekit.ids import new_id

#: The counter's upsert, built once per backend: every filing runs it.
_NEXT_VALUE: dict[str, Any] = {}


def _next_value_statement(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    statement = _NEXT_VALUE.get(dialect)
    if statement is None:
        table = CaseNumberCounter.__table__
        statement = _NEXT_VALUE[dialect] = (
            insert_for(session, table)
            .values(
                region_code=bindparam("counter_region"),
                day=bindparam("counter_day"),
                last_value=1,
            )
            .on_conflict_do_update(
                index_elements=["region_code", "day"],
                set_={"last_value": table.c.last_value + 1},
            )
            .returning(table.c.last_value)
        )
    return statement


async def next_case_sequence(session: AsyncSession, *, region_code: str, day: str) -> int:
    """The next number of the (region, day) counter: one statement, atomic on both backends."""
    result = await session.execute(
        _next_value_statement(session), {"counter_region": region_code, "counter_day": day}
    )
    value: int = result.scalar_one()
    return value


def _table_of(model: type[Base]) -> Table:
    table = model.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is mapped to a table")
    return table


_CASE_TABLE = _table_of(Case)
_CASE_EVENT_TABLE = _table_of(CaseEvent)
_INSERT_CASE = insert(_CASE_TABLE)
_INSERT_CASE_EVENTS = insert(_CASE_EVENT_TABLE)


def _row_of(entity: Case | CaseEvent, table: Table) -> dict[str, Any]:
    """The entity's values for each column of its table, as a flush would write them: a
    column left unset takes its scalar default, which the entity then holds too."""
    row: dict[str, Any] = {}
    for column in table.columns:
        value = getattr(entity, column.key)
        if value is None and isinstance(column.default, ScalarElementColumnDefault):
            value = column.default.arg
            setattr(entity, column.key, value)
        row[column.key] = value
    return row


async def add_case(session: AsyncSession, case: Case) -> None:
    """Write a new case and its history: one insert for the case, one for its events (the
    ORM's unit of work costs a filing more than its rows do). The objects stay out of the
    session, as the caller built them, ids given here."""
    case.id = case.id or new_id()
    for event in case.history:
        event.id = event.id or new_id()
        event.case_id = case.id
    await session.execute(_INSERT_CASE, _row_of(case, _CASE_TABLE))
    if case.history:
        await session.execute(
            _INSERT_CASE_EVENTS, [_row_of(event, _CASE_EVENT_TABLE) for event in case.history]
        )


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


#: Statuses in which a case has ended: no deadline colour, no place in a queue's counts.
ENDED_STATUSES = tuple(status.value for status, clock in CLOCK.items() if clock is Clock.STOPPED)


@dataclass(frozen=True)
class QueueView:
    """The moment and the caller a department's queue is read for: colours are as of ``now``,
    claims idle for ``idle`` have lapsed."""

    now: dt.datetime
    idle: dt.timedelta
    staff_id: str


def _clock_now(view: QueueView) -> Any:
    # A paused clock stands where it paused: its deadlines are read as of then.
    return func.coalesce(Case.clock_paused_at, view.now)


def deadline_colour(view: QueueView) -> Any:
    """red, yellow or green for an open case with a promised time; null otherwise."""
    open_ = Case.status.not_in(ENDED_STATUSES)
    at = _clock_now(view)
    return case(
        (and_(open_, Case.due_at < at), "red"),
        (and_(open_, Case.warn_at <= at), "yellow"),
        (and_(open_, Case.due_at.is_not(None)), "green"),
        else_=None,
    )


def _colour_bounds(colour: str, now: dt.datetime) -> list[Any]:
    """What a colour implies about an open case's indexed columns."""
    bounds: list[Any] = [Case.status.not_in(ENDED_STATUSES), Case.due_at.is_not(None)]
    if colour == "red":
        bounds.append(Case.due_at < now)
    elif colour == "yellow":
        bounds.append(Case.warn_at <= now)
    return bounds


def _held(view: QueueView) -> Any:
    """The case's claim is in force: paused, or its holder acted within ``idle``."""
    return or_(Case.clock_paused_at.is_not(None), Case.claimed_at >= view.now - view.idle)


def held_by_caller(view: QueueView) -> Any:
    return and_(Case.assignee_id == view.staff_id, _held(view))


def unassigned(view: QueueView) -> Any:
    return or_(Case.assignee_id.is_(None), not_(_held(view)))


@dataclass(frozen=True)
class CaseFilter:
    """What a list of cases is narrowed to."""

    statuses: Sequence[str] = ()
    item_code: str | None = None
    #: "me": held by the caller; "unassigned": held by no one.
    assignee: str | None = None
    deadline_colour: str | None = None


async def list_cases(
    session: AsyncSession,
    *,
    applicant_id: str | None = None,
    department_id: str | None = None,
    item_codes: Sequence[str] | None = None,
    narrowed: CaseFilter = CaseFilter(),
    view: QueueView,
    by_due: bool = False,
    after: tuple[dt.datetime | None, uuid.UUID] | None = None,
    limit: int,
) -> list[tuple[Case, str | None]]:
    """Each case with its deadline colour: newest first, keyset-paginated on (submitted_at, id);
    or, ``by_due``, the most urgent first on (due_at, id), cases without a promised time last.
    One more than ``limit`` is read so the caller knows whether a next page exists."""
    # A list shows no form: its sealed values are not read, nor opened.
    statement = select(Case, deadline_colour(view)).options(defer(Case.form))
    if applicant_id is not None:
        statement = statement.where(Case.applicant_id == applicant_id)
    if department_id is not None:
        statement = statement.where(Case.department_id == department_id)
    if item_codes is not None:
        statement = statement.where(Case.item_code.in_(item_codes))
    if narrowed.statuses:
        statement = statement.where(Case.status.in_(narrowed.statuses))
    if narrowed.item_code is not None:
        statement = statement.where(Case.item_code == narrowed.item_code)
    if narrowed.assignee == "me":
        statement = statement.where(held_by_caller(view))
    if narrowed.assignee == "unassigned":
        statement = statement.where(unassigned(view), Case.status.not_in(ENDED_STATUSES))
    if narrowed.deadline_colour is not None:
        statement = statement.where(
            deadline_colour(view) == narrowed.deadline_colour,
            # Implied by the colour (a paused clock stands in the past), written out so that
            # the index of open cases by due time serves it.
            *_colour_bounds(narrowed.deadline_colour, view.now),
        )
    if by_due:
        # Urgency is of open cases: an ended one has none, however long ago it was due.
        statement = statement.where(Case.status.not_in(ENDED_STATUSES))
        if after is not None:
            due, case_id = after
            statement = statement.where(
                or_(
                    Case.due_at > due,
                    and_(Case.due_at == due, Case.id > case_id),
                    Case.due_at.is_(None),
                )
                if due is not None
                else and_(Case.due_at.is_(None), Case.id > case_id)
            )
        statement = statement.order_by(Case.due_at.asc().nulls_last(), Case.id.asc())
    else:
        if after is not None:
            at, case_id = after
            statement = statement.where(
                or_(Case.submitted_at < at, and_(Case.submitted_at == at, Case.id < case_id))
            )
        statement = statement.order_by(Case.submitted_at.desc(), Case.id.desc())
    rows = await session.execute(statement.limit(limit + 1))
    return [(found, colour) for found, colour in rows]


async def queue_counts(
    session: AsyncSession, *, department_id: str, view: QueueView
) -> list[tuple[str, str | None, bool, bool, int]]:
    """The department's open cases counted by (status, deadline colour, held by the caller,
    unassigned)."""
    colour = deadline_colour(view).label("colour")
    mine = held_by_caller(view).label("mine")
    free = unassigned(view).label("free")
    statement = (
        select(Case.status, colour, mine, free, func.count())
        .where(Case.department_id == department_id, Case.status.not_in(ENDED_STATUSES))
        .group_by(Case.status, colour, mine, free)
    )
    return [
        (status, colour_, bool(mine_), bool(free_), count)
        for status, colour_, mine_, free_, count in (await session.execute(statement)).all()
    ]


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


async def newly_overdue(session: AsyncSession, *, now: dt.datetime, limit: int) -> list[uuid.UUID]:
    """Open cases whose running clock is past their promised time, not reported yet."""
    statement = (
        select(Case.id)
        .where(
            Case.overdue_at.is_(None),
            Case.due_at < now,
            Case.clock_paused_at.is_(None),
            Case.status.not_in(ENDED_STATUSES),
        )
        .order_by(Case.due_at)
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def mark_overdue(
    session: AsyncSession, case_id: uuid.UUID, *, now: dt.datetime
) -> Case | None:
    """Mark the case overdue if it still is and nobody marked it: the case, or None."""
    marked = await session.execute(
        update(Case)
        .where(
            Case.id == case_id,
            Case.overdue_at.is_(None),
            Case.due_at < now,
            Case.clock_paused_at.is_(None),
            Case.status.not_in(ENDED_STATUSES),
        )
        .values(overdue_at=now)
        .returning(Case.id)
        .execution_options(synchronize_session=False)
    )
    if marked.scalar_one_or_none() is None:
        return None
    return await case_by_id(session, case_id)
