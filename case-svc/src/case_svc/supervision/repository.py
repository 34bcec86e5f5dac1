"""Every query supervision makes: which departments had cases in a period, in the order rows
are paged by, and the figures of a page's groups, counted by the database.

A case counts towards a period in three ways: filed in it, completed in it, or open now. Each
is its own query on its own index (``migrations/versions/2026-12-07-1200_supervision_indexes``)
rather than one scan with an OR of the three, which no index answers: a department's cases of
other periods are never read. Only the working days of completed cases need the official
calendar, which the database does not have; for those, the database counts the cases of each
local date (filing, completion, promise) and the service turns dates into working days: rows
bounded by a page's groups times the days of the period, whatever the number of cases.

A department's id is its region's official code, a dash and its type (the catalog's
``<region>-<type>``): supervision reads a department's region from its id, and so its scope
(every department of a region sorts between the region's code and that code followed by
``:``) and its region rows. Department ids are compared and ordered bytewise (``COLLATE "C"``
on PostgreSQL, whose indexes here are built so; SQLite's default is bytewise already), which
is the order Python compares strings in: the order of every instance's rows is the order the
gateway merges them in.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.cases.repository import ENDED_STATUSES, QueueView, deadline_colour
from case_svc.models import Case
from case_svc.supervision.schemas import GroupBy
from case_svc.workflow.deadlines import LOCAL_ZONE

#: A group's key: (department id,), (department id, item code) or (region prefix,).
GroupKey = tuple[str, ...]


@dataclass(frozen=True)
class Period:
    """From ``start`` (inclusive) to ``end`` (exclusive), UTC instants."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Grouping:
    by: GroupBy
    #: For region rows: the digits of the region code kept (4 a city, 6 a county, ...).
    region_digits: int = 0


@dataclass(frozen=True)
class DepartmentRange:
    """Departments after ``after`` (from it, when ``inclusive``) and below ``below``, bytewise;
    within the region ``scope`` (a significant prefix) when one is given."""

    after: str | None = None
    inclusive: bool = False
    below: str | None = None
    scope: str | None = None


@dataclass(frozen=True)
class GroupFilter:
    """The groups a query counts: the cases of ``departments`` (their ids) or of ``bounds``,
    narrowed to the groups ``keys`` when given."""

    departments: Sequence[str] | None = None
    bounds: DepartmentRange | None = None
    keys: Sequence[GroupKey] | None = None


@dataclass
class GroupCounts:
    """A group's counts; names as the cases carry them (copied when filed: one of them, should
    a name have changed)."""

    key: GroupKey
    department_name: str | None = None
    item_name: str | None = None
    filed: int = 0
    completed: int = 0
    completed_on_time: int = 0
    open: int = 0
    overdue: int = 0
    nearly_overdue: int = 0


@dataclass(frozen=True)
class DateCount:
    """How many of a group's completed cases (with a promised time) have ``day`` as the local
    date of their filing (``submitted``), completion (``completed``) or promise (``promised``)."""

    key: GroupKey
    which: Literal["submitted", "completed", "promised"]
    day: dt.date
    count: int


#: The constants inside grouped expressions are written into the statement, not bound: a bound
#: parameter is a new one at each mention, and PostgreSQL would not see the SELECT's
#: expression and the GROUP BY's as the same.
_ONE: ColumnElement[Any] = literal_column("1")
_DASH: ColumnElement[Any] = literal_column("'-'")
_LOCAL_ZONE: ColumnElement[Any] = literal_column(f"'{LOCAL_ZONE.key}'")


class _Sql:
    """The two expressions the backends write differently."""

    def __init__(self, session: AsyncSession) -> None:
        self.postgresql = session.get_bind().dialect.name == "postgresql"

    def bytewise(self, column: Any) -> Any:
        return column.collate("C") if self.postgresql else column

    def local_date(self, column: Any) -> Any:
        """The date in Asia/Shanghai of a UTC timestamp."""
        if self.postgresql:
            return cast(func.timezone(_LOCAL_ZONE, column), Date)
        # SQLite holds UTC as text and has no zone database: China has kept UTC+8 all year
        # since 1991.
        return func.date(column, literal_column("'+8 hours'"), type_=Date)

    def department_region(self) -> Any:
        """The region code a department's id begins with."""
        if self.postgresql:
            return func.split_part(Case.department_id, _DASH, _ONE)
        return func.substr(Case.department_id, _ONE, func.instr(Case.department_id, _DASH) - _ONE)


def _filed(period: Period) -> ColumnElement[bool]:
    return and_(Case.submitted_at >= period.start, Case.submitted_at < period.end)


def _completed(period: Period) -> ColumnElement[bool]:
    return and_(Case.completed_at >= period.start, Case.completed_at < period.end)


def _open() -> ColumnElement[bool]:
    # The statuses written into the statement, so that PostgreSQL matches the condition with
    # the partial index of open cases (a bound list could be anything, at planning time).
    ended: BindParameter[list[str]] = bindparam(
        "ended_statuses", list(ENDED_STATUSES), expanding=True, literal_execute=True
    )
    return Case.status.not_in(ended)


def _range(bounds: DepartmentRange, department: Any) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if bounds.scope is not None:
        # Every id of a department of the region starts with its prefix, then a digit or "-".
        conditions += [department >= bounds.scope, department < bounds.scope + ":"]
    if bounds.after is not None:
        after = bounds.after
        conditions.append(department >= after if bounds.inclusive else department > after)
    if bounds.below is not None:
        conditions.append(department < bounds.below)
    return conditions


