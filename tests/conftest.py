"""The end-to-end suite: the six services as real processes on free ports, and a second
case-svc for Wenzhou (``WENZHOU_CASE``, tier routing), talking real HTTP through the gateway,
each with a fresh database of its own: SQLite files, and PostgreSQL databases as well when
``ONEVISIT_TEST_POSTGRES_URL`` names a server."""

import asyncio
import csv
import os
import secrets
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from data_exchange_svc.registry.faces import simulated_capture, template_from_seed
from identity_svc.models import Account
from onevisit_dev import browser as browsers
from onevisit_dev.platform import (
    REPO_ROOT,
    SERVICES,
    WENZHOU_CASE,
    Platform,
    PlatformConfig,
    running_platform,
)
from servicekit.testing import POSTGRES_ENV

POPULATION = REPO_ROOT / "data-exchange-svc/data/population.csv"

#: The platform administrator the identity seed creates (synthetic), who makes the staff accounts
#: the stories need.
PLATFORM_ADMIN_PHONE = "13700000001"
PLATFORM_ADMIN_PASSWORD = "Platform-Admin-2026"


#: Modules that call every operation of the document on the platform the stories share, in the
#: order they run after the stories: the authorisation matrix and the bad-input corpus (on
#: resources of their own), then the contract run, which sends whatever the document allows, the
#: demo citizen's documented ID number among it (a real-name check with her number binds it to
#: its own account), so that it must come after them all.
EVERY_OPERATION = ("test_authorization_matrix.py", "test_bad_input.py", "test_contract.py")


def _platform_order(item: pytest.Item) -> tuple[int, int]:
    """Every test of one platform together (it starts once per backend, not once per group of
    modules), and within it the stories before ``EVERY_OPERATION``'s modules, in their order."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("platform") if callspec is not None else None
    backends = (None, "sqlite", "postgresql")
    name = item.path.name
    module = EVERY_OPERATION.index(name) + 1 if name in EVERY_OPERATION else 0
    return backends.index(backend) if backend in backends else 0, module


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=_platform_order)


async def _create_or_drop(names: list[str], *, create: bool) -> None:
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            for name in names:
                statement = (
                    f'CREATE DATABASE "{name}"'
                    if create
                    else (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )
                await connection.execute(text(statement))
    finally:
        await admin.dispose()


#: The load balancer in front of the gateway, as the tests play it: a client connecting from
#: this loopback address (every other test's client connects from 127.0.0.1, an untrusted peer).
LOAD_BALANCER = "127.0.0.2"


@pytest.fixture(
    scope="session", params=["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]
)
def platform(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    config = PlatformConfig.on_free_ports(
        tmp_path_factory.mktemp(f"platform-{request.param}"), regional=(WENZHOU_CASE,)
    )
    config.trusted_proxies = (LOAD_BALANCER,)
    # The first platform administrator, as an operator seeds one: the department and admin
    # planes' tests appoint staff and register systems through it.
    config.extra_env.update(
        {
            "IDENTITY_SEED_ADMIN_PHONE": PLATFORM_ADMIN_PHONE,
            "IDENTITY_SEED_ADMIN_PASSWORD": PLATFORM_ADMIN_PASSWORD,
            # Deadlines watched each second, so a test that moves a case's clock by hand sees
            # case-svc act on it at once (the default is a minute).
            "CASE_DEADLINE_WATCH_SECONDS": "1",
            # Rectification steps likewise, for the escalation of an overdue call-back.
            "RATING_RECTIFICATION_WATCH_SECONDS": "1",
            # And the items' live quality read each second by the catalogue's processes.
            "CATALOG_QUALITY_REFRESH_SECONDS": "1",
            # A department's endpoint that was down is tried again within two seconds of
            # coming back (the default backoff grows to ten minutes).
            "EXCHANGE_OUTBOX_BACKOFF_CAP_SECONDS": "2",
        }
    )
    databases: list[str] = []
    if request.param == "postgresql":
        suffix = secrets.token_hex(4)
        base = make_url(os.environ[POSTGRES_ENV])
        for owner in [*(spec.name for spec in SERVICES), WENZHOU_CASE.name]:
            name = f"ov_e2e_{owner.replace('-', '_')}_{suffix}"
            databases.append(name)
            config.database_urls[owner] = base.set(database=name).render_as_string(False)
        asyncio.run(_create_or_drop(databases, create=True))
    try:
        with running_platform(config) as running:
            yield running
    finally:
        if databases:
            asyncio.run(_create_or_drop(databases, create=False))


@pytest.fixture
def gateway(platform: Platform) -> Iterator[httpx.Client]:
    """A client of the gateway, a device of its own (``Platform.client``)."""
    with platform.client() as client:
        yield client


@pytest.fixture
def load_balancer(platform: Platform) -> Iterator[httpx.Client]:
    """A client of the gateway through its trusted load balancer (``LOAD_BALANCER``): the
    ``X-Forwarded-For`` it sends is believed."""
    transport = httpx.HTTPTransport(local_address=LOAD_BALANCER)
    with httpx.Client(
        base_url=platform.config.gateway_url, transport=transport, timeout=30.0
    ) as client:
        yield client


@pytest.fixture(scope="module")
def platform_admin(platform: Platform) -> str:
    """An access token of the platform administrator the identity seed created, signed in once
    for a module's stories."""
    with platform.client() as gateway:
        response = gateway.post(
            "/identity/v1/token",
            data={
                "grant_type": "password",
                "username": PLATFORM_ADMIN_PHONE,
                "password": PLATFORM_ADMIN_PASSWORD,
            },
        )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


