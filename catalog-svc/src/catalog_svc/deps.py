"""catalog-svc's state and the dependencies endpoints read it through: the kit's parts with
settings typed as ``CatalogSettings``, the holder of the snapshot reads are answered from, the
board of the items' live quality, and the reload a publication asks for after its commit."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request

from catalog_svc.quality.board import QualityBoard
from catalog_svc.settings import CatalogSettings
from catalog_svc.snapshot import CatalogHolder, CatalogSnapshot
from servicekit.state import ServiceState, state_of

log = structlog.get_logger("catalog_svc.deps")


@dataclass(eq=False, kw_only=True)
class CatalogState(ServiceState):
    settings: CatalogSettings
    catalog: CatalogHolder
    #: Each item's live quality, by department.
    quality: QualityBoard


# Each alias reads the state itself rather than through StateDep: a dependency FastAPI resolves
# costs a request some 20 µs, and the catalogue's reads are the platform's busiest.


async def _state(request: Request) -> CatalogState:
    return state_of(request, CatalogState)


async def _settings(request: Request) -> CatalogSettings:
    return state_of(request, CatalogState).settings


async def _snapshot(request: Request) -> CatalogSnapshot:
    return state_of(request, CatalogState).catalog.snapshot


async def _quality(request: Request) -> QualityBoard:
    return state_of(request, CatalogState).quality


StateDep = Annotated[CatalogState, Depends(_state)]
SettingsDep = Annotated[CatalogSettings, Depends(_settings)]
#: The snapshot current when the request started; the request reads that one throughout.
SnapshotDep = Annotated[CatalogSnapshot, Depends(_snapshot)]
#: Each item's live quality.
QualityDep = Annotated[QualityBoard, Depends(_quality)]


class SnapshotRefresh:
    """Asked for by a request that publishes or withdraws an item; done once the request's
    transaction has committed, before the answer is sent, so that the next read in this
    process already sees the change."""

    def __init__(self) -> None:
        self.wanted = False

    def after_commit(self) -> None:
        self.wanted = True


async def _refresh_after_commit(request: Request) -> AsyncIterator[SnapshotRefresh]:
    # Declared on the router, this dependency is entered before the request's session and so
    # left after it: after the commit. An error (the endpoint's or the commit's) is raised here
    # at the yield and skips the reload.
    refresh = SnapshotRefresh()
    yield refresh
    if not refresh.wanted:
        return
    state = state_of(request, CatalogState)
    try:
        await state.catalog.reload_items(state.database)
    except Exception:  # committed already: the watch reloads at its next check
        log.exception("catalog_items_reload_failed")


#: Router dependency of every route that may publish or withdraw (``dependencies=[...]``, so
#: that it is entered before the session) and parameter of those that do (the same object).
SnapshotRefreshDepends = Depends(_refresh_after_commit, scope="function")
SnapshotRefreshDep = Annotated[SnapshotRefresh, SnapshotRefreshDepends]
