"""The rules of supervision: who sees which departments' figures, what a period is, how rows
are grouped and paged, and the working-day averages the database cannot count (it has no
official calendar). Figures only: no case, applicant or staff member is ever named.

A supervisor sees the departments of their own department's region and the regions within it;
a platform administrator sees every department. Rows are paged by their group in bytewise
order: a department; an item within its department; a region, whose departments' ids all
begin with its code, so that they lie together in that order.

The export is the same rows as CSV, read page by page from the list through the gateway with
the caller's own token: the gateway merges the rows of every instance, so the export holds all
of them, and memory holds one page at a time.
"""

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, get_args

import httpx
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.cases.service import NoDepartment
from case_svc.supervision import repository
from case_svc.supervision.repository import DepartmentRange, GroupFilter, Grouping, GroupKey
from case_svc.supervision.schemas import (
    CSV_COLUMNS,
    GroupBy,
    RegionLevelName,
    RowRegionLevel,
    SupervisionPage,
    SupervisionRow,
)
from case_svc.workflow.deadlines import LOCAL_ZONE, working_days_between
from servicekit.auth import Principal, TokenExpired, TokenRevoked
from servicekit.http import raise_for_problem
from servicekit.pagination import Cursors, InvalidCursor
from servicekit.problems import DomainError, Forbidden, UpstreamUnavailable, extension_members
from servicekit.regions import InvalidRegionCode, RegionCode, RegionLevel

SUPERVISOR = "supervisor"
PLATFORM_ADMIN = "platform_admin"

#: The longest period asked for at once: a year, leap day included.
MAX_PERIOD_DAYS = 366

#: Above every character of a department id (digits, lower-case letters, "-" and "_"): a
#: region's departments all sort below its code followed by it.
_ABOVE_ID_CHARACTERS = "~"

#: Departments read at once while looking for the regions of a page.
_DEPARTMENT_CHUNK = 200

LIST_PATH = "/cases/v1/supervision"


class SupervisionNotAllowed(Forbidden):
    code = "supervision_not_allowed"
    title = "Supervision figures are for the supervisors of a region and platform administrators"
    members = extension_members(
        required_roles={
            "type": "array",
            "items": {"type": "string"},
            "description": "A staff account with one of these roles sees them",
            "examples": [[SUPERVISOR, PLATFORM_ADMIN]],
        }
    )


class InvalidPeriod(DomainError):
    status = 422
    code = "invalid_period"
    title = "A period runs from period_start to period_end, both included, for at most 366 days"


class RegionLevelAboveScope(DomainError):
    status = 422
    code = "region_level_above_scope"
    title = "Rows roll up to regions within the caller's own, not above it"
    members = extension_members(
        scope_region_code={
            "type": "string",
            "description": "The region the caller supervises",
            "examples": ["330302"],
        },
        scope_level={
            "type": "string",
            "description": "Its level: ask for this level or one below it",
            "examples": ["county"],
        },
    )


#: The problems of the list, passed on as they are when the export reads it.
LIST_PROBLEMS: tuple[type[DomainError], ...] = (
    SupervisionNotAllowed,
    NoDepartment,
    InvalidPeriod,
    RegionLevelAboveScope,
    InvalidCursor,
)

_LEVELS: dict[str, RegionLevel] = {
    name: RegionLevel[name.upper()] for name in get_args(RegionLevelName)
}
_LEVEL_NAMES: dict[RegionLevel, RowRegionLevel] = {
    RegionLevel.PROVINCE: "province",
    RegionLevel.CITY: "city",
    RegionLevel.COUNTY: "county",
    RegionLevel.TOWNSHIP: "township",
    RegionLevel.VILLAGE: "village",
}
#: How many digits of a region code a level keeps.
_DIGITS = {
    RegionLevel.CITY: 4,
    RegionLevel.COUNTY: 6,
    RegionLevel.TOWNSHIP: 9,
    RegionLevel.VILLAGE: 12,
}


# --- who sees what, over which period -----------------------------------------------------------


@dataclass(frozen=True)
class SupervisionScope:
    """The departments the caller sees: those of ``region`` and within it; every one when
    ``region`` is None (a platform administrator)."""

    region: RegionCode | None


def supervision_scope(principal: Principal) -> SupervisionScope:
    if principal.typ == "staff" and PLATFORM_ADMIN in principal.roles:
        return SupervisionScope(region=None)
    if principal.typ != "staff" or SUPERVISOR not in principal.roles:
        raise SupervisionNotAllowed(required_roles=[SUPERVISOR, PLATFORM_ADMIN])
    region, dash, _type = (principal.dept or "").partition("-")
    try:
        if not dash:
            raise InvalidRegionCode(region)
        return SupervisionScope(region=RegionCode.parse(region))
    except InvalidRegionCode as exc:
        raise NoDepartment(
            "a supervisor's token names their department, <region>-<type>, in its dept claim"
        ) from exc


