"""The pytest plugin every service's tests use (loaded with ``-p servicekit.testing``).

A service's ``tests/conftest.py`` provides one fixture, ``service_under_test``, returning a
``ServiceUnderTest``. The plugin then gives:

- ``database_url``: a real database for the test run, migrated to head with the service's own
  Alembic migrations and seeded once; SQLite always, and PostgreSQL as well when
  ``ONEVISIT_TEST_POSTGRES_URL`` names a server (every database test then runs on both). Each
  test is isolated: after it, every table but the service's reference tables is emptied.
- ``token_minter``: signs access tokens with a key of its own and serves the matching JWKS.
- ``app`` (lifespan running) and ``client`` (an httpx client on the app, in process).
"""

import asyncio
import contextlib
import json
import os
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
import pytest
import pytest_asyncio
import redis
import redis.asyncio
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import MetaData, delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from servicekit.auth import JwksSource, PrincipalType
from servicekit.db import create_engine
from servicekit.forwarding import HEADER, Forwarding
from servicekit.migrations import upgrade_to_head
from servicekit.settings import ServiceSettings

POSTGRES_ENV = "ONEVISIT_TEST_POSTGRES_URL"
#: The Redis that tests of shared counters use (``ONEVISIT_TEST_REDIS_URL``; skipped where none).
REDIS_URL = os.environ.get("ONEVISIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class AppFactory(Protocol):
    def __call__(self, settings: Any, *, jwks: JwksSource | None = None) -> FastAPI: ...


@dataclass(frozen=True)
class ServiceUnderTest:
    name: str
    service_dir: Path
    metadata: MetaData
    settings_class: type[ServiceSettings]
    create_app: AppFactory
    #: Tables seeded once per database and kept between tests (reference data).
    reference_tables: frozenset[str] = frozenset()
    #: The service's seed, ``seed(session, settings)``, run once per test database.
    seed: Callable[[AsyncSession, Any], Awaitable[None]] | None = None
    settings_overrides: dict[str, Any] = field(default_factory=dict)

    def settings_for(self, database_url: str, var_dir: Path) -> ServiceSettings:
        return self.settings_class(
            database_url=database_url,
            environment="test",
            var_dir=var_dir,
            log_json=True,
            # One process starts many apps here: freezing would keep each one's garbage.
            freeze_startup_objects=False,
            **self.settings_overrides,
        )


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(scope="session", params=_backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


class _Databases:
    """One database per (backend, service) for the whole run, created and migrated lazily."""

    def __init__(self, tmp_dir: Path) -> None:
        self.tmp_dir = tmp_dir
        self.urls: dict[tuple[str, str], str] = {}
        self.postgres_databases: list[str] = []

    async def url_for(self, backend: str, service: ServiceUnderTest) -> str:
        key = (backend, service.name)
        if key in self.urls:
            return self.urls[key]
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{self.tmp_dir / f'{service.name}.db'}"
        else:
            name = f"ov_test_{service.name}_{secrets.token_hex(4)}"
            admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
            await admin.dispose()
            self.postgres_databases.append(name)
            url = make_url(os.environ[POSTGRES_ENV]).set(database=name).render_as_string(False)
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await upgrade_to_head(connection, service.service_dir)
            if service.seed is not None:
                settings = service.settings_for(url, self.tmp_dir)
                async with async_sessionmaker(engine)() as session, session.begin():
                    await service.seed(session, settings)
        finally:
            await engine.dispose()
        self.urls[key] = url
        return url

    async def drop_postgres(self) -> None:
        if not self.postgres_databases:
            return
        admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            for name in self.postgres_databases:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[_Databases]:
    databases = _Databases(tmp_path_factory.mktemp("databases"))
    yield databases
    await databases.drop_postgres()


@pytest_asyncio.fixture(loop_scope="session")
async def database_url(
    database_backend: str, service_under_test: ServiceUnderTest, _databases: _Databases
) -> AsyncIterator[str]:
    url = await _databases.url_for(database_backend, service_under_test)
    yield url
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(service_under_test.metadata.sorted_tables):
                if table.name not in service_under_test.reference_tables:
                    await connection.execute(delete(table))
    finally:
        await engine.dispose()


class ManualClock:
    """A monotonic clock (seconds) that a test moves by hand: ``clock.now += 30``."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TokenMinter:
    """Signs tokens as the identity service would, with a key only the tests hold."""

    def __init__(
        self, *, issuer: str = "http://127.0.0.1:8000/identity/v1", audience: str = "onevisit"
    ) -> None:
        self.kid = f"test-{secrets.token_hex(4)}"
        self.issuer = issuer
        self.audience = audience
        self._key = Ed25519PrivateKey.generate()

    def mint(
        self,
        sub: str,
        *,
        typ: PrincipalType = "citizen",
        loa: int = 1,
        region: str | None = None,
        roles: tuple[str, ...] = (),
        dept: str | None = None,
        staff_no: str | None = None,
        scope: tuple[str, ...] = (),
        ttl_seconds: int = 600,
        issued_at: int | None = None,
        act: str | None = None,
        sid: str | None = None,
        sgen: int | None = None,
        client_id: str | None = None,
    ) -> str:
        """A signed access token; ``act`` names a delegate acting for ``sub``, ``sid`` the
        session it was issued in, ``sgen`` a client's secret generation, ``client_id`` the
        OAuth client a person's token was issued to (by the authorization code flow)."""
        now = issued_at if issued_at is not None else int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "typ": typ,
            "loa": loa,
            "iat": now,
            "exp": now + ttl_seconds,
            "roles": list(roles),
            "scope": " ".join(scope),
        }
        if region:
            claims["region"] = region
        if dept:
            claims["dept"] = dept
        if staff_no:
            claims["staff_no"] = staff_no
        if act:
            claims["act"] = {"sub": act}
        if sid:
            claims["sid"] = sid
        if sgen is not None:
            claims["sgen"] = sgen
        if client_id is not None:
            claims["client_id"] = client_id
        return self.sign(claims)

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """Any claims and header fields (even an ``alg`` that is not the key's), signed with
        this minter's Ed25519 key: for tokens built to be refused."""
        fields = {"alg": "EdDSA", "typ": "JWT", "kid": self.kid, **header}
        signing_input = b".".join(
            jwt.utils.base64url_encode(json.dumps(part, separators=(",", ":")).encode())
            for part in (fields, claims)
        )
        signature = jwt.utils.base64url_encode(self._key.sign(signing_input))
        return (signing_input + b"." + signature).decode()

    def jwks_document(self) -> dict[str, Any]:
        public = jwt.algorithms.OKPAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    async def jwks(self) -> dict[str, Any]:
        return self.jwks_document()


class _InProcessServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test process keeps its own signal handling.
        yield


class ServedApp:
    """An ASGI app served by uvicorn on a free port of this process, in a background task:
    real sockets and real HTTP, for a test whose subject calls another system."""

    def __init__(self, app: Any, **options: Any) -> None:
        """``options``: uvicorn's, over these defaults (no lifespan, warnings only, no access
        log, no websockets)."""
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.url = f"http://{host}:{port}"
        self.port: int = port
        defaults = {"lifespan": "off", "log_level": "warning", "access_log": False, "ws": "none"}
        config = uvicorn.Config(app, **{**defaults, **options})
        self._server = _InProcessServer(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
        self._socket.close()


@pytest_asyncio.fixture
async def redis_key_prefix() -> AsyncIterator[str]:
    """A key prefix in the Redis at ``REDIS_URL`` for this test alone, its keys deleted at the
    end; the test is skipped where no Redis answers."""
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        await client.ping()
    except (redis.RedisError, OSError):
        await client.aclose()
        pytest.skip(f"no Redis answers at {REDIS_URL}")
    prefix = f"onevisit-test:{secrets.token_hex(16)}:"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(scope="session")
def token_minter() -> TokenMinter:
    return TokenMinter()


@pytest.fixture
def settings(
    service_under_test: ServiceUnderTest, database_url: str, tmp_path: Path
) -> ServiceSettings:
    return service_under_test.settings_for(database_url, tmp_path)


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    service_under_test: ServiceUnderTest, settings: ServiceSettings, token_minter: TokenMinter
) -> AsyncIterator[FastAPI]:
    application = service_under_test.create_app(settings, jwks=token_minter.jwks)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forwarded_by_gateway(
    settings: ServiceSettings,
    address: str,
    *,
    request_id: str | None = None,
    traceparent: str | None = None,
) -> dict[str, str]:
    """The headers with which the gateway forwards a request of a client at ``address``, signed
    with the settings' forwarding key: a service's test standing in for the gateway."""
    headers = {}
    if request_id is not None:
        headers["x-request-id"] = request_id
    if traceparent is not None:
        headers["traceparent"] = traceparent
    signed = Forwarding(settings.forwarded_key_bytes).sign(
        address.encode("latin-1"),
        (request_id or "").encode("latin-1"),
        (traceparent or "").encode("latin-1"),
    )
    headers[HEADER] = signed.decode("latin-1")
    return headers


def operator_environment(
    settings: ServiceSettings,
    *,
    sealing_keys: Mapping[str, str] | None = None,
    sealing_key_id: str | None = None,
    also: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment an operator runs a service's command in: the service's settings (the
    database, var directory and keys of ``settings``, with the keyring ``sealing_keys``, id →
    base64, and ``sealing_key_id`` current when given, and the settings named in ``also``, as
    the environment spells them), over this process's environment without the service's own
    variables."""
    settings_class = type(settings)
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    environment = {name: value for name, value in os.environ.items() if not name.startswith(prefix)}
    for name in settings_class.development_key_fields():
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            environment[f"{prefix}{name}".upper()] = value.get_secret_value()
    keys = (
        {key_id: key.get_secret_value() for key_id, key in settings.sealing_keys.items()}
        if sealing_keys is None
        else dict(sealing_keys)
    )
    environment |= {
        f"{prefix}ENVIRONMENT": settings.environment,
        f"{prefix}DATABASE_URL": settings.database_url,
        f"{prefix}VAR_DIR": str(settings.var_dir),
        f"{prefix}SEALING_KEYS": json.dumps(keys),
        f"{prefix}SEALING_KEY_ID": sealing_key_id or settings.sealing_key_id,
    }
    environment |= {f"{prefix}{name}".upper(): value for name, value in (also or {}).items()}
    return environment


@dataclass(frozen=True)
class CommandRun:
    returncode: int
    printed: str
    errors: str


async def run_as_an_operator(
    module: str, *arguments: str, environment: Mapping[str, str]
) -> CommandRun:
    """``python -m <module> <arguments>`` in a process of its own, in ``environment``
    (``operator_environment``): what it printed and how it ended."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *arguments,
        env=dict(environment),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    printed, errors = await process.communicate()
    assert process.returncode is not None
    return CommandRun(process.returncode, printed.decode(), errors.decode())


async def rewrap_as_an_operator(
    settings: ServiceSettings,
    *,
    models: str,
    sealing_keys: Mapping[str, str],
    sealing_key_id: str,
) -> str:
    """Run ``python -m servicekit.sealing rewrap --models <models>`` as an operator does once a
    key is added: in a process of its own, with the service's settings from its environment (the
    database and keys of ``settings``, but the keyring ``sealing_keys``, id → base64, and
    ``sealing_key_id`` current). What it printed; it must succeed."""
    settings_class = type(settings)
    run = await run_as_an_operator(
        "servicekit.sealing",
        "rewrap",
        "--settings",
        f"{settings_class.__module__}:{settings_class.__name__}",
        "--models",
        models,
        environment=operator_environment(
            settings, sealing_keys=sealing_keys, sealing_key_id=sealing_key_id
        ),
    )
    assert run.returncode == 0, run.errors
    return run.printed


@pytest.fixture
def problem() -> Callable[[httpx.Response, int, str], dict[str, Any]]:
    """Assert that a response is a problem with the given status and code; return its body."""

    def check(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        body: dict[str, Any] = response.json()
        assert body["code"] == code, body
        assert body["status"] == status
        return body

    return check
