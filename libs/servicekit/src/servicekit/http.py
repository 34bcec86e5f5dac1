"""The pooled httpx client every service uses for calls through the gateway.

Timeouts are explicit (no call waits forever), connections are pooled and kept alive, and each
outgoing request carries the current request id and trace context; a client given the
platform's ``Forwarding`` signs them on its calls to its base URL (the gateway), which then
continues them (``servicekit.forwarding``). Endpoints take the service's client as ``HttpDep``.
"""

import ssl
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Annotated

import httpx
from fastapi import Depends, Request

from servicekit.context import outgoing_trace_headers
from servicekit.forwarding import HEADER, Forwarding
from servicekit.state import ServiceState, state_of


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
            b"",
            request.headers.get("x-request-id", "").encode("latin-1"),
            request.headers.get("traceparent", "").encode("latin-1"),
        )
        request.headers[HEADER] = signed.decode("latin-1")

    return propagate


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
) -> httpx.AsyncClient:
    """``forwarding``: the platform's key, for a client of the gateway (see the module)."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        event_hooks={"request": [_context_propagation(base_url, forwarding)]},
        verify=_tls_context(),
    )


async def _http(request: Request) -> httpx.AsyncClient:
    return state_of(request, ServiceState).http


#: The service's pooled client, for its calls through the gateway.
HttpDep = Annotated[httpx.AsyncClient, Depends(_http)]
