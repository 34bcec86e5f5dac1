"""HTTP endpoints for staff accounts: administrators create, list, read, change the roles of
and disable them, and read each one's audit trail."""

import uuid

from fastapi import APIRouter, Response, status

from identity_svc.accounts.service import AccountNotFound, PhoneAlreadyRegistered
from identity_svc.deps import RuntimeDep, SettingsDep, StateDep
from identity_svc.models import Account
from identity_svc.passwords import WeakPassword
from identity_svc.personal_data import mask_phone
from identity_svc.runtime import Runtime
from identity_svc.staff import service
from identity_svc.staff.schemas import (
    AuditEventRead,
    AuditTrail,
    StaffCreate,
    StaffList,
    StaffRead,
    StaffRoles,
)
from identity_svc.staff.service import (
    DepartmentRequired,
    OtherDepartment,
    OwnAccount,
    RoleBeyondTier,
    StaffAdminRequired,
    StaffDisabled,
    StaffNotFound,
    UnknownDepartment,
)
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.pagination import (
    CursorQuery,
    CursorsDep,
    InvalidCursor,
    LimitQuery,
    page_size_of,
)
from servicekit.preconditions import IfMatchHeader, PreconditionFailed, PreconditionRequired
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/identity/v1/staff", tags=["staff"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=StaffRead,
    responses=problem_responses(
        AccountNotFound,
        StaffAdminRequired,
        OtherDepartment,
        RoleBeyondTier,
        DepartmentRequired,
        UnknownDepartment,
        PhoneAlreadyRegistered,
        WeakPassword,
        UpstreamUnavailable,
    ),
)
async def create_staff(
    payload: StaffCreate,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    state: StateDep,
) -> Response:
    """Create a staff account (an administrator's token needed): a ``department_admin`` for
    their own department with ``handler``/``supervisor``/``department_admin``; a
    ``platform_admin`` anything. The department must be one catalog-svc knows. The staff
    member signs in with the password grant. A retry with the same Idempotency-Key answers the
    same account (the body's password is kept only inside a keyed digest)."""
    if claim.replay is not None:
        return claim.replay
    runtime = state.runtime
    account = await service.create_staff(
        session=session,
        runtime=runtime,
        http=state.http,
        principal=principal,
        phone=payload.phone,
        password=payload.password,
        dept=payload.dept,
        roles=payload.roles,
        now=runtime.now(),
    )
    view = _read(runtime, account)
    return await claim.answer(
        session,
        status=201,
        body=view.model_dump(mode="json"),
        headers={"ETag": service.version_tag(account)},
    )


@router.get(
    "", response_model=StaffList, responses=problem_responses(StaffAdminRequired, InvalidCursor)
)
async def list_staff(
    principal: PrincipalDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> StaffList:
    """The staff accounts you administer (a platform administrator: every one; a department
    administrator: their department's), disabled ones included, in the order they were
    created, a page at a time."""
    found, next_cursor = await service.staff_page(
        session=session,
        principal=principal,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )
    return StaffList(items=[_read(runtime, account) for account in found], next_cursor=next_cursor)


@router.get(
    "/{staff_id}",
    response_model=StaffRead,
    responses=problem_responses(StaffAdminRequired, StaffNotFound),
)
async def read_staff(
    staff_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """A staff account you administer, with its ``ETag`` for a change of its roles."""
    _admin, account = await service.administered_staff(
        session=session, principal=principal, staff_id=staff_id
    )
    return _answer(runtime, account)


@router.put(
    "/{staff_id}/roles",
    response_model=StaffRead,
    responses=problem_responses(
        StaffAdminRequired,
        StaffNotFound,
        OwnAccount,
        RoleBeyondTier,
        OtherDepartment,
        DepartmentRequired,
        StaffDisabled,
        PreconditionRequired,
        PreconditionFailed,
    ),
)
async def change_roles(
    staff_id: uuid.UUID,
    payload: StaffRoles,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    if_match: IfMatchHeader = None,
) -> Response:
    """Replace the account's roles (``If-Match``: its ``ETag``), within the rules of creation:
    a department administrator neither grants nor takes away a role above their tier. The
    access tokens the account holds are refused within seconds; its next refresh brings the
    new roles."""
    account = await service.change_roles(
        session=session,
        runtime=runtime,
        principal=principal,
        staff_id=staff_id,
        roles=payload.roles,
        if_match=if_match,
        now=runtime.now(),
    )
    return _answer(runtime, account)


@router.post(
    "/{staff_id}/disable",
    response_model=StaffRead,
    responses=problem_responses(
        StaffAdminRequired, StaffNotFound, OwnAccount, RoleBeyondTier, OtherDepartment
    ),
)
async def disable_staff(
    staff_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> Response:
    """Disable the account: it signs in no more, every session of it ends at once (refresh
    tokens refused now, access tokens within seconds). Disabling it again changes nothing."""
    account = await service.disable_staff(
        session=session,
        runtime=runtime,
        principal=principal,
        staff_id=staff_id,
        now=runtime.now(),
    )
    return _answer(runtime, account)


@router.get(
    "/{staff_id}/audit-trail",
    response_model=AuditTrail,
    responses=problem_responses(StaffAdminRequired, StaffNotFound, InvalidCursor),
)
async def audit_trail(
    staff_id: uuid.UUID,
    principal: PrincipalDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> AuditTrail:
    """What administrators changed about the account, oldest first: its creation, role
    changes and disabling, each with who did it."""
    events, next_cursor = await service.audit_trail(
        session=session,
        principal=principal,
        staff_id=staff_id,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )
    return AuditTrail(
        items=[
            AuditEventRead(
                id=event.id,
                occurred_at=event.occurred_at,
                actor_id=event.actor_id,
                action=event.action,
                details=event.details,
            )
            for event in events
        ],
        next_cursor=next_cursor,
    )


def _read(runtime: Runtime, account: Account) -> StaffRead:
    phone = runtime.personal_data.unseal("phone", account.phone_sealed, account_id=account.id)
    return StaffRead(
        id=account.id,
        phone_masked=mask_phone(phone),
        dept=account.dept,
        staff_no=account.staff_no,
        roles=list(account.roles or []),
        created_by=account.created_by,
        created_at=account.created_at,
        disabled_at=account.disabled_at,
    )


def _answer(runtime: Runtime, account: Account) -> Response:
    return Response(
        _read(runtime, account).model_dump_json().encode(),
        media_type="application/json",
        headers={"ETag": service.version_tag(account), "Cache-Control": "no-store"},
    )
