"""HTTP endpoints of item administration (staff tokens of catalog administrators): parse,
authorise, delegate, shape.

Every answer carries ``Cache-Control: no-store``: drafts and audit trails are for the
administrators of the item, never for a shared cache.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from catalog_svc.admin import auth, service
from catalog_svc.admin.auth import Administrator, NoCatalogScope, NotCatalogAdministrator
from catalog_svc.admin.schemas import (
    AuditPage,
    DraftRead,
    ItemChanges,
    ItemCreate,
    VersionPage,
)
from catalog_svc.admin.service import (
    ApprovalNotNeeded,
    ApprovalRequired,
    DraftNotFound,
    ItemAlreadyWithdrawn,
    ItemCodeTaken,
    SecondPersonRequired,
)
from catalog_svc.admin.validation import InvalidItem
from catalog_svc.deps import (
    QualityDep,
    SettingsDep,
    SnapshotDep,
    SnapshotRefreshDep,
    SnapshotRefreshDepends,
)
from catalog_svc.items.schemas import ItemRead, item_read
from catalog_svc.items.service import ItemNotFound
from catalog_svc.settings import CatalogSettings
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep, utcnow
from servicekit.idempotency import (
    IdempotencyDep,
)
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size
from servicekit.preconditions import IfMatchHeader, PreconditionFailed, PreconditionRequired
from servicekit.problems import OutsideJurisdiction

router = APIRouter(
    prefix="/catalog/v1/admin/items",
    tags=["administration"],
    # Entered before each route's session, so that a publication reaches the in-memory
    # snapshot after its commit (see snapshot.SnapshotRefresh).
    dependencies=[SnapshotRefreshDepends],
)


async def _administrator(principal: PrincipalDep, snapshot: SnapshotDep) -> Administrator:
    # A dependency, so that the caller is refused before the body is even read.
    return auth.administrator(principal, snapshot)


AdministratorDep = Annotated[Administrator, Depends(_administrator)]


def _answer(body: BaseModel, *, status: int = 200, **headers: str) -> Response:
    return Response(
        body.model_dump_json().encode(),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **headers},
    )


def _draft_headers(draft: DraftRead) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "ETag": service.draft_etag(draft.based_on_version, draft.revision),
    }


def _draft_answer(draft: DraftRead, *, status: int = 200) -> Response:
    return _answer(draft, status=status, **_draft_headers(draft))


def _limit(settings: CatalogSettings, limit: int | None) -> int:
    return page_size(limit, default=settings.admin_default_limit, maximum=settings.admin_max_limit)


@router.post(
    "",
    status_code=201,
    response_model=DraftRead,
    responses=problem_responses(
        NotCatalogAdministrator,
        NoCatalogScope,
        OutsideJurisdiction,
        ItemCodeTaken,
        InvalidItem,
    ),
)
async def create_item(
    payload: ItemCreate,
    by: AdministratorDep,
    claim: IdempotencyDep,
    session: SessionDep,
    snapshot: SnapshotDep,
) -> Response:
    """Create an item of your jurisdiction (your department's type, listed within your region
    and handled at your tier or below): a draft of its version 1, invisible to the public reads
    until published. A retry with the same Idempotency-Key and body answers
    the same draft (with ``Idempotency-Replayed: true``)."""
    if claim.replay is not None:
        return claim.replay
    draft = await service.create_item(
        session, snapshot=snapshot, by=by, payload=payload, now=utcnow()
    )
    return await claim.answer(
        session,
        status=201,
        body=draft.model_dump(mode="json"),
        headers={
            **_draft_headers(draft),
            "Location": f"/catalog/v1/admin/items/{draft.code}/draft",
        },
    )


@router.get(
    "/{code}/draft",
    response_model=DraftRead,
    responses=problem_responses(
        NotCatalogAdministrator, NoCatalogScope, OutsideJurisdiction, ItemNotFound, DraftNotFound
    ),
)
async def get_draft(code: str, by: AdministratorDep, session: SessionDep) -> Response:
    """The item's open draft, with its ETag for the next edit, the approval or the
    publication."""
    return _draft_answer(await service.draft_of(session, by=by, code=code))


@router.post(
    "/{code}/draft",
    status_code=201,
    response_model=DraftRead,
    responses={
        **problem_responses(
            NotCatalogAdministrator, NoCatalogScope, OutsideJurisdiction, ItemNotFound
        ),
        200: {"description": "A draft was open already: that one"},
    },
)
async def open_draft(code: str, by: AdministratorDep, session: SessionDep) -> Response:
    """Open a draft of a published (or withdrawn) item, a copy of its current version; when
    one is open already, answer that one (200)."""
    draft, opened = await service.open_draft(session, by=by, code=code, now=utcnow())
    return _draft_answer(draft, status=201 if opened else 200)


@router.patch(
    "/{code}/draft",
    response_model=DraftRead,
    responses=problem_responses(
        NotCatalogAdministrator,
        NoCatalogScope,
        OutsideJurisdiction,
        ItemNotFound,
        DraftNotFound,
        InvalidItem,
        PreconditionRequired,
        PreconditionFailed,
    ),
)
async def edit_draft(
    code: str,
    changes: ItemChanges,
    by: AdministratorDep,
    session: SessionDep,
    snapshot: SnapshotDep,
    if_match: IfMatchHeader = None,
) -> Response:
    """Change the draft you read: each member given replaces the draft's (a form is replaced
    whole). The result must still be of your jurisdiction, and valid. A change withdraws the
    draft's approval."""
    draft = await service.edit_draft(
        session,
        snapshot=snapshot,
        by=by,
        code=code,
        changes=changes.given(),
        if_match=if_match,
        now=utcnow(),
    )
    return _draft_answer(draft)


