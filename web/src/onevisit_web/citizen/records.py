"""What the platform tells her: her inbox (her cases' news, offers, and each access to her
data), and her access log, where who read her data, what, when and why is listed and each
entry's ledger receipt is checked at the exchange's public ledger."""

import asyncio
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.citizen.common import CitizenDep, MessageId, needs_step_up, step_up
from onevisit_web.citizen.wording import ACCESS_KIND, CASE_STATUS, CONSUMER, MESSAGE_KIND, PURPOSE
from onevisit_web.pages import form_of, gateway_client, redirect, render

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/inbox")
async def inbox(request: Request, citizen: CitizenDep) -> Response:
    answer = await call(
        gateway_client(request), "GET", "/identity/v1/me/inbox", token=citizen.access_token
    )
    context = {
        "messages": answer.body["items"],
        "unread": answer.body["unread"],
        "kinds": MESSAGE_KIND,
        "statuses": CASE_STATUS,
        "purposes": PURPOSE,
    }
    return render(request, "citizen/inbox.html", context)


@router.post("/inbox/{message_id}/read")
async def mark_read(request: Request, message_id: MessageId, citizen: CitizenDep) -> Response:
    await form_of(request, citizen)
    await call(
        gateway_client(request),
        "POST",
        f"/identity/v1/me/inbox/{message_id}/read",
        token=citizen.access_token,
    )
    return redirect(request, "/app/inbox")


async def receipt_verified(http: httpx.AsyncClient, receipt: dict[str, Any]) -> bool:
    """The exchange's verdict on one receipt (its signed tree head, its inclusion proof)."""
    try:
        verdict = await call(http, "POST", "/exchange/v1/ledger/receipts/verify", json=receipt)
    except ApiProblem:
        return False
    return bool(verdict.body.get("valid"))


async def resource_labels(http: httpx.AsyncClient, code: str) -> dict[str, Any]:
    """A data resource's name and its fields' labels, as the exchange publishes them (public);
    an unknown one is named by its code."""
    try:
        resource = (await call(http, "GET", f"/exchange/v1/resources/{code}")).body
    except ApiProblem:
        return {"name": code, "fields": {}}
    labels = {item["name"]: item["label"] for item in resource.get("fields") or []}
    return {"name": resource.get("name") or code, "fields": labels}


@router.get("/access-log")
async def access_log(request: Request, citizen: CitizenDep) -> Response:
    http = gateway_client(request)
    try:
        answer = await call(http, "GET", "/exchange/v1/me/access-log", token=citizen.access_token)
    except ApiProblem as exc:
        if needs_step_up(exc):
            return step_up(request, exc, "/app/access-log")
        raise
    entries = answer.body["items"]
    verdicts = await asyncio.gather(
        *(receipt_verified(http, entry["receipt"]) for entry in entries)
    )
    codes = sorted({entry["resource"] for entry in entries})
    described = await asyncio.gather(*(resource_labels(http, code) for code in codes))
    context = {
        "entries": list(zip(entries, verdicts, strict=True)),
        "resources": dict(zip(codes, described, strict=True)),
        "purposes": PURPOSE,
        "kinds": ACCESS_KIND,
        "consumers": CONSUMER,
    }
    return render(request, "citizen/access_log.html", context)
