"""case-svc's application: lifespan, routers, error handlers — nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from case_svc.cases.endpoints import router as cases_router
from case_svc.deps import CaseState
from case_svc.models import IdempotencyRecord
from case_svc.settings import CaseSettings
from servicekit.app import build_app
from servicekit.auth import JwksSource
from servicekit.db import utcnow
from servicekit.state import ServiceState


@asynccontextmanager
async def _lifespan(app: FastAPI, kit: ServiceState) -> AsyncIterator[CaseState]:
    # The clock case numbers and deadlines are read from; tests replace it with a fixed one.
    yield CaseState.over(kit, clock=utcnow)


def create_app(settings: CaseSettings | None = None, *, jwks: JwksSource | None = None) -> FastAPI:
    return build_app(
        settings or CaseSettings(),
        title="OneVisit case-svc",
        routers=[cases_router],
        lifespan=_lifespan,
        jwks=jwks,
        idempotency_records=IdempotencyRecord,
    )
