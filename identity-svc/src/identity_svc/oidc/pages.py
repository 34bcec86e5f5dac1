"""identity-svc's own pages of the authorization code flow: server-rendered, in Chinese, for a
phone's browser first, usable without JavaScript, with a screen reader and at large text sizes.

``GET /authorize`` takes a client's request (``identity_svc.oidc.service``) and sends the
browser to the request's page, ``/authorize/{request}``, which shows the step the request still
needs: sign in (password, or a code by SMS), the real-name check and the face match when the
client asks for a higher level, consent. Each form posts back to the same page; the last step
sends the browser back to the client with a code. ``GET /end-session`` is RP-initiated logout.

The pages are not API operations: they answer HTML, are left out of the OpenAPI document, and
are served through the gateway as public routes. Two cookies, both ``HttpOnly``,
``SameSite=Lax`` and scoped to ``/identity/v1``: ``ov_browser`` ties held requests to the
browser that made them (another site's form post carries no Lax cookie, so it finds no
request: no cross-site request forgery), ``ov_session`` is the sign-in every client shares.
"""

import datetime as dt
import json
import math
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from identity_svc.accounts.service import effective_loa
from identity_svc.deps import IdentityState, StateDep
from identity_svc.devices import Device, DeviceDep
from identity_svc.models import Account, AuthorizationRequest, BrowserSession
from identity_svc.oidc import service
from identity_svc.oidc.service import SCOPES, AuthorizationError, AuthorizeParams
from identity_svc.personal_data import mask_phone
from identity_svc.runtime import Runtime
from identity_svc.sms import service as sms
from identity_svc.tokens import repository as tokens_repository
from identity_svc.tokens.service import sign_in_by_password
from identity_svc.verification import service as verification
from identity_svc.verification.schemas import TEMPLATE_DIMENSIONS
from servicekit.auth import Principal
from servicekit.db import SessionDep
from servicekit.problems import DomainError

router = APIRouter(prefix="/identity/v1", include_in_schema=False)

BROWSER_COOKIE = "ov_browser"
_PHONE = re.compile(r"^1[3-9]\d{9}$")
SESSION_COOKIE = "ov_session"
COOKIE_PATH = "/identity/v1"
#: The longest value a form field of these pages takes (a face template is the longest).
FIELD_MAX = 20_000

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(default=True),
    enable_async=False,
)

#: What the citizen is told when a step fails, by the problem's code; others get the generic.
MESSAGES = {
    "invalid_grant": "手机号、密码或验证码不正确，请重新输入。",
    "account_disabled": "该账号已停用，请联系客服。",
    "login_throttled": "尝试次数过多，请 {retry_after} 秒后再试。",
    "sms_code_throttled": "验证码发送太频繁，请 {retry_after} 秒后再试。",
    "invalid_phone": "请输入 11 位手机号码。",
    "invalid_id_number": "身份证号码格式不正确，请核对后重新输入。",
    "real_name_mismatch": "姓名与身份证号码不一致，请核对后重新输入。",
    "too_many_attempts": "核验次数过多，请稍后再试。",
    "real_name_already_verified": "您已完成实名认证。",
    "face_mismatch": "刷脸未通过，请正对镜头、光线充足后重试。",
    "face_locked": "刷脸失败次数过多，请稍后再试。",
    "challenge_expired": "刷脸已超时，请重新开始。",
    "challenge_used": "刷脸已超时，请重新开始。",
    "challenge_not_found": "刷脸已超时，请重新开始。",
    "upstream_unavailable": "核验服务暂时不可用，请稍后再试。",
    "not_a_citizen": "工作人员账号不能在此登录，请使用个人账号。",
}
GENERIC_MESSAGE = "出错了，请重试。"
STEP_TITLES = {
    "sign_in": "登录",
    "real_name": "实名核验",
    "face": "刷脸认证",
    "consent": "授权确认",
}


def _secure(runtime: Runtime) -> bool:
    return runtime.settings.token_issuer.startswith("https://")


def page(
    template: str,
    *,
    status: int = 200,
    form_target: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """A page with the headers every page has: never cached, never framed, no referrer, a
    Content-Security-Policy allowing its own inline style (by nonce) and forms to itself and,
    where a form's answer redirects there, the client."""
    nonce = secrets.token_urlsafe(16)
    html = _templates.get_template(template).render(nonce=nonce, **context)
    form_action = "'self'" + (f" {form_target}" if form_target else "")
    return HTMLResponse(
        html,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": (
                f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
                f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
            ),
        },
    )


