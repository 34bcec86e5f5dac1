"""The citizen's pages: signing in (an SMS code, or a password where the platform takes the
password grant; the elder mode offers the code alone), the elder mode's switch, her home."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from onevisit_web import signing_in
from onevisit_web.api import ApiProblem
from onevisit_web.citizen.common import CitizenDep
from onevisit_web.pages import (
    ELDER_COOKIE,
    end_session,
    field,
    form_of,
    problem_message,
    redirect,
    render,
    safe_next,
    state_of,
)

router = APIRouter(prefix="/app", include_in_schema=False)


@router.get("/")
async def home(request: Request, citizen: CitizenDep) -> Response:
    return render(request, "citizen/home.html", None)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "citizen/sign_in.html", {"next": safe_next(next, "app")})


@router.post("/sign-in/code")
async def send_code(request: Request) -> Response:
    return await signing_in.text_a_code(request, "app")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    form = await form_of(request, None)
    back_to = safe_next(field(form, "next"), "app")
    try:
        await signing_in.sign_in(request, "app", signing_in.grant_of(form))
    except ApiProblem as exc:
        method = field(form, "method")
        context = {
            "next": back_to,
            "phone": field(form, "phone"),
            "code_sent": method != "password",
            "method": method,
            "error": problem_message(exc),
        }
        return render(request, "citizen/sign_in.html", context, status=exc.status)
    return redirect(request, back_to)


@router.post("/sign-out")
async def sign_out(request: Request, citizen: CitizenDep) -> Response:
    await form_of(request, citizen)
    await signing_in.end_at_identity(request, citizen.refresh_token)
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
