"""Bad reviews at the workbench (rating-svc): the department's rectifications, each with its
call-back and its rectification, an appeal of a review the department holds mistaken or
malicious, and, for the supervisors of the tier above, the decision on an appeal."""

import datetime as dt
import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.pages import field, form_of, gateway_client, problem_message, redirect, render
from onevisit_web.session import WebSession
from onevisit_web.workbench.labels import BEIJING, words
from onevisit_web.workbench.staff import StaffDep, staff_member

router = APIRouter(include_in_schema=False)

DONE = {
    "call_back": "已记录回访。",
    "rectification": "已报告整改情况，群众将收到再评价邀请。",
    "appeal": "已提交申诉，由上级部门审核人裁定。",
    "decision": "已作出裁定。",
}


class FormIncomplete(ValueError):
    """A form that cannot be sent as it is: said beside it."""


def beijing_instant(local: str, now: dt.datetime | None = None) -> str:
    """A ``datetime-local`` field's value, typed in Beijing time, as an ISO instant; left
    empty, now (a call-back recorded as it ends: a minute typed may fall before the review)."""
    if not local:
        return (now or dt.datetime.now(dt.UTC)).isoformat()
    try:
        moment = dt.datetime.fromisoformat(local)
    except ValueError as exc:
        raise FormIncomplete("请填写回访时间。") from exc
    return moment.replace(tzinfo=BEIJING).isoformat()


def evidence_of(text: str) -> list[str]:
    """The evidence, one reference a line."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ApiProblem(404, "not_found", "", {}) from exc


def _listing(request: Request, path: str, statuses: dict[str, str]) -> tuple[list[Any], str]:
    """The list's query (a known status, a cursor) and the link to its next page's base."""
    chosen = request.query_params.get("status", "")
    params = [("status", chosen)] if chosen in statuses else []
    return params, f"{path}?{urlencode(params)}"


@router.get("/rectifications")
async def rectifications(request: Request, staff: StaffDep) -> Response:
    statuses = words("rectification_statuses")
    params, base = _listing(request, "/workbench/rectifications", statuses)
    cursor = request.query_params.get("cursor")
    page = await call(
        gateway_client(request),
        "GET",
        "/ratings/v1/rectifications",
        token=staff.access_token,
        params=[*params, *([("cursor", cursor)] if cursor else [])],
    )
    next_cursor = page.body.get("next_cursor")
    context = {
        "items": page.body["items"],
        "statuses": statuses,
        "chosen": dict(params).get("status", ""),
        "next_url": f"{base}&{urlencode({'cursor': next_cursor})}" if next_cursor else None,
    }
    return render(request, "workbench/rectifications.html", context)


async def rectification_page(
    request: Request,
    staff: WebSession,
    rectification_id: str,
    *,
    message: str | None = None,
    failed: str | None = None,
    status: int = 200,
) -> Response:
    answer = await call(
        gateway_client(request),
        "GET",
        f"/ratings/v1/rectifications/{_uuid(rectification_id)}",
        token=staff.access_token,
    )
    levels = await _levels(request)
    context = {
        "r": answer.body,
        "level_names": {level["level"]: level["name"] for level in levels},
        "tag_names": {tag["code"]: tag["name"] for level in levels for tag in level["tags"]},
        "message": message,
        "failed": failed,
        "flash": DONE.get(request.query_params.get("done", "")),
        "statuses": words("rectification_statuses"),
        "channels": words("channels"),
        "grounds": words("grounds"),
        "roles": words("roles"),
        "steps": words("rectification_steps"),
        "now": dt.datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "workbench/rectification.html", context, status=status)


async def _levels(request: Request) -> list[dict[str, Any]]:
    """The published levels and their tags (public), for their names; none if unavailable."""
    try:
        answer = await call(gateway_client(request), "GET", "/ratings/v1/levels")
    except ApiProblem:
        return []
    levels: list[dict[str, Any]] = answer.body["items"]
    return levels


@router.get("/rectifications/{rectification_id}")
async def rectification(request: Request, rectification_id: str, staff: StaffDep) -> Response:
    return await rectification_page(request, staff, rectification_id)


async def _rectification_step(
    request: Request, staff: WebSession, rectification_id: str, step: str
) -> Response:
    """Records the call-back, the rectification, or the department's appeal of the review."""
    form = await form_of(request, staff)
    try:
        if step == "call_back":
            path = f"/ratings/v1/rectifications/{_uuid(rectification_id)}/call-back"
            body: dict[str, Any] = {
                "called_back_at": beijing_instant(field(form, "called_back_at")),
                "channel": field(form, "channel"),
                "note": field(form, "note"),
            }
        elif step == "rectification":
            path = f"/ratings/v1/rectifications/{_uuid(rectification_id)}/rectification"
            body = {"note": field(form, "note")}
        else:
            path = f"/ratings/v1/ratings/{_uuid(field(form, 'rating_id'))}/appeal"
            body = {
                "grounds": field(form, "grounds"),
                "reasons": field(form, "reasons"),
                "evidence": evidence_of(field(form, "evidence")),
            }
        await call(gateway_client(request), "POST", path, token=staff.access_token, json=body)
    except FormIncomplete as exc:
        return await rectification_page(
            request, staff, rectification_id, message=str(exc), failed=step, status=422
        )
    except ApiProblem as exc:
        if exc.status in (401, 404):
            raise
        return await rectification_page(
            request,
            staff,
            rectification_id,
            message=problem_message(exc),
            failed=step,
            status=exc.status,
        )
    return redirect(request, f"/workbench/rectifications/{rectification_id}?done={step}")


