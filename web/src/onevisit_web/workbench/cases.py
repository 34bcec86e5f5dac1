"""A case at the workbench: its form and where each value came from, its materials, its history,
its clock, and a form for each step the API offers the signed-in staff member now. Each step is
sent with ``If-Match``: the ETag of the version she read, carried in the page's hidden field; a
case that changed meanwhile (412) is shown afresh, saying so."""

import datetime as dt
import re
import uuid
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from onevisit_web.api import ApiProblem, call
from onevisit_web.pages import field, form_of, gateway_client, problem_message, redirect, render
from onevisit_web.session import WebSession
from onevisit_web.workbench.labels import ACTIONS, BEIJING, words
from onevisit_web.workbench.staff import StaffDep, StaffMember, staff_member
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/cases", include_in_schema=False)

#: A case number as case-svc makes them (the path goes to the API as it is).
CASE_NO = re.compile(r"^[0-9]{6,12}-[0-9]{8}-[0-9]{6}$")
#: What the page says after a step that worked, by the step (``?done=``).
DONE = {
    "claim": "已认领，您现在可以办理此件。",
    "release": "已退回队列。",
    "reassign": "已改派。",
    **{name: f"已{action.label}。" for name, action in ACTIONS.items()},
}
CHANGED = "办件刚刚有了变化，以下是最新状态，请核对后再操作。"


class StepRefused(ValueError):
    """What she typed cannot be sent as the step: said beside its form."""


def _path(case_no: str) -> str:
    if not CASE_NO.fullmatch(case_no):
        raise ApiProblem(404, "case_not_found", "", {})
    return f"/cases/v1/cases/{case_no}"


def transition_body(action: str, form: FormData, *, issues_certificate: bool) -> dict[str, Any]:
    """The body of ``POST .../transitions`` for an action's form: its note, and what the action
    carries. Only the shape is checked here; the rules are case-svc's."""
    spec = ACTIONS.get(action)
    if spec is None:
        raise StepRefused("此操作不能在工作台办理。")
    body: dict[str, Any] = {"action": action}
    note = field(form, "note")
    if note:
        body["note"] = note
    elif spec.note == "required":
        raise StepRefused("请填写理由。")
    if spec.carries == "notice":
        fields = [name for name in form.getlist("fields") if isinstance(name, str) and name]
        materials = [line.strip() for line in field(form, "materials").splitlines() if line.strip()]
        if not fields and not materials:
            raise StepRefused("请至少选择一项需要补正的内容或材料。")
        body["notice"] = {"fields": fields, "materials": materials}
    elif spec.carries == "transfer":
        body["transfer"] = {"department_id": field(form, "department_id")}
    elif spec.carries == "suspension":
        body["suspension"] = {
            "procedure": field(form, "procedure"),
            "expected_end": field(form, "expected_end"),
        }
    elif spec.carries == "extension":
        days = field(form, "working_days")
        if not days.isdigit():
            raise StepRefused("请填写延长的工作日数。")
        body["extension"] = {"working_days": int(days)}
    elif spec.carries == "certificate" and issues_certificate:
        body["certificate"] = {
            "number": field(form, "certificate_number"),
            "valid_from": field(form, "valid_from"),
            "valid_until": field(form, "valid_until") or None,
        }
    return body


def offered_steps(case: dict[str, Any], member: StaffMember) -> dict[str, bool]:
    """Which of the claim steps to show her (the transitions are the API's
    ``available_actions``): a guess from her roles and the case, which the API decides."""
    open_case = case.get("clock") != "stopped"
    holder = case.get("assignee_id")
    return {
        "claim": open_case and member.is_("handler") and holder != member.account_id,
        "release": open_case and holder is not None and holder == member.account_id,
        "reassign": open_case and member.is_("supervisor"),
    }


