"""Her cases: the list (every tier's, merged by the gateway), a case's progress and history,
the one-time supplement notice and her answer to it, and rating a completed case or the
rectification of her bad review."""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.citizen.common import CaseNumber, CitizenDep, needs_step_up, step_up
from onevisit_web.citizen.forms import field_errors, form_fields, posted_values
from onevisit_web.citizen.wording import ACTOR_ROLE, CASE_ACTION, CASE_STATUS, DEADLINE
from onevisit_web.pages import (
    field,
    form_of,
    gateway_client,
    problem_message,
    redirect,
    render,
)
from onevisit_web.session import WebSession

router = APIRouter(prefix="/app", include_in_schema=False)

#: The milestones of a case as her progress bar shows them, and the last one each status has
#: reached (an instant item's case goes from filed to completed at once).
MILESTONES = ("提交", "受理", "审查", "办结")
REACHED = {
    "submitted": 0,
    "supplement_requested": 0,
    "accepted": 1,
    "in_review": 2,
    "suspended": 2,
    "approval_pending": 2,
    "denial_pending": 2,
    "approved": 2,
    "completed": 3,
    "denied": 3,
    "not_accepted": 3,
    "withdrawn": 3,
}
#: The statuses in which she may rate the case.
RATEABLE = frozenset({"completed"})
RATING_KINDS = frozenset({"case", "follow_up"})


def progress(status: str) -> list[tuple[str, bool]]:
    reached = REACHED.get(status, 0)
    return [(name, index <= reached) for index, name in enumerate(MILESTONES)]


