"""A database that drops its connections under load: every request that loses its connection
is answered 503 ``database_unavailable`` with ``Retry-After`` (never 500), and a keyed retry of
each submission ends with exactly one case per key, nothing lost or doubled."""

import asyncio
import os
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from case_svc.models import Case
from servicekit.testing import POSTGRES_ENV, bearer

LUCHENG = "330302"
SUBMISSIONS = 60
CONCURRENCY = 8
TERMINATIONS = 3

TERMINATE = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
    " WHERE datname = :database AND pid <> pg_backend_pid()"
)


@pytest.fixture
def on_postgresql(database_url: str) -> str:
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("terminating server connections is a PostgreSQL test")
    database = make_url(database_url).database
    assert database is not None
    return database


async def test_terminated_connections_answer_503_and_keyed_retries_file_each_case_once(
    on_postgresql: str,
    client: httpx.AsyncClient,
    app: Any,
    catalog: Any,
    resident: str,
    database_url: str,
) -> None:
    keys = [str(uuid.uuid4()) for _ in range(SUBMISSIONS)]
    body = {"item_code": catalog.loss_report, "form": catalog.valid_form(catalog.loss_report)}
    statuses: list[int] = []
    unavailable: list[httpx.Response] = []
    pending: asyncio.Queue[str] = asyncio.Queue()
    for key in keys:
        pending.put_nowait(key)
    filed: dict[str, str] = {}

    async def submitter() -> None:
        while not pending.empty():
            key = pending.get_nowait()
            while True:  # a phone retries with its key until it has an answer
                response = await client.post(
                    "/cases/v1/cases",
                    json=body,
                    # Straight to the instance of Lucheng, the bureau's region, as the app
                    # sends it: the outage is this instance's own.
                    headers={
                        **bearer(resident),
                        "Idempotency-Key": key,
                        "X-Region-Code": LUCHENG,
                    },
                )
                statuses.append(response.status_code)
                if response.status_code == 503:
                    unavailable.append(response)
                    continue
                if response.status_code == 409:  # its twin is in flight: wait as told
                    await asyncio.sleep(0.05)
                    continue
                assert response.status_code == 201, response.text
                filed[key] = response.json()["case_no"]
                break

    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")

    async def terminator() -> None:
        for _ in range(TERMINATIONS):
            await asyncio.sleep(0.15)
            async with admin.connect() as connection:
                await connection.execute(TERMINATE, {"database": on_postgresql})

    try:
        await asyncio.gather(terminator(), *(submitter() for _ in range(CONCURRENCY)))
    finally:
        await admin.dispose()

    assert 500 not in statuses
    assert unavailable, "no request was in flight when the connections were terminated"
    for response in unavailable:
        assert response.json()["code"] == "database_unavailable"
        assert response.headers["retry-after"] == "1"
    assert len(filed) == SUBMISSIONS
    assert len(set(filed.values())) == SUBMISSIONS
    async with app.state.service.database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Case)) == SUBMISSIONS
