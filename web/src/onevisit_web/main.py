"""``create_app()``: the page server of both parts, behind the gateway (``/app``,
``/workbench``)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from onevisit_web import citizen, workbench
from onevisit_web.api import ApiProblem
from onevisit_web.pages import (
    FormRefused,
    SignInRequired,
    finish,
    problem_message,
    render,
    sign_in_url,
)
from onevisit_web.settings import WebSettings
from onevisit_web.state import WebState
from servicekit.app import BodySizeLimitMiddleware
from servicekit.context import on_behalf_of
from servicekit.forwarding import SCOPE_KEY, Forwarding
from servicekit.http import gateway_client
from servicekit.observability import RequestContextMiddleware, configure_logging
from servicekit.problems import UpstreamUnavailable
from servicekit.security_headers import SecurityHeadersMiddleware
from servicekit.tracing import configure_tracing

STATIC = Path(__file__).parent / "static"


class OnBehalfOfBrowser:
    """Each page's calls through the gateway name the browser the gateway vouched for
    (``servicekit.context.on_behalf_of``), so that she, not the page server, is counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = on_behalf_of.set(scope.get(SCOPE_KEY))
        try:
            await self.app(scope, receive, send)
        finally:
            on_behalf_of.reset(token)


def create_app(settings: WebSettings | None = None) -> FastAPI:
    settings = settings or WebSettings()
    # Off unless OTLP_TRACES_ENDPOINT is set: then each page and its calls are spans.
    tracing = configure_tracing(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            service_name=settings.service_name, level=settings.log_level, json=settings.log_json
        )
        http = gateway_client(settings, tracing.tracer)
        app.state.web = WebState(settings=settings, http=http)
        try:
            yield
        finally:
            await http.aclose()
            tracing.shutdown()

    # Pages only: nothing here is an API operation, so the platform's document gains nothing.
    app = FastAPI(title="OneVisit pages", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.include_router(citizen.router)
    app.include_router(workbench.router)
    for part in ("app", "workbench"):
        app.mount(f"/{part}/static", StaticFiles(directory=STATIC), name=f"{part}-static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        # Nothing of its own to wait for: each page's calls meet the platform's own readiness.
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, exc: SignInRequired) -> Response:
        return finish(request, RedirectResponse(sign_in_url(exc.part, exc.back_to), 303))

    @app.exception_handler(FormRefused)
    async def form_refused(request: Request, exc: FormRefused) -> HTMLResponse:
        message = "页面已过期，请返回后重新提交。"
        return render(request, "error.html", {"message": message}, status=403)

    @app.exception_handler(ApiProblem)
    async def api_problem(request: Request, exc: ApiProblem) -> HTMLResponse:
        status = exc.status if 400 <= exc.status < 600 else 502
        return render(request, "error.html", {"message": problem_message(exc)}, status=status)

    @app.exception_handler(UpstreamUnavailable)
    async def unavailable(request: Request, exc: UpstreamUnavailable) -> HTMLResponse:
        message = "服务暂时不可用，请稍后再试。"
        return render(request, "error.html", {"message": message}, status=503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> HTMLResponse:
        message = "链接或填写的内容有误，请返回重试。"
        return render(request, "error.html", {"message": message}, status=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith(("/app", "/workbench")):
            return JSONResponse({"status": exc.status_code}, status_code=exc.status_code)
        message = "没有找到您要的页面。" if exc.status_code == 404 else "请求有误，请返回重试。"
        return render(request, "error.html", {"message": message}, status=exc.status_code)

    app.add_middleware(OnBehalfOfBrowser)
    # Forms are small: a body past the kit's limit (MAX_BODY_BYTES, 1 MiB) is refused unread.
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        RequestContextMiddleware,
        service_name=settings.service_name,
        forwarding=Forwarding(settings.forwarded_key_bytes),
        tracer=tracing.tracer,
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
