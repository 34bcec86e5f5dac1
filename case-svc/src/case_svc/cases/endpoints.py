"""HTTP endpoints for cases: parse, authorise, delegate."""

import datetime as dt
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from case_svc.cases import preconditions, service
from case_svc.cases.schemas import CaseCreate, CasePage, CaseRead, TransitionCreate
from case_svc.settings import CaseSettings
from case_svc.workflow.state_machine import CaseStatus
from servicekit import idempotency
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.problems import PROBLEM_JSON

router = APIRouter(prefix="/cases/v1", tags=["cases"])


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "description": "A problem (RFC 9457) with a stable `code`",
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


def _now(request: Request) -> dt.datetime:
    now: dt.datetime = request.app.state.clock()
    return now


def _case_headers(case: CaseRead) -> dict[str, str]:
    return {
        "ETag": preconditions.etag(case.version),
        "Location": f"/cases/v1/cases/{case.case_no}",
    }


@router.post(
    "/cases",
    status_code=201,
    response_model=CaseRead,
    responses=_problems(400, 401, 403, 404, 409, 422, 502, 503),
)
async def submit_case(
    payload: CaseCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(description="Required: a fresh unique key per application, reused on retries"),
    ] = None,
) -> Response:
    """File an application for a service item. A retry with the same Idempotency-Key and body
    answers the same case (with ``Idempotency-Replayed: true``) and files nothing new."""
    key = idempotency.idempotency_key(idempotency_key)
    http: httpx.AsyncClient = request.app.state.http
    submission = await service.submit_case(
        session=session,
        http=http,
        principal=principal,
        payload=payload,
        idempotency_key=key,
        now=_now(request),
    )
    headers = _case_headers(submission.case)
    if submission.replayed:
        headers["Idempotency-Replayed"] = "true"
    return JSONResponse(
        submission.case.model_dump(mode="json"), status_code=submission.status, headers=headers
    )


@router.get("/cases", response_model=CasePage, responses=_problems(400, 401, 403))
async def list_cases(
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    statuses: Annotated[
        list[CaseStatus] | None, Query(alias="status", description="Repeat for several")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=100)] = None,
) -> CasePage:
    """The caller's own cases; for department staff, their department's queue. Newest first."""
    settings: CaseSettings = request.app.state.settings
    return await service.list_cases(
        session=session,
        principal=principal,
        statuses=statuses or [],
        cursor=cursor,
        limit=limit or settings.default_page_size,
    )


@router.get("/cases/{case_no}", response_model=CaseRead, responses=_problems(401, 404))
async def get_case(
    case_no: str, principal: PrincipalDep, session: SessionDep, response: Response
) -> CaseRead:
    """One case with its history, for its applicant or the handling department's staff."""
    case, role = await service.visible_case(session=session, principal=principal, case_no=case_no)
    view = service.case_view(case, role)
    response.headers.update(_case_headers(view))
    return view


@router.post(
    "/cases/{case_no}/transitions",
    response_model=CaseRead,
    responses=_problems(401, 403, 404, 409, 412, 422, 428),
)
async def transition_case(
    case_no: str,
    payload: TransitionCreate,
    principal: PrincipalDep,
    session: SessionDep,
    request: Request,
    response: Response,
    if_match: Annotated[
        str | None, Header(description='Required: the ETag last read, W/"<version>"')
    ] = None,
) -> CaseRead:
    """Move a case: staff of the handling department accept, approve or reject; the applicant
    withdraws."""
    expected = preconditions.expected_version(if_match)
    view = await service.transition_case(
        session=session,
        principal=principal,
        case_no=case_no,
        action=payload.action,
        note=payload.note,
        expected_version=expected,
        now=_now(request),
    )
    response.headers.update(_case_headers(view))
    return view