@dataclass(frozen=True)
class SupervisionQuery:
    period_start: dt.date
    period_end: dt.date
    group_by: GroupBy
    #: For region rows: the level asked for; None for the level below the caller's region.
    region_level: RegionLevelName | None = None


def period_of(query: SupervisionQuery) -> repository.Period:
    """The period's local days, Asia/Shanghai, as UTC instants."""
    days = (query.period_end - query.period_start).days + 1
    if days < 1:
        raise InvalidPeriod("period_end comes before period_start")
    if days > MAX_PERIOD_DAYS:
        raise InvalidPeriod(f"the period has {days} days; ask for a year at most, then the next")

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(), tzinfo=LOCAL_ZONE).astimezone(dt.UTC)

    return repository.Period(
        start=midnight(query.period_start),
        end=midnight(query.period_end + dt.timedelta(days=1)),
    )


def region_level_of(query: SupervisionQuery, scope: SupervisionScope) -> RegionLevel:
    """The level region rows roll up to: the one asked for, or the level just below the
    caller's region (cities for the province or a platform administrator)."""
    own = scope.region.level if scope.region is not None else RegionLevel.PROVINCE
    if query.region_level is None:
        return max(RegionLevel.CITY, RegionLevel(min(own + 1, RegionLevel.VILLAGE)))
    level = _LEVELS[query.region_level]
    if scope.region is not None and level < own:
        raise RegionLevelAboveScope(
            f"you supervise {scope.region}: ask for its level or one below it",
            scope_region_code=scope.region.official,
            scope_level=own.name.lower(),
        )
    return level


def grouping_of(query: SupervisionQuery, scope: SupervisionScope) -> Grouping:
    if query.group_by != "region":
        return Grouping(by=query.group_by)
    return Grouping(by="region", region_digits=_DIGITS[region_level_of(query, scope)])


def _context(query: SupervisionQuery, scope: SupervisionScope, grouping: Grouping) -> str:
    """A cursor holds for the one list it was given for: this grouping, period and scope."""
    region = scope.region.prefix if scope.region is not None else "*"
    return (
        f"supervision:{grouping.by}:{grouping.region_digits}:{query.period_start}:"
        f"{query.period_end}:{region}"
    )


# --- the rows -----------------------------------------------------------------------------------


async def supervision_page(
    *,
    session: AsyncSession,
    principal: Principal,
    query: SupervisionQuery,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
    now: dt.datetime,
) -> SupervisionPage:
    """A page of the rows the caller may see, in the order of their groups."""
    scope = supervision_scope(principal)
    period = period_of(query)
    grouping = grouping_of(query, scope)
    context = _context(query, scope, grouping)
    position = cursors.decode_optional(context, cursor)
    after: GroupKey | None = tuple(position["k"]) if position is not None else None
    pager = _Pager(session=session, scope=scope, period=period, grouping=grouping, now=now)
    if grouping.by == "department":
        rows, more = await pager.departments(after, limit)
    elif grouping.by == "item":
        rows, more = await pager.items(after, limit)
    else:
        rows, more = await pager.regions(after, limit)
    next_cursor = cursors.encode(context, {"k": list(rows[-1][0])}) if more and rows else None
    return SupervisionPage(items=[row for _key, row in rows], next_cursor=next_cursor)


Keyed = list[tuple[GroupKey, SupervisionRow]]


