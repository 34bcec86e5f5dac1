"""Real upstreams for the gateway's tests.

Each stands in for one of the platform's services: a tiny FastAPI app served by uvicorn on a
free port of this process, over real sockets. It echoes what it received, documents one route
in its OpenAPI document, answers ``/readyz`` as told, and identity's publishes a real Ed25519
JWKS and a revocation list the tests fill. Faults are real too: a port where nothing listens,
a server that does not speak HTTP, a handler that does not answer in time. The gateway runs in
process; its upstream calls are HTTP.
"""

import asyncio
import contextlib
import gzip
import json
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import create_model

from servicekit.testing import ServedApp, TokenMinter

# pytest's importlib mode names this file ``gateway.tests.conftest`` after its folders, and so
# registers the folder ``gateway/`` itself as a namespace package ``gateway`` that hides the
# real package (``gateway/src/gateway``). Drop that stand-in: ``import gateway`` then finds the
# real one (the test modules, imported after this file, import it at their top), and they
# still import as ``gateway.tests.*``. Here, the gateway is imported where it is used.
if getattr(sys.modules.get("gateway"), "__file__", "") is None:
    del sys.modules["gateway"]

SERVICES = {
    "identity": "/identity/v1",
    "catalog": "/catalog/v1",
    "case": "/cases/v1",
    "rating": "/ratings/v1",
    "exchange": "/exchange/v1",
    # The pages (web/): two parts of one upstream in production, a fake each here.
    "app": "/app",
    "workbench": "/workbench",
}


@dataclass
class FakeService:
    name: str
    prefix: str
    url: str = ""
    ready: bool = True
    #: The keys it publishes at <prefix>/.well-known/jwks.json (identity only).
    signing_keys: list[TokenMinter] = field(default_factory=list)
    #: Paths it was asked for (but ``/readyz``), to prove that a refused request never reached it.
    received: list[str] = field(default_factory=list)
    #: ``<prefix>/slow`` answers only once this is set.
    release_slow: asyncio.Event = field(default_factory=asyncio.Event)
    #: Set when a request for ``<prefix>/slow`` has arrived.
    slow_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    #: When set, every request under the prefix is answered with this status (a problem).
    answer_status: int | None = None
    #: What ``<prefix>/listing`` lists, in its order, paginated by ``?cursor=&limit=``.
    listing: list[dict[str, Any]] = field(default_factory=list)
    #: The entries ``<prefix>/revocations`` publishes (identity), whatever the cursor.
    revocations: list[dict[str, Any]] = field(default_factory=list)
    #: The cursors the gateway polled ``<prefix>/revocations`` with.
    revocation_polls: list[str | None] = field(default_factory=list)


