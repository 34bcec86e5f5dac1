"""HTTP endpoint for staff accounts: an administrator creates one."""

from fastapi import APIRouter, Response, status

from identity_svc.accounts.service import AccountNotFound, PhoneAlreadyRegistered
from identity_svc.deps import RuntimeDep
from identity_svc.passwords import WeakPassword
from identity_svc.personal_data import mask_phone
from identity_svc.staff import service
from identity_svc.staff.schemas import StaffCreate, StaffRead
from identity_svc.staff.service import (
    DepartmentRequired,
    OtherDepartment,
    RoleBeyondTier,
    StaffAdminRequired,
)
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses

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
        PhoneAlreadyRegistered,
        WeakPassword,
    ),
)
async def create_staff(
    payload: StaffCreate,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    runtime: RuntimeDep,
) -> Response:
    """Create a staff account (an administrator's token needed): a ``department_admin`` for
    their own department with ``handler``/``supervisor``/``department_admin``; a
    ``platform_admin`` anything. The staff member signs in with the password grant. A retry
    with the same Idempotency-Key answers the same account (the body's password is kept only
    inside a keyed digest)."""
    if claim.replay is not None:
        return claim.replay
    account = await service.create_staff(
        session=session,
        runtime=runtime,
        principal=principal,
        phone=payload.phone,
        password=payload.password,
        dept=payload.dept,
        roles=payload.roles,
        now=runtime.now(),
    )
    view = StaffRead(
        id=account.id,
        phone_masked=mask_phone(payload.phone),
        dept=account.dept,
        roles=list(account.roles or []),
        created_by=account.created_by,
    )
    return await claim.answer(session, status=201, body=view.model_dump(mode="json"))
