"""catalog-svc's request dependencies: the snapshot reads are answered from, and the reload
a publication asks for after its commit."""

from collections.abc import AsyncIterator
from typing import Annotated

import structlog
from fastapi import Depends, Request

from catalog_svc.snapshot import CatalogHolder, CatalogSnapshot
from servicekit.db import database_of

log = structlog.get_logger("catalog_svc.deps")


def holder_of(request: Request) -> CatalogHolder:
    holder: CatalogHolder = request.app.state.catalog
    return holder


def current_snapshot(request: Request) -> CatalogSnapshot:
    return holder_of(request).snapshot


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
    try:
        await holder_of(request).reload_items(database_of(request))
    except Exception:  # committed already: the watch reloads at its next check
        log.exception("catalog_items_reload_failed")


#: Router dependency of every route that may publish or withdraw (``dependencies=[...]``, so
#: that it is entered before the session) and parameter of those that do (the same object).
SnapshotRefreshDepends = Depends(_refresh_after_commit, scope="function")
SnapshotRefreshDep = Annotated[SnapshotRefresh, SnapshotRefreshDepends]