def form_rows(case: dict[str, Any], item: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The form's values with their titles, the words of a choice, and their provenance."""
    properties: dict[str, Any] = ((item or {}).get("form_schema") or {}).get("properties") or {}
    provenance: dict[str, Any] = case.get("form_provenance") or {}
    rows = []
    for name, value in (case.get("form") or {}).items():
        spec = properties.get(name) or {}
        choices = {c.get("const"): c.get("title") for c in spec.get("oneOf") or []}
        rows.append(
            {
                "name": name,
                "title": spec.get("title") or name,
                "value": choices.get(value, value),
                "identity": "x-applicant" in spec,
                "provenance": provenance.get(name),
            }
        )
    return rows


async def _item(request: Request, item_code: str) -> dict[str, Any] | None:
    """The item's published form schema, for the fields' titles; the page shows the raw names
    without it."""
    try:
        answer = await call(gateway_client(request), "GET", f"/catalog/v1/items/{item_code}")
    except ApiProblem:
        return None
    body: dict[str, Any] = answer.body
    return body


async def case_page(
    request: Request,
    staff: WebSession,
    case_no: str,
    *,
    message: str | None = None,
    failed: str | None = None,
    status: int = 200,
) -> Response:
    """The case as it is now; ``message`` a refusal beside the form of step ``failed`` (or at
    the top when the case changed)."""
    http, token = gateway_client(request), staff.access_token
    answer = await call(http, "GET", _path(case_no), token=token)
    case: dict[str, Any] = answer.body
    materials = await call(http, "GET", f"{_path(case_no)}/materials", token=token)
    item = await _item(request, case["item_code"])
    member = staff_member(staff)
    context = {
        "case": case,
        "etag": answer.etag or "",
        "rows": form_rows(case, item),
        "materials": materials.body["items"],
        "actions": [ACTIONS[name] for name in case["available_actions"] if name in ACTIONS],
        "steps": offered_steps(case, member),
        "member": member,
        "message": message,
        "failed": failed,
        "flash": DONE.get(request.query_params.get("done", "")),
        "statuses": words("case_statuses"),
        "clocks": words("clocks"),
        "colours": words("deadline_colours"),
        "roles": words("roles"),
        "history_actions": {**words("history_actions"), **{n: a.label for n, a in ACTIONS.items()}},
        "procedures": words("procedures"),
        "today": dt.datetime.now(BEIJING).date().isoformat(),
    }
    return render(request, "workbench/case.html", context, status=status)


@router.get("/{case_no}")
async def show_case(request: Request, case_no: str, staff: StaffDep) -> Response:
    return await case_page(request, staff, case_no)


@router.get("/{case_no}/materials/{material_id}")
async def material(
    request: Request, case_no: str, material_id: uuid.UUID, staff: StaffDep
) -> Response:
    """A material's file, read with her token and handed on as case-svc sent it (its type
    known by its first bytes there), never cached."""
    try:
        answer = await gateway_client(request).get(
            f"{_path(case_no)}/materials/{material_id}",
            headers={"authorization": f"Bearer {staff.access_token}"},
        )
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable("the platform's gateway could not be reached") from exc
    if not answer.is_success:
        raise ApiProblem(answer.status_code, f"http_{answer.status_code}", "", {})
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
    if "content-disposition" in answer.headers:
        headers["Content-Disposition"] = answer.headers["content-disposition"]
    return Response(answer.content, media_type=answer.headers.get("content-type"), headers=headers)


async def _send(
    request: Request,
    staff: WebSession,
    case_no: str,
    step: str,
    method: str,
    suffix: str,
    form: FormData,
    body: dict[str, Any] | None = None,
) -> Response:
    """One step at the version she read; its refusal shown beside its form, a change since
    shown as the fresh case."""
    headers = {"If-Match": field(form, "etag")}
    options: dict[str, Any] = {"json": body} if body is not None else {}
    try:
        await call(
            gateway_client(request),
            method,
            f"{_path(case_no)}{suffix}",
            token=staff.access_token,
            headers=headers,
            **options,
        )
    except ApiProblem as exc:
        if exc.status == 412:
            return await case_page(request, staff, case_no, message=CHANGED, status=409)
        if exc.status in (401, 404):
            raise
        return await case_page(
            request, staff, case_no, message=problem_message(exc), failed=step, status=exc.status
        )
    return redirect(request, f"/workbench/cases/{case_no}?done={step}")


@router.post("/{case_no}/claim")
async def claim(request: Request, case_no: str, staff: StaffDep) -> Response:
    form = await form_of(request, staff)
    return await _send(request, staff, case_no, "claim", "POST", "/claim", form)


@router.post("/{case_no}/release")
async def release(request: Request, case_no: str, staff: StaffDep) -> Response:
    form = await form_of(request, staff)
    return await _send(request, staff, case_no, "release", "DELETE", "/claim", form)


@router.post("/{case_no}/assignee")
async def reassign(request: Request, case_no: str, staff: StaffDep) -> Response:
    form = await form_of(request, staff)
    body = {"assignee_id": field(form, "assignee_id") or None}
    return await _send(request, staff, case_no, "reassign", "PUT", "/assignee", form, body)


@router.post("/{case_no}/transitions")
async def transition(request: Request, case_no: str, staff: StaffDep) -> Response:
    form = await form_of(request, staff)
    action = field(form, "action")
    try:
        body = transition_body(
            action, form, issues_certificate=field(form, "issues_certificate") == "1"
        )
    except StepRefused as exc:
        return await case_page(request, staff, case_no, message=str(exc), failed=action, status=422)
    return await _send(request, staff, case_no, action, "POST", "/transitions", form, body)
