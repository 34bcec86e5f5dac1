"""The in-memory snapshot that region lookups, handler resolution and search read: it follows a
new seed without a restart, and serves lookups without the database."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from catalog_svc.models import Department, ReferenceDataset, Region, ServiceItem
from catalog_svc.seed import DATASET_NAME
from catalog_svc.snapshot import CatalogHolder
from servicekit.db import Database

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

ID_CARD_LOSS = "public_security.id_card_loss_report"
HANDLER = f"/catalog/v1/items/{ID_CARD_LOSS}/handler?region=330302026003"


async def test_an_unchanged_fingerprint_keeps_the_snapshot(app: FastAPI) -> None:
    holder: CatalogHolder = app.state.service.catalog
    database: Database = app.state.service.database
    before = holder.snapshot
    async with database.sessionmaker() as session:
        assert not await holder.refresh_if_changed(session)
    assert holder.snapshot is before


async def test_a_new_seed_is_served_once_the_fingerprint_changes(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    holder: CatalogHolder = app.state.service.catalog
    database: Database = app.state.service.database
    async with database.sessionmaker() as session:
        region = await session.get(Region, "330302026003")
        department = await session.get(Department, "330302-public_security")
        dataset = await session.get(ReferenceDataset, DATASET_NAME)
        assert region is not None
        assert department is not None
        assert dataset is not None
        region.name = "庆年坊社区（新）"
        department.name = "鹿城区公安（新）"
        await session.flush()
        # Rows changed but the fingerprint did not: the snapshot stays as it was.
        assert not await holder.refresh_if_changed(session)
        assert (await client.get("/catalog/v1/regions/330302026003")).json()["name"] == "庆年坊社区"

        dataset.fingerprint = "a-later-load"
        await session.flush()
        assert await holder.refresh_if_changed(session)
        assert (await client.get("/catalog/v1/regions/330302026003")).json()[
            "name"
        ] == "庆年坊社区（新）"
        handler = (await client.get(HANDLER)).json()
        assert handler["department"]["name"] == "鹿城区公安（新）"
        await session.rollback()
    async with database.sessionmaker() as session:
        assert await holder.refresh_if_changed(session)
    assert (await client.get("/catalog/v1/regions/330302026003")).json()["name"] == "庆年坊社区"


async def test_lookups_are_answered_without_the_database(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    database: Database = app.state.service.database
    await database.dispose()  # any query from here on would open a new connection: count them
    opened: list[object] = []

    def count(*_: object) -> None:
        opened.append(None)

    event.listen(database.engine.sync_engine, "connect", count)
    try:
        assert (await client.get("/catalog/v1/regions/330302026003")).status_code == 200
        assert (await client.get(HANDLER)).status_code == 200
        assert (
            await client.get("/catalog/v1/items", params={"q": "身份证丢了"})
        ).status_code == 200
    finally:
        event.remove(database.engine.sync_engine, "connect", count)
    assert opened == []


@pytest.mark.parametrize(
    ("params", "sessions"),
    [
        ({"q": "身份证丢了"}, 0),
        ({"q": "公积金", "region": "330302", "tier": "city"}, 0),
        ({}, 0),  # browsing
        ({"changed_since": "2000-01-01T00:00:00Z", "limit": 5}, 1),
    ],
)
async def test_a_search_opens_no_database_session_and_the_change_feed_one(
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    params: dict[str, str],
    sessions: int,
) -> None:
    database: Database = app.state.service.database
    opened: list[object] = []
    sessionmaker = database.sessionmaker

    def counting_sessionmaker() -> object:
        opened.append(None)
        return sessionmaker()

    monkeypatch.setattr(database, "sessionmaker", counting_sessionmaker)
    response = await client.get("/catalog/v1/items", params=params)
    assert response.status_code == 200, response.text
    assert len(opened) == sessions


async def test_a_withdrawn_item_is_known_but_no_longer_offered(
    app: FastAPI, client: httpx.AsyncClient, problem: Problem
) -> None:
    holder: CatalogHolder = app.state.service.catalog
    database: Database = app.state.service.database
    async with database.sessionmaker() as session:
        item = await session.get(ServiceItem, ID_CARD_LOSS)
        dataset = await session.get(ReferenceDataset, DATASET_NAME)
        assert item is not None
        assert dataset is not None
        item.status = "withdrawn"
        dataset.fingerprint = "a-load-without-the-item"
        await session.flush()
        assert await holder.refresh_if_changed(session)
        body = problem(await client.get(HANDLER), 422, "item_not_offered_in_region")
        assert body["offered_in"] == []
        search = (await client.get("/catalog/v1/items", params={"q": "身份证挂失"})).json()
        assert ID_CARD_LOSS not in [found["code"] for found in search["items"]]
        await session.rollback()
    async with database.sessionmaker() as session:
        assert await holder.refresh_if_changed(session)
    assert (await client.get(HANDLER)).status_code == 200
