"""The rules of staff accounts.

Roles come in two tiers. Department tier: ``handler``, ``supervisor``, ``department_admin``;
platform tier: ``catalog_admin`` and ``data_steward`` (for one department: they need ``dept``),
``platform_admin``. A data steward decides the grants of their department's data resources and
approves changes to identity-critical registry fields: the second person a department admin
cannot appoint alone. An administrator creates staff of their
own tier or below: a ``department_admin`` creates department-tier staff of their own department
only; a ``platform_admin`` creates any staff, in any department. The first platform
administrator is seeded (``IDENTITY_SEED_ADMIN_PHONE`` / ``_PASSWORD``). Staff sign in with the
password grant (phone + password, the same throttling as citizens); their tokens carry
``typ`` "staff", ``dept`` and ``roles``. A phone belongs to one account: a citizen account and
a staff account need different phones.
"""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import AccountNotFound, PhoneAlreadyRegistered
from identity_svc.models import Account
from identity_svc.passwords import Passwords, check_password_policy
from identity_svc.personal_data import PersonalData
from identity_svc.runtime import Runtime
from servicekit.auth import Principal, require_type
from servicekit.ids import new_id
from servicekit.problems import DomainError, Forbidden, extension_members

DEPARTMENT_ROLES = frozenset({"handler", "supervisor", "department_admin"})
PLATFORM_ROLES = frozenset({"catalog_admin", "data_steward", "platform_admin"})
#: Roles exercised for a department, so the account needs one: a catalog admin edits the items
#: of their department's type that its region owns (catalog-svc decides which), a data steward
#: decides for its data (both granted by a platform administrator only).
ROLES_NEEDING_A_DEPARTMENT = DEPARTMENT_ROLES | {"catalog_admin", "data_steward"}


class StaffAdminRequired(Forbidden):
    code = "staff_admin_required"
    title = "Only a department or platform administrator creates staff accounts"


class RoleBeyondTier(Forbidden):
    code = "role_beyond_tier"
    title = "An administrator grants roles of their own tier or below only"
    members = extension_members(
        refused_roles={
            "type": "array",
            "items": {"type": "string"},
            "description": "The roles above the administrator's tier",
            "examples": [["province_supervisor"]],
        }
    )


class OtherDepartment(Forbidden):
    code = "other_department"
    title = "A department administrator creates staff of their own department only"


class DepartmentRequired(DomainError):
    status = 422
    code = "department_required"
    title = "Department-tier roles and catalog admins belong to a department: give dept"


async def new_staff_account(
    *,
    session: AsyncSession,
    personal_data: PersonalData,
    passwords: Passwords,
    phone: str,
    password: str,
    dept: str | None,
    roles: Sequence[str],
    created_by: Account | None,
    now: dt.datetime,
) -> Account:
    check_password_policy(password, phone=phone)
    phone_hash = personal_data.lookup_hash("phone", phone)
    if await accounts.by_phone_hash(session, phone_hash) is not None:
        raise PhoneAlreadyRegistered()
    account_id = new_id()
    account = Account(
        id=account_id,
        typ="staff",
        phone_hash=phone_hash,
        phone_sealed=personal_data.seal("phone", phone, account_id=account_id),
        password_hash=await passwords.hash(password),
        loa=1,
        face_failures=0,
        dept=dept,
        roles=sorted(set(roles)),
        created_by=created_by.id if created_by else None,
        created_at=now,
    )
    try:
        await accounts.add(session, account)
    except IntegrityError as exc:
        raise PhoneAlreadyRegistered() from exc
    return account


async def administrator(session: AsyncSession, principal: Principal) -> Account:
    """The caller's staff account, as the database has it (the authority over the token)."""
    require_type(principal, "staff")
    if principal.act is not None:
        raise StaffAdminRequired()
    account = await accounts.get_by_text_id(session, principal.sub)
    if account is None or account.typ != "staff":
        raise AccountNotFound()
    return account


async def create_staff(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    phone: str,
    password: str,
    dept: str | None,
    roles: Sequence[str],
    now: dt.datetime,
) -> Account:
    admin = await administrator(session, principal)
    admin_roles = set(admin.roles or [])
    wanted = set(roles)
    if wanted & ROLES_NEEDING_A_DEPARTMENT and dept is None:
        raise DepartmentRequired()
    if "platform_admin" not in admin_roles:
        if "department_admin" not in admin_roles:
            raise StaffAdminRequired()
        beyond = sorted(wanted - DEPARTMENT_ROLES)
        if beyond:
            raise RoleBeyondTier(refused_roles=beyond)
        if dept != admin.dept:
            raise OtherDepartment()
    return await new_staff_account(
        session=session,
        personal_data=runtime.personal_data,
        passwords=runtime.passwords,
        phone=phone,
        password=password,
        dept=dept,
        roles=roles,
        created_by=admin,
        now=now,
    )