def _refused_page(description: str, status: int = 400) -> HTMLResponse:
    return page("error.html", status=status, title="无法登录", message=description)


def _to_client(
    error: AuthorizationError | None, *, redirect_uri: str, **params: str | None
) -> Response:
    """Back to the client (303, so that a form post becomes a GET), ``iss`` included (RFC 9207)."""
    if error is not None:
        params = {"error": error.error, "error_description": error.description, **params}
    return RedirectResponse(service.with_query(redirect_uri, params), status_code=303)


def _set_cookie(response: Response, runtime: Runtime, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        secure=_secure(runtime),
        httponly=True,
        samesite="lax",
    )


def _params(request: Request) -> AuthorizeParams | str:
    """The request's parameters, or why they cannot be read (a parameter given twice, RFC 6749
    §3.1)."""
    fields = AuthorizeParams.__dataclass_fields__
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in fields:
            continue
        if name in values:
            return f"{name} is given more than once"
        if len(value) > 2000:
            return f"{name} is too long"
        values[name] = value
    return AuthorizeParams(**values)


@router.get("/authorize")
async def authorize(request: Request, session: SessionDep, state: StateDep) -> Response:
    """The authorization endpoint (OIDC Core §3.1.2)."""
    runtime = state.runtime
    now = runtime.now()
    params = _params(request)
    if isinstance(params, str):
        return _refused_page(f"这个登录请求有误（{params}），请回到原网站重新登录。")
    try:
        oauth_client, redirect_uri = await service.client_and_redirect(session, params)
    except service.AuthorizationRefused as exc:
        return _refused_page(
            f"这个登录请求有误（{exc.error}: {exc.description}），请回到原网站重新登录。"
        )
    iss = runtime.settings.token_issuer
    browser_token = request.cookies.get(BROWSER_COOKIE) or secrets.token_urlsafe(32)
    try:
        held = await service.hold_request(
            session=session,
            runtime=runtime,
            oauth_client=oauth_client,
            redirect_uri=redirect_uri,
            params=params,
            browser_token=browser_token,
            now=now,
        )
    except AuthorizationError as exc:
        return _to_client(exc, redirect_uri=exc.redirect_uri, state=exc.state, iss=iss)
    signed_in = await service.browser_session(session, request.cookies.get(SESSION_COOKIE), now=now)
    step, _account = await service.next_step(session, held, signed_in, now=now)
    if step == "done" and signed_in is not None:
        return await _finish(session, runtime, held, signed_in)
    if "none" in (params.prompt or "").split():
        error = {"sign_in": "login_required", "consent": "consent_required"}.get(
            step, "interaction_required"
        )
        held.completed_at = now
        refusal = AuthorizationError(
            error, "the request needs the citizen", redirect_uri=redirect_uri, state=params.state
        )
        return _to_client(refusal, redirect_uri=redirect_uri, state=params.state, iss=iss)
    response = RedirectResponse(f"{COOKIE_PATH}/authorize/{held.id}", status_code=303)
    _set_cookie(
        response,
        runtime,
        BROWSER_COOKIE,
        browser_token,
        max_age=runtime.settings.browser_session_ttl_seconds,
    )
    return response


async def _finish(
    session: AsyncSession, runtime: Runtime, held: AuthorizationRequest, signed_in: BrowserSession
) -> Response:
    code = await service.issue_code(
        session=session, runtime=runtime, held=held, signed_in=signed_in, now=runtime.now()
    )
    return _to_client(
        None,
        redirect_uri=held.redirect_uri,
        code=code,
        state=held.state,
        iss=runtime.settings.token_issuer,
    )


async def _held(
    request: Request, session: AsyncSession, runtime: Runtime, request_id: str
) -> AuthorizationRequest | None:
    if len(request_id) > 64:
        return None
    return await service.held_request(
        session, request_id, browser_token=request.cookies.get(BROWSER_COOKIE), now=runtime.now()
    )


_EXPIRED = "这个登录请求已失效（超时、已完成或不是在这个浏览器发起的），请回到原网站重新登录。"


@router.get("/authorize/{request_id}")
async def step_page(
    request_id: str, request: Request, session: SessionDep, state: StateDep
) -> Response:
    """The step the request still needs, or back to the client when it needs none."""
    runtime = state.runtime
    held = await _held(request, session, runtime, request_id)
    if held is None:
        return _refused_page(_EXPIRED)
    return await _show(session, runtime, request, held)