FaceOf = Callable[[str], list[float]]


@pytest.fixture(scope="session")
def face_of() -> FaceOf:
    """What the face SDK on a person's phone would hand the app, by her ID number: the
    registry's template of her (synthetic population) plus small noise, cosine ≈ 0.97, like
    ``data-exchange-svc/data/demo_face_capture.json`` for the demo citizen."""
    with POPULATION.open(encoding="utf-8", newline="") as rows:
        seeds = {row["id_number"]: int(row["face_seed"]) for row in csv.DictReader(rows)}

    def capture(id_number: str) -> list[float]:
        seed = seeds[id_number]
        return simulated_capture(template_from_seed(seed), noise_seed=seed + 1, noise=0.022)

    return capture


@pytest.fixture(scope="module")
def end_face_window(platform: Platform) -> Callable[[str], None]:
    """Close an account's window of level 3 (as time passing would): its next sign-in is at
    the level its real name is bound at. Written to identity-svc's database, as a test moves a
    clock."""

    async def close(account_id: str) -> None:
        engine = create_async_engine(platform.config.database_url("identity"))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(Account)
                    .where(Account.id == uuid.UUID(account_id))
                    .values(face_verified_until=None)
                )
        finally:
            await engine.dispose()

    return lambda account_id: asyncio.run(close(account_id))


def _browser(size: tuple[int, int], *, mobile: bool) -> Iterator[object]:
    lacking = browsers.missing()
    if lacking is not None:
        if os.environ.get("ONEVISIT_REQUIRE_BROWSER"):
            pytest.fail(f"the browser tests need {lacking}")
        pytest.skip(f"the browser tests need {lacking} (.ci/run installs them)")
    with browsers.chromium(size, mobile=mobile) as driver:
        yield driver


@pytest.fixture
def browser() -> Iterator[object]:
    """Headless Chromium at a phone's size (``onevisit_dev.browser``)."""
    yield from _browser(browsers.PHONE, mobile=True)


@pytest.fixture
def desk_browser() -> Iterator[object]:
    """Headless Chromium at a desk's size, for the workbench."""
    yield from _browser(browsers.DESK, mobile=False)
