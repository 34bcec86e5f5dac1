"""The department's queue: its counts, and its open cases most urgent first, filtered as the
API filters them (status, item, who holds it, deadline colour), a page at a time."""

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import call
from onevisit_web.pages import gateway_client, redirect, render
from onevisit_web.workbench.labels import QUEUE_STATUSES, words
from onevisit_web.workbench.staff import StaffDep, regional, staff_member

router = APIRouter(include_in_schema=False)

ASSIGNEES = {"": "全部", "unassigned": "未认领", "me": "我认领的"}


def queue_filters(request: Request) -> list[tuple[str, str]]:
    """The filters the page was asked for, those the API knows only (a stale or altered link
    lists what it can rather than failing)."""
    query = request.query_params
    statuses = [s for s in query.getlist("status") if s in QUEUE_STATUSES]
    chosen = [("status", status) for status in statuses]
    item_code = query.get("item_code", "").strip()
    if item_code and len(item_code) <= 64:
        chosen.append(("item_code", item_code))
    if query.get("assignee") in ("me", "unassigned"):
        chosen.append(("assignee", query["assignee"]))
    if query.get("deadline_colour") in words("deadline_colours"):
        chosen.append(("deadline_colour", query["deadline_colour"]))
    return chosen


@router.get("/")
async def queue(request: Request, staff: StaffDep) -> Response:
    http, token = gateway_client(request), staff.access_token
    member = staff_member(staff)
    if member.dept is None:
        # The platform's own staff hold no department's queue: their page is supervision.
        return redirect(request, "/workbench/supervision")
    filters = queue_filters(request)
    params = [*filters, ("order", "due")]
    cursor = request.query_params.get("cursor")
    if cursor:
        params.append(("cursor", cursor))
    counts = await call(http, "GET", "/cases/v1/queue", token=token, headers=regional(member))
    page = await call(
        http, "GET", "/cases/v1/cases", token=token, params=params, headers=regional(member)
    )
    next_cursor = page.body.get("next_cursor")
    context = {
        "counts": counts.body,
        "cases": page.body["items"],
        "chosen": dict(filters),
        "chosen_statuses": [value for key, value in filters if key == "status"],
        "next_url": f"/workbench/?{urlencode([*filters, ('cursor', next_cursor)])}"
        if next_cursor
        else None,
        "first_url": f"/workbench/?{urlencode(filters)}" if cursor else None,
        "statuses": words("case_statuses"),
        "queue_statuses": QUEUE_STATUSES,
        "colours": words("deadline_colours"),
        "assignees": ASSIGNEES,
        "member": member,
    }
    return render(request, "workbench/queue.html", context)
