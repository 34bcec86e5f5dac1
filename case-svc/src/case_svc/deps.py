"""case-svc's state and the dependencies endpoints read it through: the settings, the clock
case numbers and deadlines are read from (tests hold it still), the store of materials and the
service's own token."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from case_svc.clients.catalog import CatalogReads
from case_svc.clients.exchange import ServiceToken
from case_svc.materials.storage import MaterialStore
from case_svc.settings import CaseSettings
from servicekit.events import Outbox
from servicekit.state import ServiceState, state_of

Clock = Callable[[], dt.datetime]


@dataclass(eq=False, kw_only=True)
class CaseState(ServiceState):
    settings: CaseSettings
    clock: Clock
    #: Where the events of each change are written (``case_svc.events``).
    outbox: Outbox
    #: The catalog's items and handlers applications are filed with, kept a while.
    catalog_reads: CatalogReads
    #: Where the content of materials is kept, sealed: opened and closed by the materials
    #: router's own lifespan (``case_svc.materials.endpoints``), inside the app's.
    material_store: MaterialStore | None = None
    #: case-svc's own token (client credentials), for the calls it makes as itself: the
    #: exchange's certificate reads, the relay's deliveries. None without a client secret.
    service_token: ServiceToken | None = None


# Each alias reads the state itself rather than through StateDep: a dependency FastAPI resolves
# costs a request some 20 µs.


async def _state(request: Request) -> CaseState:
    return state_of(request, CaseState)


async def _settings(request: Request) -> CaseSettings:
    return state_of(request, CaseState).settings


async def _now(request: Request) -> dt.datetime:
    return state_of(request, CaseState).clock()


async def _outbox(request: Request) -> Outbox:
    return state_of(request, CaseState).outbox


async def _catalog_reads(request: Request) -> CatalogReads:
    return state_of(request, CaseState).catalog_reads


async def _material_store(request: Request) -> MaterialStore:
    store = state_of(request, CaseState).material_store
    if store is None:
        raise RuntimeError("the material store is not open: is the materials router included?")
    return store


async def _service_token(request: Request) -> ServiceToken | None:
    return state_of(request, CaseState).service_token


StateDep = Annotated[CaseState, Depends(_state)]
OutboxDep = Annotated[Outbox, Depends(_outbox)]
CatalogReadsDep = Annotated[CatalogReads, Depends(_catalog_reads)]
SettingsDep = Annotated[CaseSettings, Depends(_settings)]
MaterialStoreDep = Annotated[MaterialStore, Depends(_material_store)]
ServiceTokenDep = Annotated[ServiceToken | None, Depends(_service_token)]
#: The time of the request, on the service's clock.
NowDep = Annotated[dt.datetime, Depends(_now)]
