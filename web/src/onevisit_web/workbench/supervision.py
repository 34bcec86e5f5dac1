"""Supervision (督查): how promptly the departments of her region handle their cases (case-svc's
figures, per department, region or item) and how satisfied their applicants are (rating-svc's
published statistics and ranking), as bar charts with the same figures in tables."""

import asyncio
import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.pages import gateway_client, problem_message, render
from onevisit_web.workbench.charts import bar_chart
from onevisit_web.workbench.labels import BEIJING, percent, words
from onevisit_web.workbench.staff import StaffDep, staff_member

router = APIRouter(include_in_schema=False)

#: The province: the region whose published figures a platform administrator (no department)
#: is shown.
PROVINCE = "33"
#: Rows a page shows: each asks rating-svc for its satisfaction (published, cached figures).
ROWS_PER_PAGE = 30


def period_of(request: Request, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period asked for, or this month so far; a date that does not parse is the default."""

    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.query_params.get(name, ""))
        except ValueError:
            return default

    return day("period_start", today.replace(day=1)), day("period_end", today)


def row_label(row: dict[str, Any]) -> str:
    return str(
        row.get("item_name")
        or row.get("department_name")
        or row.get("region_name")
        or row.get("region_code")
    )


def published_figures_of(row: dict[str, Any], group_by: str) -> str | None:
    """Where rating-svc publishes the figures of a row's department or region; none for an
    item's row (an item's figures are counted wherever it is handled, not per department)."""
    if group_by == "department" and row.get("department_id"):
        return f"/ratings/v1/statistics/departments/{row['department_id']}"
    if group_by == "region":
        return f"/ratings/v1/statistics/regions/{row['region_code']}"
    return None


async def _satisfaction(
    request: Request, path: str | None, span: dict[str, str]
) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        figures: dict[str, Any] = (
            await call(gateway_client(request), "GET", path, params=span)
        ).body["figures"]
    except ApiProblem:
        return None
    return figures


async def _region_name(request: Request, code: str) -> str | None:
    """A region row's name from the catalog (public); its code alone if unavailable."""
    try:
        answer = await call(gateway_client(request), "GET", f"/catalog/v1/regions/{code}")
    except ApiProblem:
        return None
    name: str | None = answer.body.get("name")
    return name


@router.get("/supervision")
async def supervision(request: Request, staff: StaffDep) -> Response:
    http, token = gateway_client(request), staff.access_token
    member = staff_member(staff)
    start, end = period_of(request, dt.datetime.now(BEIJING).date())
    group_by = request.query_params.get("group_by", "department")
    if group_by not in words("group_by"):
        group_by = "department"
    query = {"period_start": start.isoformat(), "period_end": end.isoformat(), "group_by": group_by}
    cursor = request.query_params.get("cursor")
    problems: list[str] = []
    rows: list[dict[str, Any]] = []
    next_url = None
    try:
        page = await call(
            http,
            "GET",
            "/cases/v1/supervision",
            token=token,
            params={**query, "limit": ROWS_PER_PAGE, **({"cursor": cursor} if cursor else {})},
        )
        rows = page.body["items"]
        if page.body.get("next_cursor"):
            following = urlencode({**query, "cursor": page.body["next_cursor"]})
            next_url = f"/workbench/supervision?{following}"
    except ApiProblem as exc:
        problems.append(problem_message(exc))
    region = member.region or PROVINCE
    span = {"granularity": "day", "from": start.isoformat(), "to": end.isoformat()}
    rated = await asyncio.gather(
        *(_satisfaction(request, published_figures_of(row, group_by), span) for row in rows)
    )
    rows = [{**row, "rated": figures} for row, figures in zip(rows, rated, strict=True)]
    if group_by == "region":
        names = await asyncio.gather(*(_region_name(request, row["region_code"]) for row in rows))
        rows = [{**row, "region_name": name} for row, name in zip(rows, names, strict=True)]
    figures: dict[str, Any] | None = None
    ranking: dict[str, Any] | None = None
    published = f"/ratings/v1/statistics/regions/{region}"
    try:
        figures = (await call(http, "GET", published, params=span)).body["figures"]
        ranking = (await call(http, "GET", f"{published}/rankings", params=span)).body
    except ApiProblem as exc:
        problems.append(problem_message(exc))
    charts = [
        bar_chart(
            "on-time",
            "按时办结率",
            [(row_label(r), r["on_time_rate"], percent(r["on_time_rate"])) for r in rows],
            maximum=1.0,
        ),
        bar_chart(
            "overdue",
            "在办超期件数",
            [(row_label(r), r["overdue"], str(r["overdue"])) for r in rows],
        ),
    ]
    if group_by != "item":
        charts.append(
            bar_chart(
                "satisfaction",
                "满意率（好差评）",
                [
                    (
                        row_label(r),
                        r["rated"] and r["rated"]["satisfaction_rate"],
                        percent(r["rated"] and r["rated"]["satisfaction_rate"]),
                    )
                    for r in rows
                ],
                maximum=1.0,
            )
        )
    context = {
        "query": query,
        "rows": rows,
        "charts": charts,
        "figures": figures,
        "ranking": ranking,
        "region": region,
        "problems": problems,
        "next_url": next_url,
        "group_by": words("group_by"),
    }
    return render(request, "workbench/supervision.html", context)
