"""What every page of both parts shares: rendering (Jinja2, autoescaped, a strict content
security policy, never cached), the signed-in person (``SignedIn``: her sealed cookie, her
access token refreshed when it is about to expire), forms (``form_of``: the sign-in's form token
checked), and how a refusal of the platform is shown (``problem_page``)."""

import hmac
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from onevisit_web.api import ApiProblem, call
from onevisit_web.messages import message_for
from onevisit_web.session import (
    Part,
    WebSession,
    cookie_name,
    open_session,
    seal,
    token_claims,
)
from onevisit_web.state import WebState

TEMPLATES = Path(__file__).parent / "templates"
ENVIRONMENT = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: The elder mode's cookie (长辈版): large type, high contrast, one task per screen, read aloud.
ELDER_COOKIE = "ov_elder"
#: An access token this close to its expiry is refreshed before the page calls the platform.
REFRESH_MARGIN_SECONDS = 60
#: Where each part's sign-in page is.
SIGN_IN = {"app": "/app/sign-in", "workbench": "/workbench/sign-in"}


class SignInRequired(Exception):
    """The page needs a signed-in person of its part (handled: to the sign-in page, and back)."""

    def __init__(self, part: Part, back_to: str) -> None:
        super().__init__(part)
        self.part = part
        self.back_to = back_to


class FormRefused(Exception):
    """A form posted without this sign-in's form token: from another site, or a stale page."""


def state_of(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def elder_mode(request: Request) -> bool:
    return request.cookies.get(ELDER_COOKIE) == "1"


def safe_next(target: str | None, part: Part) -> str:
    """A page of this part to go back to: a local path only (an open redirect is refused)."""
    home = f"/{part}/"
    if not target:
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(f"/{part}") or "\\" in target:
        return home
    return target


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """A page: never cached (it is hers), its inline nothing (scripts and styles are files)."""
    settings = state_of(request).settings
    signed_in: WebSession | None = getattr(request.state, "web_session", None)
    values: dict[str, Any] = {
        "request": request,
        "elder": elder_mode(request),
        "signed_in": signed_in,
        "claims": token_claims(signed_in.access_token) if signed_in else {},
        "form_token": signed_in.form_token if signed_in else "",
        "path": request.url.path,
        "part": "workbench" if request.url.path.startswith("/workbench") else "app",
        "path_with_query": _path_with_query(request),
        "demo": settings.environment == "development",
        "nonce": secrets.token_urlsafe(12),
    }
    values.update(context or {})
    body = ENVIRONMENT.get_template(template).render(values)
    response = HTMLResponse(body, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )
    finish(request, response)
    return response


def redirect(request: Request, target: str) -> Response:
    """After a form: see the result (303, so a reload does not post again)."""
    return finish(request, RedirectResponse(target, status_code=303))


def finish(request: Request, response: Response) -> Response:
    """Sets the renewed cookie when this request refreshed the tokens or began a sign-in."""
    renewed: WebSession | None = getattr(request.state, "renewed_session", None)
    ended: Part | None = getattr(request.state, "ended_part", None)
    settings = state_of(request).settings
    if renewed is not None:
        response.set_cookie(
            cookie_name(renewed.part),
            seal(renewed, settings.sealing_keyring()),
            max_age=max(0, renewed.ends_at - int(time.time())),
            path=f"/{renewed.part}",
            secure=settings.cookies_secure,
            httponly=True,
            samesite="lax",
        )
    if ended is not None:
        response.delete_cookie(
            cookie_name(ended),
            path=f"/{ended}",
            secure=settings.cookies_secure,
            httponly=True,
            samesite="lax",
        )
    return response


def begin_session(request: Request, session: WebSession) -> None:
    """She signed in (or stepped up): the response of this request carries her cookie."""
    request.state.web_session = session
    request.state.renewed_session = session


def end_session(request: Request, part: Part) -> None:
    """The response of this request forgets the part's sign-in (even one it began)."""
    request.state.web_session = None
    request.state.renewed_session = None
    request.state.ended_part = part


async def signed_in(request: Request, part: Part) -> WebSession:
    """The person signed in at this part, her access token fresh; else ``SignInRequired``."""
    state = state_of(request)
    session = open_session(
        request.cookies.get(cookie_name(part)), part, state.settings.sealing_keyring()
    )
    if session is None:
        raise SignInRequired(part, _path_with_query(request))
    if session.access_expires_at - REFRESH_MARGIN_SECONDS <= time.time():
        if session.refresh_token is None:
            raise SignInRequired(part, _path_with_query(request))
        try:
            answer = await call(
                state.http,
                "POST",
                "/identity/v1/token",
                data={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
            )
        except ApiProblem as exc:
            if exc.status in (400, 401):
                end_session(request, part)
                raise SignInRequired(part, _path_with_query(request)) from exc
            raise
        session = session.with_tokens(answer.body)
        request.state.renewed_session = session
    request.state.web_session = session
    return session


async def signed_in_citizen(request: Request) -> WebSession:
    return await signed_in(request, "app")


async def signed_in_staff(request: Request) -> WebSession:
    return await signed_in(request, "workbench")


async def form_of(request: Request, session: WebSession | None) -> FormData:
    """The posted form, its form token checked against the sign-in's (none before sign-in:
    the sign-in forms are protected by SameSite cookies and carry nothing of hers)."""
    form = await request.form()
    if session is not None:
        sent = form.get("form_token")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, session.form_token):
            raise FormRefused()
    return form


def field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def problem_message(problem: ApiProblem) -> str:
    return message_for(problem.code, problem.status)


def sign_in_url(part: Part, back_to: str) -> str:
    return f"{SIGN_IN[part]}?next={quote(back_to, safe='/')}"


def _path_with_query(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def gateway_client(request: Request) -> httpx.AsyncClient:
    return state_of(request).http
