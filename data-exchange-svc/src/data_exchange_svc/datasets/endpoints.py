"""HTTP endpoints of a provider's bulk load and of the record changes held for a data steward:
parse, identify the caller, delegate."""

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from data_exchange_svc.datasets import changes, service
from data_exchange_svc.datasets.changes import (
    DataStewardRequired,
    RecordChangeNotFound,
    RecordChangeNotPending,
)
from data_exchange_svc.datasets.schemas import (
    LoadRead,
    RecordBatch,
    RecordChangeDecided,
    RecordChangePage,
    RecordChangeRead,
    RecordChangeRefuse,
)
from data_exchange_svc.datasets.service import (
    InvalidRecords,
    Loaded,
    NotTheOwner,
)
from data_exchange_svc.deps import (
    CatalogueDep,
    DepartmentCallerDep,
    IdentifiersDep,
    LedgerDep,
    ProviderSystemDep,
    PublicationDep,
    SettingsDep,
    StaffDep,
)
from data_exchange_svc.ledger.service import receipt_document
from data_exchange_svc.models import RecordChange
from data_exchange_svc.resources.service import ResourceNotFound, ResourceNotServed
from data_exchange_svc.resources.values import today_in_china
from servicekit.auth import requires_scopes
from servicekit.db import SessionDep, utcnow
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.problems import OutsideJurisdiction

router = APIRouter(prefix="/exchange/v1/resources", tags=["hosted datasets"])
changes_router = APIRouter(prefix="/exchange/v1/record-changes", tags=["hosted datasets"])


def _load_view(code: str, records: int, loaded: Loaded) -> LoadRead:
    counts = loaded.counts
    latest = max(loaded.receipts, key=lambda receipt: receipt.tree_head.tree_size)
    return LoadRead.model_validate(
        {
            "resource": code,
            "records": records,
            "subjects": counts.created + counts.replaced,
            "created": counts.created,
            "replaced": counts.replaced,
            "rows": counts.rows,
            "ledger_entries": [receipt.entry.seq for receipt in loaded.receipts],
            "tree_head": receipt_document(latest)["tree_head"],
        }
    )


def _change_view(change: RecordChange) -> RecordChangeRead:
    return RecordChangeRead.model_validate(
        {
            "id": change.id,
            "resource": change.resource_code,
            "department": change.department,
            "requested_by": change.requested_by,
            "status": change.status,
            "records": change.record_count,
            "changes": change.changes,
            "created_at": change.created_at,
            "decided_by": change.decided_by,
            "decided_at": change.decided_at,
            "decision_note": change.decision_note,
        }
    )


@router.post(
    "/{code}/records",
    dependencies=[requires_scopes("exchange:loads")],
    response_model=LoadRead,
    responses={
        202: {
            "model": RecordChangeRead,
            "description": "Held: the batch changes identity-critical fields of subjects "
            "already held, and waits for a data steward (see /exchange/v1/record-changes)",
        },
        **problem_responses(
            NotTheOwner, OutsideJurisdiction, ResourceNotFound, ResourceNotServed, InvalidRecords
        ),
    },
)
async def load_records(
    code: str,
    batch: RecordBatch,
    principal: ProviderSystemDep,
    session: SessionDep,
    protector: IdentifiersDep,
    catalogue: CatalogueDep,
    ledger: LedgerDep,
    publication: PublicationDep,
) -> LoadRead | Response:
    """Load (insert or replace) the records of the subjects named: a department system of the
    department type that owns the resource, for subjects within its region only (403
    ``outside_jurisdiction``). Per subject, the batch's rows replace the ones held, so loading a
    batch again changes nothing. All or nothing: one bad record refuses the batch (422
    ``invalid_record``, each error naming the record's index and the field).

    Every subject written is an entry in the ledger (kind ``load``), in her access log. A batch
    that changes an identity-critical field (a name, a face template, a legal representative)
    of a subject already held is not loaded: it is held (202) until a data steward approves
    it.

    A batch that records a life event (a birth, a marriage: ``/exchange/v1/subscriptions``)
    publishes it to the departments subscribed, and tells the platform for an offer."""
    assessed = await service.prepare(
        session,
        principal,
        code,
        batch.records,
        protector=protector,
        catalogue=catalogue,
        today=today_in_china(),
    )
    if assessed.changes:
        change = await changes.hold(
            session, principal, assessed, batch.records, protector=protector
        )
        return JSONResponse(
            _change_view(change).model_dump(mode="json"),
            status_code=202,
            headers={"Location": f"/exchange/v1/record-changes/{change.id}"},
        )
    loaded = await service.write(
        session,
        assessed,
        actor=principal.sub,
        protector=protector,
        ledger=ledger,
        publication=publication,
    )
    return _load_view(code, len(batch.records), loaded)


@changes_router.get(
    "",
    dependencies=[requires_scopes("exchange:loads")],
    response_model=RecordChangePage,
    responses=problem_responses(InvalidCursor),
)
async def list_record_changes(
    principal: DepartmentCallerDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    status: Annotated[Literal["pending", "approved", "refused"] | None, Query()] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> RecordChangePage:
    """A data steward's queue: the changes of departments of their type at or below their
    region, newest first. Anyone else sees their own department's."""
    found = await changes.page(
        session,
        principal,
        status=status,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )
    return RecordChangePage(
        items=[_change_view(change) for change in found.changes], next_cursor=found.next_cursor
    )


@changes_router.get(
    "/{change_id}",
    dependencies=[requires_scopes("exchange:loads")],
    response_model=RecordChangeRead,
    responses=problem_responses(RecordChangeNotFound),
)
async def get_record_change(
    change_id: uuid.UUID, principal: DepartmentCallerDep, session: SessionDep
) -> RecordChangeRead:
    return _change_view(await changes.read(session, principal, change_id))


@changes_router.post(
    "/{change_id}/approve",
    response_model=RecordChangeDecided,
    responses=problem_responses(
        RecordChangeNotFound,
        DataStewardRequired,
        RecordChangeNotPending,
        OutsideJurisdiction,
        InvalidRecords,
    ),
)
async def approve_record_change(
    change_id: uuid.UUID,
    principal: StaffDep,
    session: SessionDep,
    protector: IdentifiersDep,
    ledger: LedgerDep,
    publication: PublicationDep,
) -> RecordChangeDecided:
    """A data steward over the requesting department (not its sender) loads the batch as sent,
    checked again against the records as they are now; its ledger entries name the steward."""
    change, loaded = await changes.approve(
        session,
        principal,
        change_id,
        protector=protector,
        ledger=ledger,
        publication=publication,
        now=utcnow(),
        today=today_in_china(),
    )
    view = _change_view(change)
    return RecordChangeDecided(
        **view.model_dump(), load=_load_view(change.resource_code, change.record_count, loaded)
    )


@changes_router.post(
    "/{change_id}/refuse",
    response_model=RecordChangeDecided,
    responses=problem_responses(RecordChangeNotFound, DataStewardRequired, RecordChangeNotPending),
)
async def refuse_record_change(
    change_id: uuid.UUID,
    decision: RecordChangeRefuse,
    principal: StaffDep,
    session: SessionDep,
) -> RecordChangeDecided:
    change = await changes.refuse(
        session, principal, change_id, reason=decision.reason, now=utcnow()
    )
    return RecordChangeDecided(**_change_view(change).model_dump())
