"""Signing in and out at the pages, the same for both parts: a code texted to the phone
(``sms_code``, the way that works everywhere) or a password (where the platform still takes the
password grant: development), the tokens kept in the part's sealed cookie, and the session ended
at identity-svc on the way out."""

import contextlib

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from onevisit_web.api import ApiProblem, call
from onevisit_web.pages import (
    begin_session,
    field,
    form_of,
    gateway_client,
    problem_message,
    render,
    safe_next,
    state_of,
)
from onevisit_web.session import Part, WebSession

#: Each part's sign-in page.
SIGN_IN_TEMPLATES: dict[Part, str] = {
    "app": "citizen/sign_in.html",
    "workbench": "workbench/sign_in.html",
}


async def text_a_code(request: Request, part: Part) -> Response:
    """The posted phone is texted a code, whether or not it has an account (asking tells
    nothing): the part's sign-in page asks for it, or says why the platform refused (a malformed
    number, too many codes)."""
    form = await form_of(request, None)
    phone = field(form, "phone")
    context: dict[str, object] = {
        "next": safe_next(field(form, "next"), part),
        "phone": phone,
        "code_sent": False,
    }
    template = SIGN_IN_TEMPLATES[part]
    try:
        await call(gateway_client(request), "POST", "/identity/v1/sms-codes", json={"phone": phone})
    except ApiProblem as exc:
        context["error"] = problem_message(exc)
        return render(request, template, context, status=exc.status)
    return render(request, template, {**context, "code_sent": True})


def grant_of(form: FormData) -> dict[str, str]:
    """The token endpoint's grant for a sign-in form: its ``method`` names it."""
    phone = field(form, "phone")
    if field(form, "method") == "password":
        return {"grant_type": "password", "username": phone, "password": field(form, "password")}
    return {"grant_type": "sms_code", "username": phone, "code": field(form, "code")}


async def sign_in(request: Request, part: Part, grant: dict[str, str]) -> dict[str, object]:
    """Tokens for the grant (``ApiProblem`` if refused), kept as this part's sign-in by the
    response to this request; the token endpoint's answer is returned."""
    answer = await call(gateway_client(request), "POST", "/identity/v1/token", data=grant)
    tokens: dict[str, object] = answer.body
    settings = state_of(request).settings
    begin_session(request, WebSession.begin(part, tokens, max_seconds=settings.session_max_seconds))
    return tokens


async def end_at_identity(request: Request, refresh_token: object) -> None:
    """Ends the session a refresh token belongs to; already ended or not, the caller forgets
    the cookie all the same."""
    if isinstance(refresh_token, str) and refresh_token:
        with contextlib.suppress(ApiProblem):
            await call(
                gateway_client(request),
                "POST",
                "/identity/v1/logout",
                json={"refresh_token": refresh_token},
            )