async def _show(
    session: AsyncSession,
    runtime: Runtime,
    request: Request,
    held: AuthorizationRequest,
    *,
    error: str | None = None,
    status: int = 200,
    signed_in: BrowserSession | None = None,
    **context: Any,
) -> Response:
    now = runtime.now()
    if signed_in is None:
        signed_in = await service.browser_session(
            session, request.cookies.get(SESSION_COOKIE), now=now
        )
    step, account = await service.next_step(session, held, signed_in, now=now)
    if step == "done":
        assert signed_in is not None
        return await _finish(session, runtime, held, signed_in)
    oauth_client = await tokens_repository.client(session, held.client_id)
    assert oauth_client is not None  # next_step found it
    shown: dict[str, Any] = {
        "step": step,
        "title": STEP_TITLES[step],
        "action": f"{COOKIE_PATH}/authorize/{held.id}",
        "client_name": oauth_client.name,
        "error": error,
        "level": held.loa,
        **context,
    }
    if step == "face" and account is not None:
        challenge = await verification.open_face_challenge(
            session=session, runtime=runtime, principal=_principal_of(account, now=now), now=now
        )
        shown["challenge_id"] = str(challenge.id)
        shown["challenge_nonce"] = challenge.nonce
    if step == "consent":
        shown["scopes"] = [SCOPES[name] for name in held.scope.split()]
        shown["dept"] = oauth_client.dept
    return page(
        f"{step}.html", status=status, form_target=service.origin_of(held.redirect_uri), **shown
    )


def _principal_of(account: Account, *, now: dt.datetime) -> Principal:
    """The signed-in citizen as the verification rules take her (a browser sign-in, no token)."""
    return Principal(
        sub=str(account.id), typ="citizen", loa=effective_loa(account, now=now), token=""
    )


def _message(exc: DomainError) -> str:
    template = MESSAGES.get(exc.code, GENERIC_MESSAGE)
    try:
        return template.format(**exc.extensions)
    except (KeyError, IndexError):
        return GENERIC_MESSAGE


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form's text fields; None for a form that is not one these pages send."""
    try:
        form = await request.form(max_files=0, max_fields=20)
    except (MultiPartException, HTTPException, ValueError):
        return None  # a malformed or oversized body is not a form of these pages
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str) or len(value) > FIELD_MAX or name in fields:
            return None
        fields[name] = value.strip()
    return fields


@router.post("/authorize/{request_id}")
async def step_post(
    request_id: str,
    request: Request,
    session: SessionDep,
    state: StateDep,
    device: DeviceDep,
    background: BackgroundTasks,
) -> Response:
    """A step's form: sign in (``password``, ``sms_send``, ``sms``), ``real_name``, ``face``,
    ``consent``."""
    runtime = state.runtime
    held = await _held(request, session, runtime, request_id)
    if held is None:
        return _refused_page(_EXPIRED)
    fields = await _form(request)
    if fields is None:
        return await _show(session, runtime, request, held, error=GENERIC_MESSAGE, status=400)
    now = runtime.now()
    signed_in = await service.browser_session(session, request.cookies.get(SESSION_COOKIE), now=now)
    step = fields.get("step", "")
    try:
        if step in ("password", "sms", "sms_send"):
            return await _sign_in(session, state, request, held, signed_in, fields, device)
        current, account = await service.next_step(session, held, signed_in, now=now)
        if account is None or signed_in is None or current != step or step not in _STEP_FORMS:
            # A form of a step done already, or of another: show where the request stands.
            return RedirectResponse(f"{COOKIE_PATH}/authorize/{held.id}", status_code=303)
        if step == "real_name":
            await verification.claim_real_name(
                session=session,
                runtime=runtime,
                http=state.http,
                principal=_principal_of(account, now=now),
                name=fields.get("name", "")[:64],
                id_number=fields.get("id_number", "")[:32],
                now=now,
            )
        elif step == "face":
            return await _face(session, state, held, signed_in, account, fields, background)
        elif step == "consent":
            if fields.get("decision") != "allow":
                held.completed_at = now
                refusal = AuthorizationError(
                    "access_denied",
                    "the citizen did not allow it",
                    redirect_uri=held.redirect_uri,
                    state=held.state,
                )
                return _to_client(
                    refusal,
                    redirect_uri=held.redirect_uri,
                    state=held.state,
                    iss=runtime.settings.token_issuer,
                )
            await service.consent(session, account, held, now=now)
            return await _finish(session, runtime, held, signed_in)
    except DomainError as exc:
        # Nothing of a failed step stays (what counts failures commits apart), and what the
        # session held is read again.
        await session.rollback()
        held = await _held(request, session, runtime, request_id)
        if held is None:
            return _refused_page(_EXPIRED)
        kept = _kept(fields)
        return await _show(
            session,
            runtime,
            request,
            held,
            error=_message(exc),
            status=exc.status,
            phone=kept["phone"],
            name=kept["name"],
        )
    return RedirectResponse(f"{COOKIE_PATH}/authorize/{held.id}", status_code=303)


