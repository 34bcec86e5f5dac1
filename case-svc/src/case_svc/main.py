"""case-svc's application: lifespan, routers, error handlers — nothing else."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI

from case_svc.cases import handling
from case_svc.cases.endpoints import router as cases_router
from case_svc.deps import CaseState
from case_svc.models import IdempotencyRecord
from case_svc.settings import CaseSettings
from case_svc.supervision.endpoints import router as supervision_router
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import utcnow
from servicekit.state import ServiceState


@asynccontextmanager
async def _lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[CaseState]:
    # The clock case numbers and deadlines are read from; tests replace it with a fixed one.
    state = CaseState.over(kit, clock=utcnow)
    settings = state.settings
    deeming = (
        asyncio.create_task(
            handling.keep_accepting_undecided_intakes(
                kit.database.sessionmaker,
                lambda: state.clock(),
                every_seconds=settings.deemed_acceptance_seconds,
            ),
            name="deemed-acceptance",
        )
        if settings.deemed_acceptance_seconds > 0
        else None
    )
    try:
        yield state
    finally:
        if deeming is not None:
            deeming.cancel()
            with suppress(asyncio.CancelledError):
                await deeming


def create_app(settings: CaseSettings | None = None, *, jwks: JwksSource | None = None) -> FastAPI:
    return build_app(
        settings or CaseSettings(),
        title="OneVisit case-svc",
        routers=[cases_router, supervision_router],
        lifespan=_lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