@router.post(
    "/{code}/draft/approval",
    response_model=DraftRead,
    responses=problem_responses(
        NotCatalogAdministrator,
        NoCatalogScope,
        OutsideJurisdiction,
        ItemNotFound,
        DraftNotFound,
        ApprovalNotNeeded,
        SecondPersonRequired,
        PreconditionRequired,
        PreconditionFailed,
    ),
)
async def approve_draft(
    code: str, by: AdministratorDep, session: SessionDep, if_match: IfMatchHeader = None
) -> Response:
    """Approve the draft you read, as the second person its changes to ``min_loa``,
    ``handling_tier``, ``fee`` or ``decision_approval`` need (``changes_needing_approval``):
    you are an administrator of the item and made none of those changes. Any administrator of
    the item may then publish it; an edit withdraws the approval. The approval leaves the
    draft's content, and its ETag, as they were; approving again answers the approval given."""
    draft = await service.approve_draft(session, by=by, code=code, if_match=if_match, now=utcnow())
    return _draft_answer(draft)


@router.post(
    "/{code}/publish",
    response_model=ItemRead,
    responses=problem_responses(
        NotCatalogAdministrator,
        NoCatalogScope,
        OutsideJurisdiction,
        ItemNotFound,
        DraftNotFound,
        InvalidItem,
        ApprovalRequired,
        PreconditionRequired,
        PreconditionFailed,
    ),
)
async def publish_draft(
    code: str,
    refresh: SnapshotRefreshDep,
    by: AdministratorDep,
    session: SessionDep,
    snapshot: SnapshotDep,
    quality: QualityDep,
    if_match: IfMatchHeader = None,
) -> Response:
    """Publish the draft you read as the item's next version. The public reads keep serving
    the version before until this commits; from then on the item document, search, handler
    resolution and the change feed show the new one. A draft that changes ``min_loa``,
    ``handling_tier``, ``fee`` or ``decision_approval`` (a new item sets them) needs a second
    administrator's approval first."""
    item = await service.publish_draft(
        session,
        snapshot=snapshot,
        by=by,
        code=code,
        if_match=if_match,
        now=utcnow(),
    )
    refresh.after_commit()
    return _answer(item_read(item, quality), Location=f"/catalog/v1/items/{code}")


@router.post(
    "/{code}/withdraw",
    response_model=ItemRead,
    responses=problem_responses(
        NotCatalogAdministrator,
        NoCatalogScope,
        OutsideJurisdiction,
        ItemNotFound,
        ItemAlreadyWithdrawn,
    ),
)
async def withdraw_item(
    code: str,
    refresh: SnapshotRefreshDep,
    by: AdministratorDep,
    session: SessionDep,
    quality: QualityDep,
) -> Response:
    """Withdraw a published item: search and handler resolution stop offering it and the
    change feed lists it; its code stays. Publishing a draft offers it again."""
    item = await service.withdraw_item(session, by=by, code=code, now=utcnow())
    refresh.after_commit()
    return _answer(item_read(item, quality), Location=f"/catalog/v1/items/{code}")


@router.get(
    "/{code}/versions",
    response_model=VersionPage,
    responses=problem_responses(
        NotCatalogAdministrator, NoCatalogScope, OutsideJurisdiction, ItemNotFound, InvalidCursor
    ),
)
async def list_versions(
    code: str,
    by: AdministratorDep,
    session: SessionDep,
    settings: SettingsDep,
    cursors: CursorsDep,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """The item's published versions, newest first."""
    entries, next_cursor = await service.versions(
        session,
        by=by,
        code=code,
        limit=_limit(settings, limit),
        cursors=cursors,
        cursor=cursor,
    )
    return _answer(VersionPage(items=entries, next_cursor=next_cursor))


@router.get(
    "/{code}/audit",
    response_model=AuditPage,
    responses=problem_responses(
        NotCatalogAdministrator, NoCatalogScope, OutsideJurisdiction, ItemNotFound, InvalidCursor
    ),
)
async def list_audit_entries(
    code: str,
    by: AdministratorDep,
    session: SessionDep,
    settings: SettingsDep,
    cursors: CursorsDep,
    limit: LimitQuery = None,
    cursor: CursorQuery = None,
) -> Response:
    """Who created, edited, published or withdrew the item, when, on which version, and what
    changed; newest first."""
    entries, next_cursor = await service.audit_trail(
        session,
        by=by,
        code=code,
        limit=_limit(settings, limit),
        cursors=cursors,
        cursor=cursor,
    )
    return _answer(AuditPage(items=entries, next_cursor=next_cursor))