#: The forms of the steps after signing in, each named as its step.
_STEP_FORMS = frozenset({"real_name", "face", "consent"})


def _kept(fields: dict[str, str]) -> dict[str, str]:
    """What a page shows again after a failure: never a password, a code or an ID number."""
    return {"phone": fields.get("phone", "")[:20], "name": fields.get("name", "")[:64]}


async def _sign_in(
    session: AsyncSession,
    state: IdentityState,
    request: Request,
    held: AuthorizationRequest,
    signed_in: BrowserSession | None,
    fields: dict[str, str],
    device: Device,
) -> Response:
    runtime = state.runtime
    now = runtime.now()
    phone = fields.get("phone", "")[:20]
    step = fields["step"]
    if step in ("sms_send", "sms") and not _PHONE.fullmatch(phone):
        return await _show(
            session, runtime, request, held, error=MESSAGES["invalid_phone"], status=422
        )
    if step == "sms_send":
        await sms.send_code(
            session=session, runtime=runtime, sender=state.sms_sender, phone=phone, now=now
        )
        return await _show(
            session,
            runtime,
            request,
            held,
            notice=f"验证码已发送至 {mask_phone(phone)}，请在 5 分钟内输入。",
            phone=phone,
            sms_sent=True,
        )
    if step == "password":
        account = await sign_in_by_password(
            session=session,
            runtime=runtime,
            username=phone,
            password=fields.get("password", "")[:128],
            device=device,
            now=now,
        )
        amr = "pwd"
    else:
        account = await sms.sign_in_by_sms_code(
            session=session,
            runtime=runtime,
            username=phone,
            code=fields.get("code", "")[:16],
            device=device,
            now=now,
        )
        amr = "otp"
    if account.typ != "citizen":
        # Staff sign in at the workbench; a portal signs citizens in.
        await session.rollback()
        return await _show(
            session, runtime, request, held, error=MESSAGES["not_a_citizen"], status=403
        )
    _signed_in, token = await service.sign_in_browser(
        session=session, runtime=runtime, account=account, amr=amr, current=signed_in, now=now
    )
    response = RedirectResponse(f"{COOKIE_PATH}/authorize/{held.id}", status_code=303)
    if token is not None:
        _set_cookie(
            response,
            runtime,
            SESSION_COOKIE,
            token,
            max_age=runtime.settings.browser_session_ttl_seconds,
        )
    return response


async def _face(
    session: AsyncSession,
    state: IdentityState,
    held: AuthorizationRequest,
    signed_in: BrowserSession,
    account: Account,
    fields: dict[str, str],
    background: BackgroundTasks,
) -> Response:
    """The face capture's template, as the device's capture component put it in the form: a
    match proves her at this sign-in (and binds a claimed real name)."""
    runtime = state.runtime
    now = runtime.now()
    try:
        challenge_id = uuid.UUID(fields.get("challenge_id", ""))
        template = json.loads(fields.get("template", "") or "null")
    except ValueError as exc:
        raise verification.ChallengeNotFound() from exc
    if (
        not isinstance(template, list)
        or len(template) != TEMPLATE_DIMENSIONS
        or not all(
            isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
            for x in template
        )
    ):
        raise verification.FaceMismatch("the capture sent no usable template")
    matched, displaced = await verification.match_face(
        session=session,
        runtime=runtime,
        http=state.http,
        principal=_principal_of(account, now=now),
        challenge_id=challenge_id,
        template=[float(x) for x in template],
        now=now,
    )
    if displaced:  # after the commit, so that no phone hears of a take-over undone
        background.add_task(verification.tell_displaced, runtime, state.sms_sender, displaced)
    await service.sign_in_browser(
        session=session, runtime=runtime, account=matched, amr="face", current=signed_in, now=now
    )
    return RedirectResponse(f"{COOKIE_PATH}/authorize/{held.id}", status_code=303)
