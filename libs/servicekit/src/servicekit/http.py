"""The pooled httpx client every service uses for calls through the gateway, and how an
answer's problem becomes the caller's.

Timeouts are explicit (no call waits forever), connections are pooled and kept alive, and each
outgoing request carries the current request id and trace context (with tracing on, its own
client span's: ``servicekit.tracing``); a client given the
platform's ``Forwarding`` signs them on its calls to its base URL (the gateway), which then
continues them (``servicekit.forwarding``), naming the browser a page server acts for when
``servicekit.context.on_behalf_of`` holds one. Endpoints take the service's client as ``HttpDep``.
``raise_for_problem`` passes on the problems of another service that concern the request, as
they are, and makes everything else that service's failure.
"""

import ssl
from collections.abc import Awaitable, Callable, Iterable
from functools import cache
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from opentelemetry.trace import Tracer, get_current_span

from servicekit.context import on_behalf_of, outgoing_trace_headers
from servicekit.forwarding import HEADER, Forwarding
from servicekit.problems import DomainError, UpstreamUnavailable
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState, state_of
from servicekit.tracing import end_span, start_client_span, traceparent_of


def _context_propagation(
    base_url: str, forwarding: Forwarding | None
) -> Callable[[httpx.Request], Awaitable[None]]:
    """The hook that puts the request id and trace context on each outgoing request, signed
    for the calls to ``base_url`` when there is a key to sign with (never for another host:
    the signature is the platform's own business)."""
    base = httpx.URL(base_url) if base_url else None

    async def propagate(request: httpx.Request) -> None:
        for name, value in outgoing_trace_headers().items():
            request.headers.setdefault(name, value)
        url = request.url
        if (
            forwarding is None
            or base is None
            or (url.scheme, url.netloc)
            != (
                base.scheme,
                base.netloc,
            )
        ):
            return
        signed = forwarding.sign(
            (on_behalf_of.get() or "").encode("latin-1"),
            request.headers.get("x-request-id", "").encode("latin-1"),
            request.headers.get("traceparent", "").encode("latin-1"),
        )
        request.headers[HEADER] = signed.decode("latin-1")

    return propagate


class _TracedClient(httpx.AsyncClient):
    """The kit's client when tracing is on: each call a CLIENT span under the current one,
    whose ``traceparent`` the call carries (and the gateway's signature covers: the hook
    signs what the request holds when it is sent)."""

    def __init__(self, tracer: Tracer, **options: Any) -> None:
        super().__init__(**options)
        self._tracer = tracer

    async def send(self, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        serving = get_current_span()
        if serving.get_span_context().is_valid and not serving.is_recording():
            # A trace the sampler left out: nothing to record; it goes on, left out.
            request.headers["traceparent"] = traceparent_of(serving)
            return await super().send(request, *args, **kwargs)
        # Named by method alone: a path may hold a case number or another id.
        span = start_client_span(self._tracer, request.method, request.method)
        span.set_attribute("server.address", request.url.host)
        request.headers["traceparent"] = traceparent_of(span)
        status = 500
        try:
            response = await super().send(request, *args, **kwargs)
            status = response.status_code
            return response
        finally:
            end_span(span, status)


@cache
def _tls_context() -> ssl.SSLContext:
    # Building a context loads the CA bundle (~0.1 s); every client of the process shares one.
    return httpx.create_ssl_context()


def make_http_client(
    base_url: str,
    *,
    timeout_seconds: float,
    connect_timeout_seconds: float,
    max_connections: int = 100,
    forwarding: Forwarding | None = None,
    tracer: Tracer | None = None,
) -> httpx.AsyncClient:
    """``forwarding``: the platform's key, for a client of the gateway (see the module);
    ``tracer``: the process's, when tracing is on (a client span for each call)."""
    options: dict[str, Any] = {
        "base_url": base_url,
        "timeout": httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        "limits": httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        "event_hooks": {"request": [_context_propagation(base_url, forwarding)]},
        "verify": _tls_context(),
    }
    if tracer is None:
        return httpx.AsyncClient(**options)
    return _TracedClient(tracer, **options)


def gateway_client(settings: ServiceSettings, tracer: Tracer | None) -> httpx.AsyncClient:
    """The process's pooled client of the gateway, as its settings say (timeouts, pool size, the
    forwarding key), making client spans with ``tracer`` when tracing is on."""
    return make_http_client(
        settings.gateway_url,
        timeout_seconds=settings.http_timeout_seconds,
        connect_timeout_seconds=settings.http_connect_timeout_seconds,
        max_connections=settings.http_max_connections,
        forwarding=Forwarding(settings.forwarded_key_bytes),
        tracer=tracer,
    )


async def _http(request: Request) -> httpx.AsyncClient:
    return state_of(request, ServiceState).http


#: The service's pooled client, for its calls through the gateway.
HttpDep = Annotated[httpx.AsyncClient, Depends(_http)]


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    if not response.headers.get("content-type", "").startswith(
        ("application/problem+json", "application/json")
    ):
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def raise_for_problem(
    response: httpx.Response, *, upstream: str, passed_on: Iterable[type[DomainError]] = ()
) -> None:
    """Nothing for a success. A problem of ``passed_on`` (the same status and code: the
    upstream's verdict on what the caller asked, e.g. no such item, a step-up to take) is raised
    as this service's own, with its detail and the members its class declares, so the caller
    hears one vocabulary. Anything else (a 5xx, a refusal of this service, a body that is no
    problem) is the upstream's failure: 503 ``upstream_unavailable`` with its status and code."""
    if response.is_success:
        return
    body = _problem_of(response)
    code, detail = body.get("code"), body.get("detail")
    for problem in passed_on:
        if (problem.status, problem.code) == (response.status_code, code):
            members = {name: body[name] for name in problem.members if name in body}
            raise problem(detail if isinstance(detail, str) else None, **members)
    failure: dict[str, Any] = {"upstream_status": response.status_code}
    if isinstance(code, str):
        failure["upstream_code"] = code
    raise UpstreamUnavailable(f"{upstream} answered {response.status_code}", **failure)
