"""The workbench's pages: signing in and out as staff here; the queue, cases, rectifications
and appeals, and supervision in their own modules, gathered under one router."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web import signing_in
from onevisit_web.api import ApiProblem
from onevisit_web.pages import (
    end_session,
    field,
    form_of,
    problem_message,
    redirect,
    render,
    safe_next,
)
from onevisit_web.session import token_claims
from onevisit_web.workbench import cases, queue, ratings, supervision
from onevisit_web.workbench.staff import StaffDep

router = APIRouter(prefix="/workbench", include_in_schema=False)


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    context = {"next": safe_next(next, "workbench")}
    return render(request, "workbench/sign_in.html", context)


@router.post("/sign-in/code")
async def send_code(request: Request) -> Response:
    return await signing_in.text_a_code(request, "workbench")


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Staff sign in by a texted code, or by password where the platform takes it."""
    form = await form_of(request, None)
    back_to = safe_next(field(form, "next"), "workbench")
    method = field(form, "method")
    context = {"next": back_to, "phone": field(form, "phone"), "code_sent": method == "sms_code"}
    try:
        tokens = await signing_in.sign_in(request, "workbench", signing_in.grant_of(form))
    except ApiProblem as exc:
        context["error"] = problem_message(exc)
        return render(request, "workbench/sign_in.html", context, status=exc.status)
    if token_claims(str(tokens["access_token"])).get("typ") != "staff":
        # A citizen's credentials here signed her in all the same: end that session at once.
        await signing_in.end_at_identity(request, tokens.get("refresh_token"))
        end_session(request, "workbench")
        context["error"] = "请使用工作人员账号登录。"
        return render(request, "workbench/sign_in.html", context, status=403)
    return redirect(request, back_to)


@router.post("/sign-out")
async def sign_out(request: Request, staff: StaffDep) -> Response:
    await form_of(request, staff)
    await signing_in.end_at_identity(request, staff.refresh_token)
    end_session(request, "workbench")
    return redirect(request, "/workbench/sign-in")


for part in (queue, cases, ratings, supervision):
    router.include_router(part.router)
