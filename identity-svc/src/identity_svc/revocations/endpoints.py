"""HTTP endpoint of the revocation list, which the gateway polls."""

import datetime as dt

from fastapi import APIRouter, Response

from identity_svc.deps import RuntimeDep
from identity_svc.revocations import service
from identity_svc.revocations.schemas import RevocationList, RevocationRead
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor

router = APIRouter(prefix="/identity/v1/revocations", tags=["tokens"])


@router.get("", response_model=RevocationList, responses=problem_responses(InvalidCursor))
async def revocations(
    session: SessionDep,
    cursors: CursorsDep,
    runtime: RuntimeDep,
    response: Response,
    cursor: CursorQuery = None,
) -> RevocationList:
    """Access tokens ended before their expiry, for verifiers to refuse: without a cursor every
    entry in force, with the ``next_cursor`` of the previous answer what was recorded since
    (an entry may come twice; it means the same). The gateway asks every few seconds, straight
    from identity-svc's instances; through the gateway, a service's token is needed. It holds
    ids only: sessions' and clients'."""
    response.headers["Cache-Control"] = "no-store"
    entries, next_cursor = await service.published(session, cursors, cursor, now=runtime.now())
    return RevocationList(
        items=[
            RevocationRead(
                kind=entry.kind,
                id=entry.id,
                issued_up_to=entry.issued_up_to,
                generations_below=entry.generations_below,
                expires_at=dt.datetime.fromtimestamp(entry.expires_at, dt.UTC),
            )
            for entry in entries
        ],
        next_cursor=next_cursor,
    )
