"""The citizen's pages: signing in (an SMS code, or a password where the platform takes the
password grant; the elder mode offers the code alone), the elder mode's switch, her home."""

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.citizen.common import CitizenDep
from onevisit_web.pages import (
    ELDER_COOKIE,
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
from onevisit_web.session import WebSession

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/")
async def home(request: Request, citizen: CitizenDep) -> Response:
    return render(request, "citizen/home.html", None)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "citizen/sign_in.html", {"next": safe_next(next, "app")})


@router.post("/sign-in/code")
async def send_code(request: Request) -> Response:
    """A code texted to her phone (whether or not it has an account: asking tells nothing)."""
    form = await form_of(request, None)
    phone, back_to = field(form, "phone"), safe_next(field(form, "next"), "app")
    context = {"next": back_to, "phone": phone, "code_sent": False}
    try:
        await call(gateway_client(request), "POST", "/identity/v1/sms-codes", json={"phone": phone})
    except ApiProblem as exc:
        return render(
            request, "citizen/sign_in.html", {**context, "error": problem_message(exc)}, status=400
        )
    return render(request, "citizen/sign_in.html", {**context, "code_sent": True})


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await form_of(request, None)
    phone, back_to = field(form, "phone"), safe_next(field(form, "next"), "app")
    method = field(form, "method")
    grant = (
        {"grant_type": "password", "username": phone, "password": field(form, "password")}
        if method == "password"
        else {"grant_type": "sms_code", "username": phone, "code": field(form, "code")}
    )
    try:
        answer = await call(gateway_client(request), "POST", "/identity/v1/token", data=grant)
    except ApiProblem as exc:
        context = {
            "part": "app",
            "next": back_to,
            "phone": phone,
            "code_sent": method != "password",
            "method": method,
            "error": problem_message(exc),
        }
        return render(request, "citizen/sign_in.html", context, status=400)
    settings = state_of(request).settings
    begin_session(
        request, WebSession.begin("app", answer.body, max_seconds=settings.session_max_seconds)
    )
    return redirect(request, back_to)


@router.post("/sign-out")
async def sign_out(request: Request, citizen: CitizenDep) -> Response:
    await form_of(request, citizen)
    if citizen.refresh_token:
        # Already ended or not: the cookie goes all the same.
        with contextlib.suppress(ApiProblem):
            await call(
                gateway_client(request),
                "POST",
                "/identity/v1/logout",
                json={"refresh_token": citizen.refresh_token},
            )
    end_session(request, "app")
    return redirect(request, "/app/sign-in")


@router.get("/elder")
async def elder_switch(
    request: Request, on: Annotated[bool, Query()] = True, next: str | None = None
) -> Response:
    """The elder mode (长辈版), on or off: a display preference of this browser's."""
    response = redirect(request, safe_next(next, "app"))
    settings = state_of(request).settings
    response.set_cookie(
        ELDER_COOKIE,
        "1" if on else "0",
        max_age=365 * 24 * 3600,
        path="/",
        secure=settings.cookies_secure,
        samesite="lax",
    )
    return response