@dataclass
class _Pager:
    session: AsyncSession
    scope: SupervisionScope
    period: repository.Period
    grouping: Grouping
    now: dt.datetime

    async def _active(
        self, after: str | None, *, inclusive: bool, chunk: int
    ) -> AsyncGenerator[str, None]:
        """The departments the caller sees with cases of the period or open now, in order,
        read ``chunk`` at a time as the caller goes on."""
        scope = self.scope.region.prefix if self.scope.region is not None else None
        while True:
            bounds = DepartmentRange(after=after, inclusive=inclusive, scope=scope)
            departments, more = await repository.active_departments(
                self.session, period=self.period, bounds=bounds, limit=chunk
            )
            for department in departments:
                yield department
            if not more or not departments:
                return
            after, inclusive = departments[-1], False

    async def _rows(self, groups: GroupFilter, wanted: Iterable[GroupKey] | None = None) -> Keyed:
        counts = await repository.group_counts(
            self.session, grouping=self.grouping, groups=groups, period=self.period, now=self.now
        )
        keys = sorted(counts) if wanted is None else [key for key in wanted if key in counts]
        return [(key, _row(self.grouping, counts[key])) for key in keys]

    async def _with_averages(self, rows: Keyed, groups: GroupFilter) -> Keyed:
        """The rows with their working-day averages, counted for their groups alone."""
        if not rows:
            return rows
        dates = await repository.completion_dates(
            self.session,
            grouping=self.grouping,
            groups=GroupFilter(
                departments=groups.departments,
                bounds=groups.bounds,
                # A department's rows are its department's: the departments say it all.
                keys=[key for key, _ in rows] if self.grouping.by != "department" else None,
            ),
            period=self.period,
        )
        averages = working_day_averages(dates)
        averaged: Keyed = []
        for key, row in rows:
            actual, promised = averages.get(key, (None, None))
            update = {
                "average_actual_working_days": actual,
                "average_promised_working_days": promised,
            }
            averaged.append((key, row.model_copy(update=update)))
        return averaged

    async def departments(self, after: GroupKey | None, limit: int) -> tuple[Keyed, bool]:
        departments: list[str] = []
        active = self._active(after[0] if after else None, inclusive=False, chunk=limit + 1)
        async with aclosing(active):
            async for department in active:
                departments.append(department)
                if len(departments) > limit:
                    break
        page = departments[:limit]
        groups = GroupFilter(departments=page)
        rows = await self._rows(groups, [(department,) for department in page])
        return await self._with_averages(rows, groups), len(departments) > limit

    async def items(self, after: GroupKey | None, limit: int) -> tuple[Keyed, bool]:
        """Items within departments: the departments' items counted a batch of departments at
        a time (each has one item at least), until one row more than the page is known."""
        rows: Keyed = []
        active = self._active(after[0] if after else None, inclusive=True, chunk=limit + 1)
        async with aclosing(active):
            exhausted = False
            while len(rows) <= limit and not exhausted:
                batch: list[str] = []
                async for department in active:
                    batch.append(department)
                    if len(batch) > limit:
                        break
                else:
                    exhausted = True
                if batch:
                    found = await self._rows(GroupFilter(departments=batch))
                    rows += [(key, row) for key, row in found if after is None or key > after]
        page = rows[:limit]
        groups = GroupFilter(departments=sorted({key[0] for key, _ in page}))
        return await self._with_averages(page, groups), len(rows) > limit

    async def regions(self, after: GroupKey | None, limit: int) -> tuple[Keyed, bool]:
        """Regions: the departments read in order, each the region its code begins with, until
        one region more than the page is known (a region's departments lie together)."""
        keys: list[str] = []
        digits = self.grouping.region_digits
        chunk = max(limit + 1, _DEPARTMENT_CHUNK)
        active = self._active(after[0] if after else None, inclusive=False, chunk=chunk)
        async with aclosing(active):
            async for department in active:
                key = department.partition("-")[0][:digits]
                if (after is not None and key <= after[0]) or (keys and keys[-1] == key):
                    continue
                keys.append(key)
                if len(keys) > limit:
                    break
        page = keys[:limit]
        if not page:
            return [], False
        groups = GroupFilter(
            bounds=DepartmentRange(
                after=page[0],
                inclusive=True,
                below=page[-1] + _ABOVE_ID_CHARACTERS,
                scope=self.scope.region.prefix if self.scope.region is not None else None,
            ),
            keys=[(key,) for key in page],
        )
        rows = await self._rows(groups, [(key,) for key in page])
        return await self._with_averages(rows, groups), len(keys) > limit


def _row(grouping: Grouping, counts: repository.GroupCounts) -> SupervisionRow:
    if grouping.by == "region":
        region = RegionCode.parse(counts.key[0])
        department_id = item_code = None
    else:
        department_id = counts.key[0]
        item_code = counts.key[1] if grouping.by == "item" else None
        region = RegionCode.parse(department_id.partition("-")[0])
    rate = round(counts.completed_on_time / counts.completed, 4) if counts.completed else None
    return SupervisionRow(
        department_id=department_id,
        department_name=counts.department_name,
        item_code=item_code,
        item_name=counts.item_name,
        region_code=region.official,
        region_level=_LEVEL_NAMES[region.level],
        filed=counts.filed,
        completed=counts.completed,
        completed_on_time=counts.completed_on_time,
        on_time_rate=rate,
        open=counts.open,
        overdue=counts.overdue,
        nearly_overdue=counts.nearly_overdue,
        average_actual_working_days=None,
        average_promised_working_days=None,
    )