def supplement_notice(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The latest one-time supplement notice of the case's history: its note, fields and
    materials."""
    for entry in reversed(history):
        if entry.get("action") == "request_supplement":
            # The step's detail is the notice itself: its fields and materials.
            notice: dict[str, Any] = entry.get("detail") or {}
            return {
                "note": entry.get("note"),
                "fields": list(notice.get("fields") or []),
                "materials": list(notice.get("materials") or []),
            }
    return None


async def _case(request: Request, citizen: WebSession, case_no: str) -> tuple[dict[str, Any], str]:
    answer = await call(
        gateway_client(request),
        "GET",
        f"/cases/v1/cases/{quote(case_no)}",
        token=citizen.access_token,
    )
    return answer.body, answer.etag or ""


@router.get("/cases")
async def my_cases(request: Request, citizen: CitizenDep) -> Response:
    answer = await call(
        gateway_client(request), "GET", "/cases/v1/cases", token=citizen.access_token
    )
    context = {
        "cases": answer.body["items"],
        "incomplete": bool(answer.body.get("incomplete")),
        "statuses": CASE_STATUS,
        "deadlines": DEADLINE,
    }
    return render(request, "citizen/cases.html", context)


async def _case_page(
    request: Request,
    citizen: WebSession,
    case_no: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    case, etag = await _case(request, citizen, case_no)
    notice = supplement_notice(case["history"])
    asked = set(notice["fields"]) if notice else set()
    fields = [item for item in form_fields(await _form_schema(request, case)) if item.name in asked]
    context = {
        "case": case,
        "etag": etag,
        "status_name": CASE_STATUS.get(case["status"], case["status"]),
        "progress": progress(case["status"]),
        "actions": CASE_ACTION,
        "roles": ACTOR_ROLE,
        "statuses": CASE_STATUS,
        "notice": notice,
        "can_supplement": "supplement" in case.get("available_actions", []),
        "supplement_fields": fields,
        "values": values or {},
        "errors": errors or {},
        "error": error,
        "rateable": case["status"] in RATEABLE,
    }
    return render(request, "citizen/case.html", context, status=status)


async def _form_schema(request: Request, case: dict[str, Any]) -> dict[str, Any]:
    """The item's form, for the fields a notice names (the case keeps their values, not their
    titles)."""
    if case["status"] != "supplement_requested":
        return {}
    try:
        item = await call(gateway_client(request), "GET", f"/catalog/v1/items/{case['item_code']}")
    except ApiProblem:
        return {}
    schema: dict[str, Any] = item.body.get("form_schema") or {}
    return schema


@router.get("/cases/{case_no}")
async def case_page(request: Request, case_no: CaseNumber, citizen: CitizenDep) -> Response:
    return await _case_page(request, citizen, case_no)


@router.post("/cases/{case_no}/supplement")
async def supplement(request: Request, case_no: CaseNumber, citizen: CitizenDep) -> Response:
    """Her answer to the notice, on the version of the case she read (``If-Match``): a case
    that moved since is shown again as it is now."""
    form = await form_of(request, citizen)
    case, _ = await _case(request, citizen, case_no)
    notice = supplement_notice(case["history"]) or {"fields": []}
    values = {name: field(form, name) for name in notice["fields"]}
    asked = [item for item in form_fields(await _form_schema(request, case)) if item.name in values]
    typed = {**values, **posted_values(asked, values)}
    try:
        await call(
            gateway_client(request),
            "POST",
            f"/cases/v1/cases/{quote(case_no)}/transitions",
            token=citizen.access_token,
            headers={"If-Match": field(form, "etag")},
            json={"action": "supplement", "form": typed},
        )
    except ApiProblem as exc:
        return await _case_page(
            request,
            citizen,
            case_no,
            values=values,
            errors=field_errors(exc.body),
            error=problem_message(exc),
            status=exc.status if exc.status in (409, 412, 422) else 400,
        )
    return redirect(request, f"/app/cases/{case_no}")


@router.get("/cases/{case_no}/rate")
async def rate_page(
    request: Request, case_no: CaseNumber, citizen: CitizenDep, kind: str = "case", level: int = 0
) -> Response:
    """Two screens: her level first, then (for that level) its tags and a comment."""
    levels = (await call(gateway_client(request), "GET", "/ratings/v1/levels")).body["items"]
    chosen = next((item for item in levels if item["level"] == level), None)
    context = {
        "case_no": case_no,
        "kind": kind if kind in RATING_KINDS else "case",
        "levels": levels,
        "chosen": chosen,
    }
    return render(request, "citizen/rate.html", context)


@router.post("/cases/{case_no}/rating")
async def rate(request: Request, case_no: CaseNumber, citizen: CitizenDep) -> Response:
    form = await form_of(request, citizen)
    kind = field(form, "kind") if field(form, "kind") in RATING_KINDS else "case"
    body: dict[str, Any] = {
        "case_no": case_no,
        "kind": kind,
        "level": int(field(form, "level") or 0),
        "tags": [tag for tag in form.getlist("tags") if isinstance(tag, str)],
        "channel": "app",
    }
    if comment := field(form, "comment"):
        body["comment"] = comment
    try:
        await call(
            gateway_client(request),
            "POST",
            "/ratings/v1/ratings",
            token=citizen.access_token,
            json=body,
        )
    except ApiProblem as exc:
        if needs_step_up(exc):
            return step_up(request, exc, f"/app/cases/{case_no}/rate?kind={kind}")
        levels = (await call(gateway_client(request), "GET", "/ratings/v1/levels")).body["items"]
        chosen = next((item for item in levels if item["level"] == body["level"]), None)
        context = {
            "case_no": case_no,
            "kind": kind,
            "levels": levels,
            "chosen": chosen,
            "error": problem_message(exc),
        }
        return render(request, "citizen/rate.html", context, status=400)
    return redirect(request, f"/app/cases/{case_no}/rated")


@router.get("/cases/{case_no}/rated")
async def rated(request: Request, case_no: CaseNumber, citizen: CitizenDep) -> Response:
    return render(request, "citizen/rated.html", {"case_no": case_no})


@router.get("/ratings")
async def invitations(request: Request, citizen: CitizenDep) -> Response:
    """What is hers to rate: completed cases, and the follow-up of a rectification."""
    answer = await call(
        gateway_client(request), "GET", "/ratings/v1/invitations", token=citizen.access_token
    )
    return render(request, "citizen/invitations.html", {"invitations": answer.body["items"]})
