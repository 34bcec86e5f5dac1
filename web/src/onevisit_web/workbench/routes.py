"""The workbench's pages: signing in and out as staff here; the queue, cases, rectifications
and appeals, and supervision in their own modules, gathered under one router."""

import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.pages import (
    begin_session,
    end_session,
    field,
    form_of,
    gateway_client,
    problem_message,
    redirect,
    render,
    safe_next,
    state_of,
)
from onevisit_web.session import WebSession, token_claims
from onevisit_web.workbench import cases, queue, ratings, supervision
from onevisit_web.workbench.staff import StaffDep

router = APIRouter(prefix="/workbench", include_in_schema=False)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    context = {"next": safe_next(next, "workbench")}
    return render(request, "workbench/sign_in.html", context)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await form_of(request, None)
    phone, back_to = field(form, "phone"), safe_next(field(form, "next"), "workbench")
    grant = {"grant_type": "password", "username": phone, "password": field(form, "password")}
    context = {"next": back_to, "phone": phone}
    try:
        answer = await call(gateway_client(request), "POST", "/identity/v1/token", data=grant)
    except ApiProblem as exc:
        return render(
            request,
            "workbench/sign_in.html",
            {**context, "error": problem_message(exc)},
            status=400,
        )
    if token_claims(str(answer.body["access_token"])).get("typ") != "staff":
        # A citizen's password here signed her in all the same: end that session at once.
        await _log_out(request, answer.body.get("refresh_token"))
        message = "请使用工作人员账号登录。"
        return render(request, "workbench/sign_in.html", {**context, "error": message}, status=403)
    settings = state_of(request).settings
    begin_session(
        request,
        WebSession.begin("workbench", answer.body, max_seconds=settings.session_max_seconds),
    )
    return redirect(request, back_to)


@router.post("/sign-out")
async def sign_out(request: Request, staff: StaffDep) -> Response:
    await form_of(request, staff)
    await _log_out(request, staff.refresh_token)
    end_session(request, "workbench")
    return redirect(request, "/workbench/sign-in")


async def _log_out(request: Request, refresh_token: object) -> None:
    """Ends the session a refresh token belongs to; a failure leaves it to expire."""
    if isinstance(refresh_token, str) and refresh_token:
        with contextlib.suppress(ApiProblem):
            await call(
                gateway_client(request),
                "POST",
                "/identity/v1/logout",
                json={"refresh_token": refresh_token},
            )


for part in (queue, cases, ratings, supervision):
    router.include_router(part.router)