def working_day_averages(
    dates: Sequence[repository.DateCount],
) -> dict[GroupKey, tuple[float, float]]:
    """Per group, the mean working days from filing to completion and from filing to the
    promised time.

    The working days from one date to a later one are the difference of the dates' places on
    the calendar's count of working days (``working_days_between`` from any earlier date), so
    a mean over cases is the mean place of their completions (or promises) less the mean place
    of their filings: counts per date are all it takes."""
    places = _working_day_places({one.day for one in dates})
    totals: defaultdict[GroupKey, Counter[str]] = defaultdict(Counter)
    cases: Counter[GroupKey] = Counter()
    for one in dates:
        totals[one.key][one.which] += places[one.day] * one.count
        if one.which == "completed":
            cases[one.key] += one.count
    return {
        key: (
            round((totals[key]["completed"] - totals[key]["submitted"]) / count, 2),
            round((totals[key]["promised"] - totals[key]["submitted"]) / count, 2),
        )
        for key, count in cases.items()
        if count
    }


def _working_day_places(days: Iterable[dt.date]) -> dict[dt.date, int]:
    """Each date's count of working days since the earliest of them."""
    places: dict[dt.date, int] = {}
    previous: dt.date | None = None
    place = 0
    for day in sorted(days):
        if previous is not None:
            place += working_days_between(previous, day)
        places[day] = place
        previous = day
    return places


# --- the CSV export -------------------------------------------------------------------------------


class ExportInterrupted(Exception):
    """A page of an export already under way could not be read: the answer has begun (200,
    its first rows) and can only be cut off, which the client sees as a broken transfer. Not a
    ``DomainError``: no problem can be answered any more."""


class _GatewayPage(BaseModel):
    """A page of the list as the gateway answers it: merged from every instance, with the
    instances that did not answer."""

    items: list[SupervisionRow]
    next_cursor: str | None = None
    incomplete: list[dict[str, Any]] = Field(default_factory=list)


def check_export(principal: Principal, query: SupervisionQuery) -> None:
    """Refuse an export the list would refuse, before any of it is sent."""
    scope = supervision_scope(principal)
    period_of(query)
    grouping_of(query, scope)


async def read_page(
    http: httpx.AsyncClient,
    *,
    principal: Principal,
    query: SupervisionQuery,
    cursor: str | None,
    limit: int,
) -> _GatewayPage:
    """One page of the list through the gateway, merged from every instance, with the caller's
    own token; an instance missing from it fails the export (it would lack its rows)."""
    params: dict[str, str] = {
        "period_start": query.period_start.isoformat(),
        "period_end": query.period_end.isoformat(),
        "group_by": query.group_by,
        "limit": str(limit),
    }
    if query.region_level is not None:
        params["region_level"] = query.region_level
    if cursor is not None:
        params["cursor"] = cursor
    try:
        response = await http.get(
            LIST_PATH, params=params, headers={"Authorization": f"Bearer {principal.token}"}
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("the supervision figures could not be read") from exc
    raise_for_problem(
        response, upstream="case-svc", passed_on=(*LIST_PROBLEMS, TokenExpired, TokenRevoked)
    )
    try:
        page = _GatewayPage.model_validate_json(response.content)
    except ValidationError as exc:
        raise UpstreamUnavailable("the supervision figures came in an unexpected shape") from exc
    if page.incomplete:
        raise UpstreamUnavailable(
            "an instance holding some of the rows did not answer: try the export again"
        )
    return page


#: What a spreadsheet would take a cell starting with for a formula (CSV injection): such a
#: text is sent behind a quote, which the spreadsheet shows it without.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[SupervisionRow], *, header: bool) -> str:
    """The rows as CSV lines (an empty cell for a null), after the header when asked."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if header:
        writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = row.model_dump()
        writer.writerow(_cell(values[column]) for column in CSV_COLUMNS)
    return buffer.getvalue()


async def csv_export(
    http: httpx.AsyncClient,
    *,
    principal: Principal,
    query: SupervisionQuery,
    first: _GatewayPage,
    limit: int,
) -> AsyncIterator[str]:
    """The header and the rows of ``first``, then of every page after it, as CSV text. A page
    that fails later ends the stream with an error, never with a shorter file that looks
    whole."""
    yield csv_text(first.items, header=True)
    cursor = first.next_cursor
    while cursor is not None:
        try:
            page = await read_page(
                http, principal=principal, query=query, cursor=cursor, limit=limit
            )
        except DomainError as exc:
            raise ExportInterrupted(exc.code) from exc
        yield csv_text(page.items, header=False)
        cursor = page.next_cursor
