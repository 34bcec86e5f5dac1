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
``typ`` "staff", ``dept``, ``roles`` and ``staff_no``, the staff number (工号) identity-svc
gives each account on creation (``<region code>-<sequence>``, by its department's region), and
their sessions last ``staff_refresh_token_ttl_seconds`` (hours, not a citizen's month). A phone
belongs to one account: a citizen account and a staff account need different phones. A department
must be one catalog-svc knows.

After creation, the same administrators list the accounts they administer, change their roles
(the same rules as creation, and a department administrator touches no account holding a role
above their tier) and disable them. A role change puts the account's sessions' access tokens
on the revocation list (the next refresh brings the new roles); disabling ends every session
at once. Nobody changes or disables their own account: an administrator cannot lock the
platform out by mistake. Every change is written to the audit trail.
"""

import datetime as dt
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import AccountNotFound, PhoneAlreadyRegistered
from identity_svc.audit import repository as audit_events
from identity_svc.audit import service as audit
from identity_svc.models import Account, AuditEvent
from identity_svc.passwords import Passwords, check_password_policy
from identity_svc.personal_data import PersonalData
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.staff import repository
from identity_svc.tokens import repository as tokens
from servicekit.auth import Principal, require_type
from servicekit.ids import new_id
from servicekit.pagination import Cursors
from servicekit.preconditions import PreconditionFailed, entity_tag, require_match
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, extension_members

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


class UnknownDepartment(DomainError):
    status = 422
    code = "unknown_department"
    title = "catalog-svc knows no department with this id"
    members = extension_members(
        dept={"type": "string", "examples": ["330302-space_agency"]},
    )


class StaffNotFound(NotFound):
    code = "staff_not_found"
    title = "No such staff account among those you administer"


class OwnAccount(Forbidden):
    code = "own_account"
    title = "An administrator does not change or disable their own account"


class StaffDisabled(Conflict):
    code = "staff_disabled"
    title = "The staff account is disabled"


#: The region part of the staff numbers of platform staff, who belong to no department.
PLATFORM_STAFF_REGION = "000000"


def staff_region(dept: str | None) -> str:
    """The region a staff number starts with: its department's (the catalog's id starts with
    the region code), or ``PLATFORM_STAFF_REGION``."""
    if dept is None:
        return PLATFORM_STAFF_REGION
    return dept.partition("-")[0]


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
    region_code = staff_region(dept)
    sequence = await repository.next_staff_sequence(session, region_code=region_code)
    account = Account(
        id=account_id,
        typ="staff",
        staff_no=f"{region_code}-{sequence:04d}",
        phone_hash=phone_hash,
        phone_sealed=personal_data.seal("phone", phone, account_id=account_id),
        password_hash=await passwords.hash(password),
        loa=1,
        face_failures=0,
        dept=dept,
        roles=sorted(set(roles)),
        created_by=created_by.id if created_by else None,
        created_at=now,
        version=1,
    )
    try:
        await accounts.add(session, account)
    except IntegrityError as exc:
        raise PhoneAlreadyRegistered() from exc
    await audit.record(
        session,
        actor_id=account.created_by,
        action="staff.created",
        subject=str(account.id),
        details={"dept": dept, "roles": account.roles},
        now=now,
    )
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


def _may_grant(admin: Account, *, roles: Sequence[str], dept: str | None) -> None:
    """The roles an administrator may give an account of ``dept``: any, for a platform
    administrator; department-tier roles of their own department, for a department one."""
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


async def create_staff(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    principal: Principal,
    phone: str,
    password: str,
    dept: str | None,
    roles: Sequence[str],
    now: dt.datetime,
) -> Account:
    admin = await administrator(session, principal)
    _may_grant(admin, roles=roles, dept=dept)
    if dept is not None and not await runtime.catalog.is_known_department(http, dept):
        raise UnknownDepartment(dept=dept)
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


def _administered_by(admin: Account) -> str | None:
    """The department whose staff the administrator manages; None for every department."""
    roles = set(admin.roles or [])
    if "platform_admin" in roles:
        return None
    if "department_admin" in roles and admin.dept is not None:
        return admin.dept
    raise StaffAdminRequired("only a department or platform administrator manages staff")


async def administered_staff(
    *, session: AsyncSession, principal: Principal, staff_id: uuid.UUID
) -> tuple[Account, Account]:
    """The administrator and a staff account they manage; ``StaffNotFound`` for one they do
    not (a department administrator sees no other department's staff)."""
    admin = await administrator(session, principal)
    dept = _administered_by(admin)
    account = await accounts.get(session, staff_id)
    if account is None or account.typ != "staff" or (dept is not None and account.dept != dept):
        raise StaffNotFound()
    return admin, account


def version_tag(account: Account) -> str:
    return entity_tag(account.version)


async def staff_page(
    *,
    session: AsyncSession,
    principal: Principal,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[Account], str | None]:
    """A page of the staff accounts the caller administers (every one, or their department's),
    in creation order, and the cursor of the next page."""
    admin = await administrator(session, principal)
    dept = _administered_by(admin)
    context = f"staff:{principal.sub}:{dept or '*'}"
    position = cursors.decode_optional(context, cursor)
    found = await repository.page(
        session,
        dept=dept,
        after=uuid.UUID(position["after"]) if position is not None else None,
        limit=limit + 1,
    )
    page = found[:limit]
    more = len(found) > limit
    return page, cursors.encode(context, {"after": str(page[-1].id)}) if more else None


async def change_roles(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    staff_id: uuid.UUID,
    roles: Sequence[str],
    if_match: str | None,
    now: dt.datetime,
) -> Account:
    """Give the account exactly ``roles``, within the rules of creation, at the version the
    caller read. Its sessions live on, their access tokens are refused: the next refresh
    brings the new roles."""
    admin, account = await administered_staff(
        session=session, principal=principal, staff_id=staff_id
    )
    _may_change(admin, account)
    before = list(account.roles or [])
    # Whoever may not give a role may not take it away either: the account's present roles
    # pass the same rules as the new ones. (Refusals first, the version after: a caller who may
    # not change the account learns nothing from a 412.)
    _may_grant(admin, roles=[*before, *roles], dept=account.dept)
    require_match(if_match, version_tag(account))
    if account.disabled_at is not None:
        raise StaffDisabled()
    after = sorted(set(roles))
    if after == before:
        return account
    await _write(session, account, roles=after, disabled_at=None)
    horizon = runtime.settings.session_token_horizon
    recent = await tokens.recent_sessions_of(session, account.id, used_since=now - horizon)
    await revocations.end_session_tokens(session, runtime, recent, now=now)
    await audit.record(
        session,
        actor_id=admin.id,
        action="staff.roles_changed",
        subject=str(account.id),
        details={"roles": {"before": before, "after": after}},
        now=now,
    )
    return account


async def disable_staff(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    staff_id: uuid.UUID,
    now: dt.datetime,
) -> Account:
    """The account signs in no more; every session of it ends, its access tokens refused at
    once. Disabling a disabled account changes nothing."""
    admin, account = await administered_staff(
        session=session, principal=principal, staff_id=staff_id
    )
    _may_change(admin, account)
    _may_grant(admin, roles=list(account.roles or []), dept=account.dept)
    if account.disabled_at is not None:
        return account
    await _write(session, account, roles=list(account.roles or []), disabled_at=now)
    ended = await tokens.revoke_sessions_of(session, account.id, keep=None, now=now)
    await revocations.end_session_tokens(session, runtime, ended, now=now)
    await audit.record(
        session, actor_id=admin.id, action="staff.disabled", subject=str(account.id), now=now
    )
    return account


async def audit_trail(
    *,
    session: AsyncSession,
    principal: Principal,
    staff_id: uuid.UUID,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> tuple[Sequence[AuditEvent], str | None]:
    """A page of what administrators changed about the account, oldest first."""
    await administered_staff(session=session, principal=principal, staff_id=staff_id)
    context = f"staff-audit:{principal.sub}:{staff_id}"
    position = cursors.decode_optional(context, cursor)
    found = await audit_events.page_of(
        session,
        str(staff_id),
        after=uuid.UUID(position["after"]) if position is not None else None,
        limit=limit + 1,
    )
    page = found[:limit]
    more = len(found) > limit
    return page, cursors.encode(context, {"after": str(page[-1].id)}) if more else None


def _may_change(admin: Account, account: Account) -> None:
    if admin.id == account.id:
        raise OwnAccount()


async def _write(
    session: AsyncSession, account: Account, *, roles: list[str], disabled_at: dt.datetime | None
) -> None:
    """The change as the account's next version: refused if another request changed it since
    it was read in this request."""
    if not await repository.change(
        session,
        account,
        expected_version=account.version,
        roles=roles,
        disabled_at=disabled_at,
    ):
        await accounts.reload(session, account)
        raise PreconditionFailed(
            "the account changed meanwhile: read it again", current_etag=version_tag(account)
        )
