"""Applying: a draft application of hers, opened at the handling department's instance and
filled by the platform (her identity from her verified identity, locked; with her consent, what
the registries hold, each value with its source), then what she types, then filed once (an
``Idempotency-Key`` made when the form is shown and carried in the form: a double submit files
one case)."""

import asyncio
import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import Answer, ApiProblem, call
from onevisit_web.citizen.common import (
    CitizenDep,
    DraftNumber,
    ItemCode,
    needs_step_up,
    step_up,
)
from onevisit_web.citizen.forms import changed_values, field_errors, form_fields, shown
from onevisit_web.citizen.wording import SOURCE
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

#: How long her consent to fill a draft lasts: the draft's life, not longer than a week.
CONSENT_DAYS = 7
#: A double submit's second request may reach case-svc while the first still files: it is
#: answered 409 ``idempotency_request_in_progress`` with Retry-After, and asked again this many
#: times, so that both requests show her the one case.
IN_PROGRESS_RETRIES = 5
RETRY_SECONDS = 0.5


@router.get("/apply/{item_code}")
async def open_draft(request: Request, item_code: ItemCode, citizen: CitizenDep) -> Response:
    """Opens a draft and shows it. A link, not a form, because it is where the steps that
    raise her level send her back to; a reload of the draft's page opens nothing new."""
    try:
        answer = await call(
            gateway_client(request),
            "POST",
            "/cases/v1/drafts",
            token=citizen.access_token,
            json={"item_code": item_code},
        )
    except ApiProblem as exc:
        if needs_step_up(exc):
            return step_up(request, exc, f"/app/apply/{item_code}")
        raise
    return redirect(request, f"/app/drafts/{answer.body['draft_no']}")


async def _draft(request: Request, citizen: WebSession, draft_no: str) -> dict[str, Any]:
    answer = await call(
        gateway_client(request),
        "GET",
        f"/cases/v1/drafts/{quote(draft_no)}",
        token=citizen.access_token,
    )
    draft: dict[str, Any] = answer.body
    return draft


def _draft_page(
    request: Request,
    draft: dict[str, Any],
    *,
    own: bool,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
    error_code: str | None = None,
    status: int = 200,
) -> Response:
    fields = form_fields(draft["form_schema"])
    labels = {item.name: item.label for item in fields}
    provenance = draft.get("provenance") or {}
    consents = [
        {**consent, "labels": [labels.get(name, name) for name in consent["form_fields"]]}
        for consent in draft.get("consents_to_fill") or []
    ]
    context = {
        "draft": draft,
        "fields": fields,
        "values": {**draft["form"], **(values or {})},
        "provenance": provenance,
        "sources": SOURCE,
        "consents": consents,
        # The elder mode asks one thing per screen: the consent first, then the form.
        "consent_only": bool(consents) and not own,
        "own": own,
        "shown": {item.name: shown(item, draft["form"].get(item.name)) for item in fields},
        "errors": errors or {},
        "error": error,
        "error_code": error_code,
        "idempotency_key": str(uuid.uuid4()),
    }
    return render(request, "citizen/draft.html", context, status=status)


@router.get("/drafts/{draft_no}")
async def draft_page(
    request: Request, draft_no: DraftNumber, citizen: CitizenDep, own: bool = False
) -> Response:
    draft = await _draft(request, citizen, draft_no)
    if draft["status"] == "filed" and draft.get("case_no"):
        return redirect(request, f"/app/cases/{draft['case_no']}")
    return _draft_page(request, draft, own=own)


@router.post("/drafts/{draft_no}/consent")
async def consent(request: Request, draft_no: DraftNumber, citizen: CitizenDep) -> Response:
    """Her one button: every consent the draft lists, then the platform fills it again."""
    await form_of(request, citizen)
    http = gateway_client(request)
    draft = await _draft(request, citizen, draft_no)
    expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=CONSENT_DAYS)
    try:
        for asked in draft.get("consents_to_fill") or []:
            await call(
                http,
                "POST",
                "/exchange/v1/me/consents",
                token=citizen.access_token,
                json={
                    "consumer": asked["consumer"],
                    "resource": asked["resource"],
                    "fields": asked["fields"],
                    "purpose": asked["purpose"],
                    "case_id": asked["case_id"],
                    "expires_at": expires_at.isoformat(),
                },
            )
        await call(
            http,
            "POST",
            f"/cases/v1/drafts/{quote(draft_no)}/prefill",
            token=citizen.access_token,
        )
    except ApiProblem as exc:
        if needs_step_up(exc):
            return step_up(request, exc, f"/app/drafts/{draft_no}")
        return _draft_page(request, draft, own=False, error=problem_message(exc), status=400)
    return redirect(request, f"/app/drafts/{draft_no}?own=1")


async def _file(http: httpx.AsyncClient, citizen: WebSession, draft_no: str, key: str) -> Answer:
    retries = 0
    while True:
        try:
            return await call(
                http,
                "POST",
                f"/cases/v1/drafts/{quote(draft_no)}/submission",
                token=citizen.access_token,
                headers={"Idempotency-Key": key},
            )
        except ApiProblem as exc:
            if exc.code != "idempotency_request_in_progress" or retries == IN_PROGRESS_RETRIES:
                raise
            retries += 1
            await asyncio.sleep(RETRY_SECONDS)


@router.post("/drafts/{draft_no}/submission")
async def submit(request: Request, draft_no: DraftNumber, citizen: CitizenDep) -> Response:
    form = await form_of(request, citizen)
    http = gateway_client(request)
    draft = await _draft(request, citizen, draft_no)
    if draft["status"] == "filed" and draft.get("case_no"):
        return redirect(request, f"/app/cases/{draft['case_no']}")
    fields = form_fields(draft["form_schema"])
    posted = {item.name: field(form, item.name) for item in fields if item.name in form}
    locked = {name for name, source in (draft.get("provenance") or {}).items() if source["locked"]}
    changes = changed_values(fields, posted, draft["form"], locked)
    key = field(form, "idempotency_key") or str(uuid.uuid4())
    try:
        if changes:
            await call(
                http,
                "PATCH",
                f"/cases/v1/drafts/{quote(draft_no)}",
                token=citizen.access_token,
                json={"form": changes},
            )
        filed = await _file(http, citizen, draft_no, key)
    except ApiProblem as exc:
        if exc.code == "draft_filed" and exc.body.get("case_no"):
            # Filed by the first of two submits: hers is that case.
            return redirect(request, f"/app/cases/{exc.body['case_no']}")
        if needs_step_up(exc):
            return step_up(request, exc, f"/app/drafts/{draft_no}?own=1")
        return _draft_page(
            request,
            draft,
            own=True,
            values=posted,
            errors=field_errors(exc.body),
            error=problem_message(exc),
            error_code=exc.code,
            status=422 if exc.status == 422 else 400,
        )
    return redirect(request, f"/app/cases/{filed.body['case_no']}")