async def active_departments(
    session: AsyncSession, *, period: Period, bounds: DepartmentRange, limit: int
) -> tuple[list[str], bool]:
    """The departments within ``bounds`` with a case filed or completed in the period or open
    now, in order: at least ``limit`` of them unless none follow, and whether more may.

    One query per way of counting, each the first ``limit`` departments of its index in order;
    what all three have said lies up to the least of the last departments of the full ones."""
    sql = _Sql(session)
    department = sql.bytewise(Case.department_id)
    found: list[list[str]] = []
    for counted in (_filed(period), _completed(period), _open()):
        statement = (
            select(department)
            .where(counted, *_range(bounds, department))
            .group_by(department)
            .order_by(department)
            .limit(limit)
        )
        found.append(list(await session.scalars(statement)))
    horizon = min((stream[-1] for stream in found if len(stream) == limit), default=None)
    departments = sorted(
        {one for stream in found for one in stream if horizon is None or one <= horizon}
    )
    return departments, horizon is not None


def _keys(grouping: Grouping, sql: _Sql) -> list[Any]:
    if grouping.by == "region":
        region = func.substr(
            sql.department_region(), _ONE, literal_column(str(int(grouping.region_digits)))
        )
        return [region.label("region_key")]
    keys = [sql.bytewise(Case.department_id).label("department_id")]
    if grouping.by == "item":
        keys.append(Case.item_code.label("item_code"))
    return keys


def _names(grouping: Grouping) -> list[Any]:
    if grouping.by == "region":
        return []
    names = [func.max(Case.department_name).label("department_name")]
    if grouping.by == "item":
        names.append(func.max(Case.item_name).label("item_name"))
    return names


def _within(groups: GroupFilter, keys: Sequence[Any], sql: _Sql) -> list[ColumnElement[bool]]:
    department = sql.bytewise(Case.department_id)
    conditions: list[ColumnElement[bool]] = []
    if groups.departments is not None:
        conditions.append(department.in_(list(groups.departments)))
    if groups.bounds is not None:
        conditions += _range(groups.bounds, department)
    if groups.keys is not None:
        key = keys[0] if len(keys) == 1 else tuple_(*keys)
        values = [one[0] for one in groups.keys] if len(keys) == 1 else list(groups.keys)
        conditions.append(key.in_(values))
    return conditions


async def group_counts(
    session: AsyncSession,
    *,
    grouping: Grouping,
    groups: GroupFilter,
    period: Period,
    now: dt.datetime,
) -> dict[GroupKey, GroupCounts]:
    """The counts of each group of ``groups`` that has any: filed and completed (on time or
    not) in the period, open now by deadline colour."""
    sql = _Sql(session)
    keys = _keys(grouping, sql)
    names = _names(grouping)
    within = _within(groups, keys, sql)
    width = len(keys)
    counts: dict[GroupKey, GroupCounts] = {}

    def of(row: Any) -> GroupCounts:
        key = tuple(row[:width])
        found = counts.setdefault(key, GroupCounts(key))
        if names:
            found.department_name = found.department_name or row.department_name
        if grouping.by == "item":
            found.item_name = found.item_name or row.item_name
        return found

    filed = select(*keys, *names, func.count().label("filed")).where(_filed(period), *within)
    for row in await session.execute(filed.group_by(*keys)):
        of(row).filed += row.filed

    on_time = or_(Case.due_at.is_(None), Case.completed_at <= Case.due_at)
    completed = select(
        *keys,
        *names,
        func.count().label("completed"),
        func.sum(case((on_time, 1), else_=0)).label("on_time"),
    ).where(_completed(period), *within)
    for row in await session.execute(completed.group_by(*keys)):
        found = of(row)
        found.completed += row.completed
        found.completed_on_time += int(row.on_time or 0)

    # deadline_colour reads the view's moment only: no claim is looked at here.
    colour = deadline_colour(QueueView(now=now, idle=dt.timedelta(0), staff_id="")).label("colour")
    open_ = select(*keys, *names, colour, func.count().label("open")).where(_open(), *within)
    for row in await session.execute(open_.group_by(*keys, colour)):
        found = of(row)
        found.open += row.open
        found.overdue += row.open if row.colour == "red" else 0
        found.nearly_overdue += row.open if row.colour == "yellow" else 0
    return counts


async def completion_dates(
    session: AsyncSession, *, grouping: Grouping, groups: GroupFilter, period: Period
) -> list[DateCount]:
    """For the cases of ``groups`` completed in the period with a promised time: how many were
    filed, completed and promised on each local date, by group."""
    sql = _Sql(session)
    keys = _keys(grouping, sql)
    within = [_completed(period), Case.due_at.is_not(None), *_within(groups, keys, sql)]
    parts = []
    for which, column in (
        ("submitted", Case.submitted_at),
        ("completed", Case.completed_at),
        ("promised", Case.due_at),
    ):
        day = sql.local_date(column).label("day")
        parts.append(
            select(
                *keys,
                literal_column(f"'{which}'").label("which"),
                day,
                func.count().label("cases"),
            )
            .where(*within)
            .group_by(*keys, day)
        )
    width = len(keys)
    rows = await session.execute(union_all(*parts))
    return [
        DateCount(key=tuple(row[:width]), which=row.which, day=row.day, count=row.cases)
        for row in rows
    ]
