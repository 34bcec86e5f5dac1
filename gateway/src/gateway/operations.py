"""The gateway's own routes: liveness, the readiness of every upstream, metrics, and the
aggregated OpenAPI document with its docs page. Every other path belongs to the proxy."""

import hmac
import ipaddress
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gateway.openapi import OpenApiAggregator
from gateway.settings import GatewaySettings
from gateway.upstreams import Upstreams
from servicekit.problems import Forbidden, install_problem_handlers

#: Matched exactly, before the proxy sees the request.
OPERATION_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})

router = APIRouter()


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Every upstream service is ready")
async def readyz(request: Request, response: Response) -> dict[str, Any]:
    settings: GatewaySettings = request.app.state.settings
    upstreams: Upstreams = request.app.state.upstreams
    services = await upstreams.readiness(timeout_seconds=settings.probe_timeout_seconds)
    not_ready = sorted(name for name, state in services.items() if state != "ready")
    if not_ready:
        response.status_code = 503
    return {
        "status": "unavailable" if not_ready else "ready",
        "services": services,
        "not_ready": not_ready,
    }


class MetricsForOperators(Forbidden):
    code = "metrics_for_operators"
    title = "The gateway's metrics are for its operators"


def _operator(request: Request, settings: GatewaySettings) -> bool:
    if settings.metrics_token is not None:
        expected = f"Bearer {settings.metrics_token.get_secret_value()}".encode()
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", summary="Prometheus metrics, for operators")
async def metrics(request: Request) -> Response:
    """With ``GATEWAY_METRICS_TOKEN`` set, for ``Authorization: Bearer <it>`` only; unset, for
    callers on the gateway's own host only (403 ``metrics_for_operators``)."""
    if not _operator(request, request.app.state.settings):
        raise MetricsForOperators()
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/openapi.json", summary="Every service's API in one document")
async def openapi(request: Request) -> JSONResponse:
    aggregator: OpenApiAggregator = request.app.state.openapi
    return JSONResponse(await aggregator.document())


@router.get("/docs", summary="The API's documentation")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="OneVisit API")


def operations_app(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> FastAPI:
    # Its own schema would describe these five routes only; /openapi.json is the platform's.
    app = FastAPI(
        title="OneVisit gateway",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(app)
    app.include_router(router)
    return app