def service_app(service: FakeService) -> FastAPI:
    app = FastAPI(title=service.name)
    # The same component name with a different definition in every service.
    thing = create_model("Thing", **{f"{service.name}_field": (str, ...)})  # type: ignore[call-overload]

    @app.middleware("http")
    async def record(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if request.url.path in ("/readyz", f"{service.prefix}/revocations"):
            # The gateway's health checks and revocation polls come at their own times: not
            # requests it forwarded.
            return await call_next(request)
        service.received.append(request.url.path)
        if service.answer_status is not None and request.url.path.startswith(service.prefix):
            return JSONResponse(
                {"status": service.answer_status, "code": "told_to_fail", "title": "Failing"},
                status_code=service.answer_status,
                media_type="application/problem+json",
            )
        return await call_next(request)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        return JSONResponse({"ready": service.ready}, status_code=200 if service.ready else 503)

    @app.get(f"{service.prefix}/things/{{thing_id}}", response_model=thing)
    async def read_thing(thing_id: str) -> dict[str, str]:
        return {f"{service.name}_field": thing_id}

    @app.get(f"{service.prefix}/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        keys = [key for minter in service.signing_keys for key in minter.jwks_document()["keys"]]
        return {"keys": keys}

    @app.get(f"{service.prefix}/revocations", include_in_schema=False)
    async def revocations(cursor: str | None = None) -> dict[str, Any]:
        service.revocation_polls.append(cursor)
        return {
            "items": service.revocations,
            "next_cursor": f"after-{len(service.revocation_polls)}",
        }

    @app.get(f"{service.prefix}/slow", include_in_schema=False)
    async def slow() -> dict[str, str]:
        service.slow_arrived.set()
        await service.release_slow.wait()
        return {"status": "late"}

    @app.get(f"{service.prefix}/listing", include_in_schema=False)
    async def listing(cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
        start = int(cursor or 0)
        end = start + limit
        return {
            "items": service.listing[start:end],
            "next_cursor": str(end) if end < len(service.listing) else None,
        }

    @app.get(f"{service.prefix}/compressed", include_in_schema=False)
    async def compressed() -> Response:
        payload = gzip.compress(json.dumps({"compressed": True}).encode(), mtime=0)
        return Response(
            payload, media_type="application/json", headers={"content-encoding": "gzip"}
        )

    @app.api_route(
        "/{rest:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "service": service.name,
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope["raw_path"].decode("latin-1"),
                "query": request.scope["query_string"].decode("latin-1"),
                "headers": [[name.decode(), value.decode()] for name, value in request.headers.raw],
                "body": body.hex(),
            },
            headers={
                "x-upstream": service.name,
                "keep-alive": "timeout=99",
                "connection": "x-upstream-hop",
                "x-upstream-hop": "meant for the gateway only",
            },
        )

    return app


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def _url(sock: socket.socket) -> str:
    host, port = sock.getsockname()
    return f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def not_speaking_http() -> AsyncIterator[str]:
    """A server that accepts the connection, reads the request and answers with no HTTP."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"this is not HTTP\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    async with server:
        yield f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def serving(fakes: Iterable[FakeService]) -> AsyncIterator[None]:
    """Each fake on a real port of its own (its ``url`` set) while open."""
    servers = []
    for fake in fakes:
        server = ServedApp(service_app(fake))
        fake.url = server.url
        servers.append(server)
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield
    finally:
        await asyncio.gather(*(server.stop() for server in servers))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def services(token_minter: TokenMinter) -> AsyncIterator[dict[str, FakeService]]:
    fakes = {name: FakeService(name, prefix) for name, prefix in SERVICES.items()}
    fakes["identity"].signing_keys.append(token_minter)
    async with serving(fakes.values()):
        yield fakes


#: Regional instances of case-svc for tier routing: name → the region they serve.
REGIONAL_CASE_INSTANCES = {"case-wenzhou": "3303", "case-lucheng": "330302"}


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def regional_cases() -> AsyncIterator[dict[str, FakeService]]:
    """More instances of case-svc (``/cases/v1``), each its own server: a city's, a county's."""
    fakes = {name: FakeService(name, SERVICES["case"]) for name in REGIONAL_CASE_INSTANCES}
    async with serving(fakes.values()):
        yield fakes


def _reset(fakes: Iterable[FakeService]) -> None:
    for fake in fakes:
        fake.ready = True
        fake.received.clear()
        fake.release_slow = asyncio.Event()
        fake.slow_arrived = asyncio.Event()
        fake.answer_status = None
        fake.revocations.clear()
        fake.revocation_polls.clear()


@pytest.fixture(autouse=True)
def _fresh_services(services: dict[str, FakeService], token_minter: TokenMinter) -> Iterator[None]:
    _reset(services.values())
    yield
    for fake in services.values():
        fake.release_slow.set()
    services["identity"].signing_keys[:] = [token_minter]


#: The service the resilience tests pool instances of: its own name, so that the metrics they
#: read are theirs alone.
POOLED = ("pooled", "/pooled/v1")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _pooled_instances() -> AsyncIterator[list[FakeService]]:
    fakes = [FakeService(f"{POOLED[0]}-{index}", POOLED[1]) for index in range(2)]
    async with serving(fakes):
        yield fakes


@pytest.fixture
def pooled_instances(_pooled_instances: list[FakeService]) -> Iterator[list[FakeService]]:
    """Two instances of one service (``POOLED``), each its own server, fresh."""
    _reset(_pooled_instances)
    yield _pooled_instances
    for fake in _pooled_instances:
        fake.release_slow.set()


@pytest.fixture(scope="session")
def dead_url() -> Iterator[str]:
    """A port bound but not listening: every connection to it is refused."""
    with _bound_socket() as sock:
        yield _url(sock)


@pytest.fixture(scope="session")
def another_dead_url() -> Iterator[str]:
    with _bound_socket() as sock:
        yield _url(sock)


@pytest_asyncio.fixture(loop_scope="session")
async def babbling_url() -> AsyncIterator[str]:
    async with not_speaking_http() as url:
        yield url


@contextlib.asynccontextmanager
async def running_gateway(
    services: dict[str, FakeService],
    *,
    upstreams: dict[str, str] | None = None,
    from_file: tuple[str, ...] = (),
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway in process, lifespan running, served on a port of its own by its own server
    (``gateway.server``), and a client on it. Its upstreams are the fake
    services, but those given in ``upstreams`` and those kept ``from_file`` (the routes file's).
    """
    from gateway.main import create_app
    from gateway.server import SERVER_OPTIONS
    from gateway.settings import GatewaySettings

    overrides = {name: fake.url for name, fake in services.items()}
    overrides.update(upstreams or {})
    for name in from_file:
        overrides.pop(name, None)
    gateway = create_app(
        GatewaySettings(
            environment="test",
            upstreams=overrides,
            jwks_min_refetch_seconds=0,
            # One process starts many gateways here: freezing would keep each one's garbage.
            freeze_startup_objects=False,
            **settings,
        )
    )
    served = ServedApp(gateway, **SERVER_OPTIONS)
    async with gateway.running():
        await served.start()
        try:
            async with httpx.AsyncClient(base_url=served.url) as client:
                yield client
        finally:
            await served.stop()


class StartGateway(Protocol):
    def __call__(
        self,
        *,
        upstreams: dict[str, str] | None = None,
        from_file: tuple[str, ...] = (),
        **settings: Any,
    ) -> Awaitable[httpx.AsyncClient]: ...


@pytest_asyncio.fixture(loop_scope="session")
async def start_gateway(services: dict[str, FakeService]) -> AsyncIterator[StartGateway]:
    """Start a gateway with settings of the test's own (see ``running_gateway``)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(
            *,
            upstreams: dict[str, str] | None = None,
            from_file: tuple[str, ...] = (),
            **settings: Any,
        ) -> httpx.AsyncClient:
            return await stack.enter_async_context(
                running_gateway(services, upstreams=upstreams, from_file=from_file, **settings)
            )

        yield start


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def gateway(services: dict[str, FakeService]) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway with the shipped routing table in front of the fake services, for the run.
    It holds no state a test could leave behind but caches (signing keys, OpenAPI)."""
    async with running_gateway(services) as client:
        yield client


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value)  # strings, numbers and booleans are spelled alike in both


def write_routes(path: Path, services: dict[str, dict[str, Any]]) -> Path:
    """A routing table file with the given services (name → prefix, upstreams, timeout...)."""
    lines = [
        '[tokens]\njwks_service = "identity"\njwks_path = "/identity/v1/.well-known/jwks.json"'
    ]
    for name, spec in services.items():
        lines.append(f"[[services]]\nname = {toml_value(name)}")
        lines.extend(f"{key} = {toml_value(value)}" for key, value in spec.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def routes_with(tmp_path: Path) -> Callable[..., Path]:
    """The shipped services with some of their entries changed, as a new routes file."""

    def build(**changes: dict[str, Any]) -> Path:
        base = {
            name: {"prefix": prefix, "upstreams": ["http://127.0.0.1:9"], "timeout_seconds": 5.0}
            for name, prefix in SERVICES.items()
        }
        base["catalog"]["public"] = [{"method": "GET", "path": "/catalog/v1/**"}]
        for name, change in changes.items():
            base.setdefault(name, {}).update(change)
        return write_routes(tmp_path / "routes.toml", base)

    return build
