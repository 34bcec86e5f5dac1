"""Supervision (督查): per department, item within its department, or region rolled up the
region tree, the cases filed and completed in a period, the on-time rate, the open cases
overdue or nearly so now, and the mean working days taken against those promised. For the
supervisors of a region (the departments within it) and platform administrators; figures only,
as a page of JSON or the whole list as CSV."""

import csv
import datetime as dt
import io
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from case_svc.cases import repository
from case_svc.models import Case
from case_svc.supervision.schemas import CSV_COLUMNS
from case_svc.supervision.service import ExportInterrupted
from case_svc.workflow.deadlines import LOCAL_ZONE, deadline_after, warning_at
from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

FUND_CENTRE = "330300-housing_provident_fund"
LUCHENG_POLICE = "330302-public_security"
LONGWAN_POLICE = "330303-public_security"
HANGZHOU_FUND = "330100-housing_provident_fund"
PROVINCIAL_LAND = "330000-natural_resources"
WITHDRAWAL = "housing_provident_fund.withdrawal"
LOAN = "housing_provident_fund.loan"
LOSS_REPORT = "public_security.id_card_loss_report"
PERMIT = "natural_resources.land_use_permit"

ITEM_NAMES = {WITHDRAWAL: "住房公积金提取", LOAN: "住房公积金贷款"}

DECEMBER = {"period_start": "2026-12-01", "period_end": "2026-12-31"}
#: Thursday 10 December 2026, 10:00 in Wenzhou: "now" for the figures of open cases.
NOW = dt.datetime(2026, 12, 10, 2, 0, tzinfo=dt.UTC)

#: Who the cases are of, and who handles them: none of it may appear in the figures.
APPLICANT = "citizen-lin-0196f3c2"
ASSIGNEE = "handler-7c1d"
APPLICANT_NAME = "林秀英"


def at(day: int, hour: int = 10, *, month: int = 12) -> dt.datetime:
    """``hour`` o'clock in Wenzhou on that day of 2026."""
    return dt.datetime(2026, month, day, hour, tzinfo=LOCAL_ZONE).astimezone(dt.UTC)


@dataclass(frozen=True)
class Filed:
    """A case as the database holds it, made to stand in a given state."""

    department: str
    item: str
    submitted: dt.datetime
    status: str = "in_review"
    completed: dt.datetime | None = None
    #: Its promise in working days (None: an instant item, which has none).
    promised_days: int | None = 3
    paused: dt.datetime | None = None
    item_name: str | None = None


def _case(filed: Filed, number: int) -> Case:
    region = filed.department.partition("-")[0]
    due = (
        deadline_after(filed.submitted, filed.promised_days).due_at
        if filed.promised_days is not None
        else None
    )
    return Case(
        case_no=f"{region}-20261201-{number:06d}",
        item_code=filed.item,
        item_name=filed.item_name or ITEM_NAMES.get(filed.item, filed.item),
        item_version="3",
        processing_mode="review" if due is not None else "instant",
        applicant_id=APPLICANT,
        applicant_type="citizen",
        actor_id=None,
        applicant_region="330302026003",
        department_id=filed.department,
        department_name=f"{filed.department} 名称",
        region_code=region,
        form={"name": APPLICANT_NAME, "id_number": "330302195203140248"},
        status=filed.status,
        assignee_id=ASSIGNEE if filed.status not in repository.ENDED_STATUSES else None,
        claimed_at=filed.submitted if filed.status not in repository.ENDED_STATUSES else None,
        submitted_at=filed.submitted,
        updated_at=filed.completed or filed.submitted,
        completed_at=filed.completed,
        due_at=due,
        warn_at=warning_at(filed.submitted, due) if due is not None else None,
        clock_paused_at=filed.paused,
        history=[],
    )


