"""Reloading the routing table (SIGHUP, or its file changing): new requests follow the new
table at once, requests in flight finish where they started, and a table that does not load
leaves the running one."""

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from gateway.main import Gateway, create_app
from gateway.settings import GatewaySettings


def _serving(routes: Path, services: dict[str, Any], *, watch_seconds: float = 0.0) -> Gateway:
    # Catalog's upstreams come from the file, so that rewriting the file moves them. The file
    # is watched only in the test of watching, so that the others show what they say they do.
    overrides = {name: fake.url for name, fake in services.items() if name != "catalog"}
    return create_app(
        GatewaySettings(
            environment="test",
            routes_file=routes,
            upstreams=overrides,
            routes_watch_seconds=watch_seconds,
            freeze_startup_objects=False,
        )
    )


def _client(gateway: Gateway) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gateway), base_url="http://gateway.test"
    )


async def test_a_reload_sends_new_requests_to_the_new_table_and_lets_old_ones_finish(
    routes_with: Callable[..., Path], services: dict[str, Any]
) -> None:
    routes = routes_with(catalog={"upstreams": [services["catalog"].url]})
    gateway = _serving(routes, services)
    async with gateway.running(), _client(gateway) as client:
        in_flight = asyncio.create_task(client.get("/catalog/v1/slow"))
        for _ in range(500):  # until the slow request has reached the catalog instance
            if "/catalog/v1/slow" in services["catalog"].received:
                break
            await asyncio.sleep(0.01)
        routes_with(catalog={"upstreams": [services["rating"].url]})  # rewrites the file
        assert await gateway.reload()
        moved = await client.get("/catalog/v1/items")
        assert moved.json()["service"] == "rating"
        services["catalog"].release_slow.set()
        finished = await in_flight
        assert (finished.status_code, finished.json()) == (200, {"status": "late"})


async def test_a_table_that_does_not_load_leaves_the_running_one(
    routes_with: Callable[..., Path], services: dict[str, Any]
) -> None:
    routes = routes_with(catalog={"upstreams": [services["catalog"].url]})
    gateway = _serving(routes, services)
    async with gateway.running(), _client(gateway) as client:
        routes.write_text("[[services]]\nname = 'catalog'\n", encoding="utf-8")
        assert not await gateway.reload()
        kept = await client.get("/catalog/v1/items")
        assert kept.json()["service"] == "catalog"


async def test_sighup_reloads_the_table(
    routes_with: Callable[..., Path], services: dict[str, Any]
) -> None:
    routes = routes_with(catalog={"upstreams": [services["catalog"].url]})
    gateway = _serving(routes, services)
    async with gateway.running(), _client(gateway) as client:
        routes_with(catalog={"upstreams": [services["rating"].url]})
        os.kill(os.getpid(), signal.SIGHUP)
        for _ in range(200):
            answer = await client.get("/catalog/v1/items")
            if answer.json()["service"] == "rating":
                break
            await asyncio.sleep(0.01)
        assert answer.json()["service"] == "rating"


async def test_a_change_of_the_file_reloads_the_table(
    routes_with: Callable[..., Path], services: dict[str, Any]
) -> None:
    routes = routes_with(catalog={"upstreams": [services["catalog"].url]})
    gateway = _serving(routes, services, watch_seconds=0.02)
    async with gateway.running(), _client(gateway) as client:
        assert (await client.get("/catalog/v1/items")).json()["service"] == "catalog"
        routes_with(catalog={"upstreams": [services["rating"].url]})  # rewrites the file
        for _ in range(500):
            answer = await client.get("/catalog/v1/items")
            if answer.json()["service"] == "rating":
                break
            await asyncio.sleep(0.01)
        assert answer.json()["service"] == "rating"