@router.post("/rectifications/{rectification_id}/call-back")
async def call_back(request: Request, rectification_id: str, staff: StaffDep) -> Response:
    return await _rectification_step(request, staff, rectification_id, "call_back")


@router.post("/rectifications/{rectification_id}/rectification")
async def rectify(request: Request, rectification_id: str, staff: StaffDep) -> Response:
    return await _rectification_step(request, staff, rectification_id, "rectification")


@router.post("/rectifications/{rectification_id}/appeal")
async def appeal(request: Request, rectification_id: str, staff: StaffDep) -> Response:
    return await _rectification_step(request, staff, rectification_id, "appeal")


@router.get("/appeals")
async def appeals(request: Request, staff: StaffDep) -> Response:
    statuses = words("appeal_statuses")
    params, base = _listing(request, "/workbench/appeals", statuses)
    cursor = request.query_params.get("cursor")
    page = await call(
        gateway_client(request),
        "GET",
        "/ratings/v1/appeals",
        token=staff.access_token,
        params=[*params, *([("cursor", cursor)] if cursor else [])],
    )
    next_cursor = page.body.get("next_cursor")
    context = {
        "items": page.body["items"],
        "statuses": statuses,
        "grounds": words("grounds"),
        "chosen": dict(params).get("status", ""),
        "member": staff_member(staff),
        "next_url": f"{base}&{urlencode({'cursor': next_cursor})}" if next_cursor else None,
    }
    return render(request, "workbench/appeals.html", context)


async def appeal_page(
    request: Request,
    staff: WebSession,
    appeal_id: str,
    *,
    message: str | None = None,
    status: int = 200,
) -> Response:
    answer = await call(
        gateway_client(request),
        "GET",
        f"/ratings/v1/appeals/{_uuid(appeal_id)}",
        token=staff.access_token,
    )
    member = staff_member(staff)
    found: dict[str, Any] = answer.body
    context = {
        "a": found,
        # Shown to the supervisors of the deciding department; rating-svc decides.
        "decides": found["status"] == "pending"
        and member.is_("supervisor")
        and member.dept == found["decider_department_id"],
        "message": message,
        "flash": DONE.get(request.query_params.get("done", "")),
        "statuses": words("appeal_statuses"),
        "grounds": words("grounds"),
    }
    return render(request, "workbench/appeal.html", context, status=status)


@router.get("/appeals/{appeal_id}")
async def show_appeal(request: Request, appeal_id: str, staff: StaffDep) -> Response:
    return await appeal_page(request, staff, appeal_id)


@router.post("/appeals/{appeal_id}/decision")
async def decide(request: Request, appeal_id: str, staff: StaffDep) -> Response:
    form = await form_of(request, staff)
    body = {"outcome": field(form, "outcome"), "note": field(form, "note")}
    try:
        await call(
            gateway_client(request),
            "POST",
            f"/ratings/v1/appeals/{_uuid(appeal_id)}/decision",
            token=staff.access_token,
            json=body,
        )
    except ApiProblem as exc:
        if exc.status in (401, 404):
            raise
        return await appeal_page(
            request, staff, appeal_id, message=problem_message(exc), status=exc.status
        )
    return redirect(request, f"/workbench/appeals/{appeal_id}?done=decision")
