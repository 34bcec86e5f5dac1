"""The state object build_app holds: the kit's parts, or the service's own built over them by
its lifespan hook, reached by dependencies and nowhere else."""

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request

from servicekit.app import build_app
from servicekit.http import HttpDep
from servicekit.settings import ServiceSettings
from servicekit.state import ServiceState, app_state, state_of

Clock = Callable[[], dt.datetime]
NOON = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


@dataclass(eq=False, kw_only=True)
class ClockedState(ServiceState):
    clock: Clock


async def _clock(request: Request) -> Clock:
    return state_of(request, ClockedState).clock


router = APIRouter()


@router.get("/now")
async def now(clock: Annotated[Clock, Depends(_clock)]) -> dict[str, str]:
    return {"now": clock().isoformat()}


@router.get("/gateway")
async def gateway(http: HttpDep) -> dict[str, str]:
    return {"base_url": str(http.base_url)}


def _settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(
        service_name="state-test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'state.db'}",
        gateway_url="http://gateway.test",
    )


@asynccontextmanager
async def _clocked(app: FastAPI, kit: ServiceState) -> AsyncIterator[ClockedState]:
    yield ClockedState.over(kit, clock=lambda: NOON)


async def test_the_hooks_state_is_the_apps_while_it_runs_and_keeps_the_kits_parts(
    tmp_path: Path,
) -> None:
    app = build_app(_settings(tmp_path), title="state test", routers=[router], lifespan=_clocked)
    with pytest.raises(RuntimeError, match="is it started"):
        app_state(app, ServiceState)
    async with app.router.lifespan_context(app):
        state = app_state(app, ClockedState)
        assert state.settings.service_name == "state-test"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/now")).json() == {"now": NOON.isoformat()}
            assert (await client.get("/gateway")).json() == {"base_url": "http://gateway.test"}
            assert (await client.get("/readyz")).status_code == 200
    assert state.http.is_closed


async def test_without_a_hook_the_kits_state_is_the_apps(tmp_path: Path) -> None:
    app = build_app(_settings(tmp_path), title="state test", routers=[router])
    async with app.router.lifespan_context(app):
        assert type(app_state(app, ServiceState)) is ServiceState
        with pytest.raises(RuntimeError, match="no ClockedState"):
            app_state(app, ClockedState)