#: The hand-built cases, as of 10 December. The fund centre's December in short: seven filed
#: (two in November: one completed in December, one still open), four completed of which one
#: late, four open of which two overdue and one nearly so.
CASES = (
    # Filed Tuesday 1st, promised by Friday 4th, completed Thursday 3rd: 2 working days of 3.
    Filed(FUND_CENTRE, WITHDRAWAL, at(1), "completed", completed=at(3)),
    # Same promise, completed Tuesday 8th: late, 5 working days.
    Filed(FUND_CENTRE, WITHDRAWAL, at(1), "completed", completed=at(8)),
    # Filed Friday 27 November, completed Wednesday 2nd, its last promised day: 3 of 3.
    Filed(FUND_CENTRE, WITHDRAWAL, at(27, month=11), "completed", completed=at(2)),
    # Filed Monday 7th, due at the close of Thursday 10th: 80 % of it gone by now, yellow.
    Filed(FUND_CENTRE, WITHDRAWAL, at(7, 9)),
    # Filed Wednesday 2nd, due Monday 7th: overdue.
    Filed(FUND_CENTRE, WITHDRAWAL, at(2)),
    # Filed Wednesday 9th: green.
    Filed(FUND_CENTRE, WITHDRAWAL, at(9)),
    # Filed in November, open and overdue: open now, not filed in December.
    Filed(FUND_CENTRE, WITHDRAWAL, at(2, month=11)),
    # Withdrawn by its applicant: filed, never completed, not open.
    Filed(FUND_CENTRE, WITHDRAWAL, at(3), "withdrawn"),
    # An instant item: completed when filed, without a promise, so on time.
    Filed(FUND_CENTRE, LOAN, at(4), "completed", completed=at(4), promised_days=None),
    Filed(LUCHENG_POLICE, LOSS_REPORT, at(3), "completed", completed=at(3), promised_days=None),
    # Due Wednesday 9th, but its clock paused on Tuesday 8th (a supplement asked for): read
    # where it paused, neither overdue nor nearly so.
    Filed(LONGWAN_POLICE, LOSS_REPORT, at(4), "supplement_requested", paused=at(8, 9)),
    Filed(HANGZHOU_FUND, WITHDRAWAL, at(1), "completed", completed=at(2)),
    Filed(PROVINCIAL_LAND, PERMIT, at(1), promised_days=20),
)


async def insert(app: FastAPI, cases: tuple[Filed, ...] = CASES) -> None:
    async with app.state.service.database.sessionmaker.begin() as session:
        for number, filed in enumerate(cases, start=1):
            await repository.add_case(session, _case(filed, number))


@pytest.fixture
async def december(app: FastAPI, clock: Any) -> None:
    """The hand-built cases, read on 10 December."""
    await insert(app)
    clock.now = NOW


@pytest.fixture
def staff(token_minter: Any) -> Callable[..., dict[str, str]]:
    def token(*roles: str, dept: str | None = "330300-civil_affairs", sub: str = "sup-1") -> Any:
        return bearer(token_minter.mint(sub, typ="staff", loa=2, dept=dept, roles=roles))

    return token


@pytest.fixture
def admin(staff: Callable[..., dict[str, str]]) -> dict[str, str]:
    return staff("platform_admin", dept=None, sub="admin-1")


