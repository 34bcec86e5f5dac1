"""The change feed: ``GET /catalog/v1/items?changed_since=`` lists what a seed changed, oldest
change first, so that other services and clients can sync."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from catalog_svc.models import ReferenceDataset, ServiceItem
from catalog_svc.seed import seed
from servicekit.db import utcnow

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

ITEMS = "/catalog/v1/items"


async def _feed(client: httpx.AsyncClient, since: str) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    params: dict[str, str | int] = {"changed_since": since, "limit": 50}
    while True:
        response = await client.get(ITEMS, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        changes += body["items"]
        if body["next_cursor"] is None:
            return changes
        params = {**params, "cursor": body["next_cursor"]}


async def test_from_the_beginning_the_feed_lists_every_item_once_oldest_change_first(
    client: httpx.AsyncClient,
) -> None:
    changes = await _feed(client, "2000-01-01T00:00:00Z")
    codes = [change["code"] for change in changes]
    assert len(codes) == len(set(codes)) >= 430
    order = [(change["changed_at"], change["code"]) for change in changes]
    assert order == sorted(order)
    assert set(changes[0]) == {"code", "name", "version", "status", "changed_at"}


async def test_a_feed_from_now_is_empty(client: httpx.AsyncClient) -> None:
    assert await _feed(client, utcnow().isoformat()) == []


async def test_after_a_seed_the_feed_holds_exactly_what_it_changed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    code = "public_security.passport_issuance"
    sessionmaker = app.state.service.database.sessionmaker
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ServiceItem).where(ServiceItem.code == code).values(name="旧名称")
        )
        await session.execute(update(ReferenceDataset).values(fingerprint="stale"))
    before_seed = utcnow()
    async with sessionmaker.begin() as session:
        await seed(session, app.state.service.settings)
    changes = await _feed(client, before_seed.isoformat())
    assert [(change["code"], change["name"]) for change in changes] == [(code, "普通护照签发")]
    async with sessionmaker.begin() as session:  # seeding again changes nothing more
        await seed(session, app.state.service.settings)
    assert len(await _feed(client, before_seed.isoformat())) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"changed_since": "2000-01-01T00:00:00Z", "q": "身份证"}, "changed_since_with_search"),
        ({"changed_since": "2000-01-01T00:00:00Z", "tier": "city"}, "changed_since_with_search"),
        ({"changed_since": "yesterday"}, "validation_failed"),
    ],
)
async def test_bad_feed_requests_are_refused(
    client: httpx.AsyncClient, problem: Problem, params: dict[str, str], code: str
) -> None:
    problem(await client.get(ITEMS, params=params), 422, code)


async def test_a_cursor_the_feed_did_not_give_is_refused(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    params = {"changed_since": "2000-01-01T00:00:00Z", "cursor": "e30"}
    problem(await client.get(ITEMS, params=params), 400, "invalid_cursor")


async def test_a_cursor_only_continues_its_own_feed(
    client: httpx.AsyncClient, problem: Problem
) -> None:
    first = await client.get(ITEMS, params={"changed_since": "2000-01-01T00:00:00Z", "limit": 1})
    cursor = first.json()["next_cursor"]
    other = await client.get(
        ITEMS, params={"changed_since": "2001-01-01T00:00:00Z", "limit": 1, "cursor": cursor}
    )
    problem(other, 400, "invalid_cursor")
