"""The pooled httpx client every service uses for calls through the gateway.

Timeouts are explicit (no call waits forever), connections are pooled and kept alive, and each
outgoing request carries the current request id and trace context. Endpoints take the service's
client as ``HttpDep``.
"""

import ssl
from functools import cache
from typing import Annotated

import httpx
from fastapi import Depends, Request

from servicekit.context import outgoing_trace_headers
from servicekit.state import ServiceState, state_of


async def _propagate_context(request: httpx.Request) -> None:
    for name, value in outgoing_trace_headers().items():
        request.headers.setdefault(name, value)


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
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout_seconds, connect=connect_timeout_seconds),
        limits=httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
        ),
        event_hooks={"request": [_propagate_context]},
        verify=_tls_context(),
    )


async def _http(request: Request) -> httpx.AsyncClient:
    return state_of(request, ServiceState).http


#: The service's pooled client, for its calls through the gateway.
HttpDep = Annotated[httpx.AsyncClient, Depends(_http)]