async def figures(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    """Every row, page after page."""
    rows: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**DECEMBER, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/cases/v1/supervision", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        rows += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def by(key: str, rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


def counts(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(
        row[name]
        for name in (
            "filed",
            "completed",
            "completed_on_time",
            "on_time_rate",
            "open",
            "overdue",
            "nearly_overdue",
            "average_actual_working_days",
            "average_promised_working_days",
        )
    )


#: The fund centre's December: 7 filed, 4 completed, 3 of them on time; 4 open, 2 overdue and 1
#: nearly; the three with a promise took 2, 5 and 3 working days of 3 promised each.
FUND_DECEMBER = (7, 4, 3, 0.75, 4, 2, 1, 3.33, 3.0)


@pytest.mark.usefixtures("december")
async def test_a_department_row_counts_the_period_and_the_open_cases_now(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rows = await figures(client, admin)

    assert [row["department_id"] for row in rows] == [
        PROVINCIAL_LAND,
        HANGZHOU_FUND,
        FUND_CENTRE,
        LUCHENG_POLICE,
        LONGWAN_POLICE,
    ]
    fund = by("department_id", rows)[FUND_CENTRE]
    assert counts(fund) == FUND_DECEMBER
    assert (fund["department_name"], fund["region_code"], fund["region_level"]) == (
        f"{FUND_CENTRE} 名称",
        "330300",
        "city",
    )
    assert (fund["item_code"], fund["item_name"]) == (None, None)
    # Instant items only: on time, and no promise to average against.
    assert counts(by("department_id", rows)[LUCHENG_POLICE]) == (1, 1, 1, 1.0, 0, 0, 0, None, None)
    # A paused clock is read where it paused: not overdue, though its due time has passed.
    assert counts(by("department_id", rows)[LONGWAN_POLICE]) == (1, 0, 0, None, 1, 0, 0, None, None)


@pytest.mark.usefixtures("december")
async def test_item_rows_are_items_within_their_department(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    rows = await figures(client, admin, group_by="item", limit=2)

    assert [(row["department_id"], row["item_code"]) for row in rows] == [
        (PROVINCIAL_LAND, PERMIT),
        (HANGZHOU_FUND, WITHDRAWAL),
        (FUND_CENTRE, LOAN),
        (FUND_CENTRE, WITHDRAWAL),
        (LUCHENG_POLICE, LOSS_REPORT),
        (LONGWAN_POLICE, LOSS_REPORT),
    ]
    items = {(row["department_id"], row["item_code"]): row for row in rows}
    assert counts(items[FUND_CENTRE, WITHDRAWAL]) == (6, 3, 2, 0.6667, 4, 2, 1, 3.33, 3.0)
    assert counts(items[FUND_CENTRE, LOAN]) == (1, 1, 1, 1.0, 0, 0, 0, None, None)
    assert items[FUND_CENTRE, LOAN]["item_name"] == "住房公积金贷款"


@pytest.mark.usefixtures("december")
async def test_region_rows_roll_departments_up_the_region_tree(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    cities = await figures(client, admin, group_by="region")

    # A provincial department lies above every city: a row of its own region.
    assert [(row["region_code"], row["region_level"]) for row in cities] == [
        ("330000", "province"),
        ("330100", "city"),
        ("330300", "city"),
    ]
    wenzhou = by("region_code", cities)["330300"]
    assert counts(wenzhou) == (9, 5, 4, 0.8, 5, 2, 1, 3.33, 3.0)
    assert wenzhou["department_id"] is None

    counties = await figures(client, admin, group_by="region", region_level="county", limit=1)
    assert [(row["region_code"], row["region_level"]) for row in counties] == [
        ("330000", "province"),
        ("330100", "city"),
        ("330300", "city"),  # Wenzhou's own departments, above every county of it
        ("330302", "county"),
        ("330303", "county"),
    ]
    assert counts(by("region_code", counties)["330300"]) == FUND_DECEMBER
    assert sum(row["filed"] for row in counties) == sum(row["filed"] for row in cities)


@pytest.mark.usefixtures("december")
async def test_a_supervisor_sees_the_departments_of_their_region_and_below(
    client: httpx.AsyncClient, staff: Callable[..., dict[str, str]], problem: Problem
) -> None:
    wenzhou = staff("supervisor", dept="330300-civil_affairs")
    lucheng = staff("supervisor", dept="330302-market_regulation")

    assert [row["department_id"] for row in await figures(client, wenzhou)] == [
        FUND_CENTRE,
        LUCHENG_POLICE,
        LONGWAN_POLICE,
    ]
    assert [row["department_id"] for row in await figures(client, lucheng)] == [LUCHENG_POLICE]
    # Their rows roll up one level below their own region unless told otherwise.
    regions = await figures(client, wenzhou, group_by="region")
    assert [row["region_code"] for row in regions] == ["330300", "330302", "330303"]
    assert [row["region_code"] for row in await figures(client, lucheng, group_by="region")] == [
        "330302"
    ]
    body = problem(
        await client.get(
            "/cases/v1/supervision",
            params={**DECEMBER, "group_by": "region", "region_level": "city"},
            headers=lucheng,
        ),
        422,
        "region_level_above_scope",
    )
    assert (body["scope_region_code"], body["scope_level"]) == ("330302", "county")


@pytest.mark.parametrize(
    ("caller", "code"),
    [
        ({"typ": "staff", "roles": ("handler",), "dept": FUND_CENTRE}, "supervision_not_allowed"),
        (
            {"typ": "staff", "roles": ("catalog_admin", "department_admin")},
            "supervision_not_allowed",
        ),
        ({"typ": "citizen", "roles": ()}, "supervision_not_allowed"),
        # A system of a department, whatever roles its token would claim.
        (
            {"typ": "department_system", "roles": ("supervisor",), "dept": FUND_CENTRE},
            "supervision_not_allowed",
        ),
        ({"typ": "staff", "roles": ("supervisor",), "dept": None}, "no_department"),
        ({"typ": "staff", "roles": ("supervisor",), "dept": "wenzhou"}, "no_department"),
    ],
)
@pytest.mark.parametrize("path", ["/cases/v1/supervision", "/cases/v1/supervision/export"])
@pytest.mark.usefixtures("catalog")
async def test_anyone_else_is_refused(
    client: httpx.AsyncClient,
    token_minter: Any,
    problem: Problem,
    caller: dict[str, Any],
    code: str,
    path: str,
) -> None:
    token = token_minter.mint(
        "someone", typ=caller["typ"], loa=2, roles=caller["roles"], dept=caller.get("dept")
    )

    body = problem(await client.get(path, params=DECEMBER, headers=bearer(token)), 403, code)

    if code == "supervision_not_allowed":
        assert body["required_roles"] == ["supervisor", "platform_admin"]


@pytest.mark.parametrize(
    ("period_start", "period_end"), [("2026-12-31", "2026-12-01"), ("2025-12-01", "2026-12-31")]
)
async def test_a_period_runs_forward_for_a_year_at_most(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    problem: Problem,
    period_start: str,
    period_end: str,
) -> None:
    problem(
        await client.get(
            "/cases/v1/supervision",
            params={"period_start": period_start, "period_end": period_end},
            headers=admin,
        ),
        422,
        "invalid_period",
    )


@pytest.mark.usefixtures("december")
async def test_a_cursor_holds_for_its_own_list_only(
    client: httpx.AsyncClient, admin: dict[str, str], staff: Any, problem: Problem
) -> None:
    first = await client.get(
        "/cases/v1/supervision", params={**DECEMBER, "limit": 2}, headers=admin
    )
    cursor = first.json()["next_cursor"]

    for params, headers in (
        ({**DECEMBER, "group_by": "item"}, admin),
        ({"period_start": "2026-11-01", "period_end": "2026-11-30"}, admin),
        (DECEMBER, staff("supervisor")),
    ):
        problem(
            await client.get(
                "/cases/v1/supervision", params={**params, "cursor": cursor}, headers=headers
            ),
            400,
            "invalid_cursor",
        )


@pytest.mark.usefixtures("december", "catalog")
async def test_the_export_is_every_row_as_csv_with_a_header(
    client: httpx.AsyncClient, admin: dict[str, str], app: FastAPI
) -> None:
    # Pages of two rows: the export reads the list a page at a time.
    app.state.service.settings = app.state.service.settings.model_copy(update={"max_page_size": 2})
    rows = await figures(client, admin, group_by="item")

    response = await client.get(
        "/cases/v1/supervision/export", params={**DECEMBER, "group_by": "item"}, headers=admin
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
    assert table[0] == list(CSV_COLUMNS)

    def cell(value: Any) -> str:
        return "" if value is None else str(value)

    assert table[1:] == [[cell(row[column]) for column in CSV_COLUMNS] for row in rows]
    assert table[4] == [
        FUND_CENTRE,
        f"{FUND_CENTRE} 名称",
        WITHDRAWAL,
        "住房公积金提取",
        "330300",
        "city",
        *("6", "3", "2", "0.6667", "4", "2", "1", "3.33", "3.0"),
    ]


async def test_a_name_a_spreadsheet_would_run_is_exported_as_text(
    client: httpx.AsyncClient, app: FastAPI, admin: dict[str, str], catalog: Any
) -> None:
    formula = '=HYPERLINK("http://example.invalid","点击")'
    await insert(app, (Filed(FUND_CENTRE, LOAN, at(1), item_name=formula),))

    response = await client.get(
        "/cases/v1/supervision/export", params={**DECEMBER, "group_by": "item"}, headers=admin
    )

    (_header, row) = list(csv.reader(io.StringIO(response.text)))
    assert row[CSV_COLUMNS.index("item_name")] == "'" + formula


def gateway_answering(app: FastAPI, *pages: dict[str, Any]) -> None:
    """The app's gateway client answers the list with ``pages``, one after the other: an
    instance failing behind the gateway, which no test here can make happen for real."""
    answers = iter(pages)

    async def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/cases/v1/supervision"
        return httpx.Response(200, json=next(answers))

    app.state.service.http = httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://gateway"
    )


ROW = {
    "department_id": FUND_CENTRE,
    "department_name": "温州市住房公积金管理中心",
    "item_code": None,
    "item_name": None,
    "region_code": "330300",
    "region_level": "city",
    **dict.fromkeys(("filed", "completed", "completed_on_time", "open", "overdue"), 1),
    "nearly_overdue": 0,
    "on_time_rate": 1.0,
    "average_actual_working_days": 1.0,
    "average_promised_working_days": 3.0,
}
MISSING = [{"pool": "3303", "code": "upstream_timeout"}]


async def test_an_export_missing_an_instance_is_refused_before_a_line_is_sent(
    client: httpx.AsyncClient, app: FastAPI, admin: dict[str, str], problem: Problem
) -> None:
    gateway_answering(app, {"items": [ROW], "next_cursor": None, "incomplete": MISSING})

    response = await client.get("/cases/v1/supervision/export", params=DECEMBER, headers=admin)

    problem(response, 503, "upstream_unavailable")


async def test_an_export_losing_an_instance_midway_ends_in_an_error_not_a_shorter_file(
    client: httpx.AsyncClient, app: FastAPI, admin: dict[str, str]
) -> None:
    gateway_answering(
        app,
        {"items": [ROW], "next_cursor": "page-2", "incomplete": []},
        {"items": [], "next_cursor": None, "incomplete": MISSING},
    )

    # The answer has begun (200, the first rows): it is cut off, never ended as if whole.
    with pytest.raises(ExportInterrupted):
        await client.get("/cases/v1/supervision/export", params=DECEMBER, headers=admin)


@pytest.mark.usefixtures("december", "catalog")
async def test_no_figure_names_a_case_an_applicant_or_a_staff_member(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    answers = []
    for group_by in ("department", "item", "region"):
        params = {**DECEMBER, "group_by": group_by}
        answers.append(await client.get("/cases/v1/supervision", params=params, headers=admin))
        answers.append(
            await client.get("/cases/v1/supervision/export", params=params, headers=admin)
        )

    for answer in answers:
        assert answer.status_code == 200, answer.text
        text = answer.content.decode("utf-8")
        for personal in (APPLICANT, ASSIGNEE, APPLICANT_NAME, "330302195203140248", "20261201-"):
            assert personal not in text
    assert set(answers[0].json()["items"][0]) == set(CSV_COLUMNS)


async def test_cases_filed_and_handled_through_the_api_are_counted(
    client: httpx.AsyncClient,
    submit: Submit,
    resident: str,
    catalog: Any,
    clock: Any,
    token_minter: Any,
) -> None:
    def token(sub: str, *roles: str) -> dict[str, str]:
        return bearer(token_minter.mint(sub, typ="staff", loa=2, dept=FUND_CENTRE, roles=roles))

    handler, supervisor = token("handler-1", "handler"), token("supervisor-1", "supervisor")
    clock.now = at(1, 20)
    completed = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    still_open = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    etag = '"1"'
    for who, action in (
        (handler, "claim"),
        (handler, "accept"),
        (handler, "start_review"),
        (handler, "propose_approval"),
        (supervisor, "confirm"),
        (handler, "deliver"),
    ):
        clock.now += dt.timedelta(hours=1)  # Tuesday 21:00 to Wednesday 02:00 in Wenzhou
        path = f"/cases/v1/cases/{completed}"
        headers = {**who, "If-Match": etag}
        answer = (
            await client.post(f"{path}/claim", headers=headers)
            if action == "claim"
            else await client.post(f"{path}/transitions", json={"action": action}, headers=headers)
        )
        assert answer.status_code == 200, answer.text
        etag = answer.headers["etag"]
    clock.now = NOW

    (row,) = await figures(client, supervisor)

    assert still_open != completed
    # Completed on Wednesday 2nd, a working day after it was filed, of 3 promised.
    assert counts(row) == (2, 1, 1, 1.0, 1, 1, 0, 1.0, 3.0)


@pytest.fixture
def statements(app: FastAPI) -> Iterator[list[tuple[str, Any]]]:
    """The statements the app sends its database, with their parameters."""
    engine = app.state.service.database.engine.sync_engine
    sent: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        _connection, _cursor, statement, parameters, _context, _many = args
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.usefixtures("december")
@pytest.mark.parametrize("group_by", ["department", "item", "region"])
async def test_every_count_is_read_through_an_index(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    app: FastAPI,
    statements: list[tuple[str, Any]],
    group_by: str,
) -> None:
    await figures(client, admin, group_by=group_by, limit=2)
    reads = [(sql, parameters) for sql, parameters in statements if "FROM" in sql.upper()]
    assert reads

    engine = app.state.service.database.engine
    postgresql = engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        if postgresql:
            # Few rows here: the planner would rather scan the table. Can it use an index?
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for sql, parameters in reads:
            explain = "EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN "
            plan = [
                str(line[-1])
                for line in await connection.exec_driver_sql(explain + sql, parameters)
            ]
            # PostgreSQL: no sequential scan; SQLite: every read of the table through an index.
            scans = [
                line
                for line in plan
                if "Seq Scan" in line or line.startswith(("SCAN case", "SEARCH case"))
            ]
            assert all("INDEX" in line.upper() and "Seq Scan" not in line for line in scans), (
                sql,
                plan,
            )
            assert any("INDEX" in line.upper() for line in plan), (sql, plan)


async def test_a_department_has_a_row_while_it_has_cases_open_whatever_the_period(
    client: httpx.AsyncClient, app: FastAPI, admin: dict[str, str], clock: Any
) -> None:
    await insert(
        app,
        (
            Filed(HANGZHOU_FUND, WITHDRAWAL, at(1)),
            Filed(FUND_CENTRE, WITHDRAWAL, at(1), "completed", completed=at(2)),
        ),
    )
    clock.now = NOW

    rows = await figures(client, admin, period_start="2026-11-01", period_end="2026-11-30")

    # Nothing of November, but an open case now; the fund centre, nothing at all: no row.
    assert [row["department_id"] for row in rows] == [HANGZHOU_FUND]
    assert counts(rows[0]) == (0, 0, 0, None, 1, 1, 0, None, None)
