"""The rules of accounts: opening one for a proved phone, and the level of assurance an account
holds now."""

import datetime as dt
import uuid

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository
from identity_svc.accounts.schemas import EnterpriseIdentityRead, PartyRead, PersonIdentityRead
from identity_svc.enterprises import repository as enterprises
from identity_svc.models import Account
from identity_svc.passwords import check_password_policy
from identity_svc.personal_data import mask_name, mask_phone
from identity_svc.runtime import Runtime
from servicekit.auth import InsufficientAssurance, Principal, require_type
from servicekit.ids import new_id
from servicekit.problems import Conflict, NotFound


class PhoneAlreadyRegistered(Conflict):
    code = "phone_already_registered"
    title = "An account with this phone number exists"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "The token's account does not exist"


def effective_loa(account: Account, *, now: dt.datetime) -> int:
    """The stored level, raised to 3 while a face match's window is open."""
    if account.loa >= 2 and account.face_verified_until and account.face_verified_until > now:
        return 3
    return account.loa


#: ``Account.password_hash`` of an account without a password (signed up by an SMS code).
NO_PASSWORD = ""


def has_password(account: Account) -> bool:
    """Whether the account has a password (else it signs in by SMS codes alone)."""
    return account.password_hash != NO_PASSWORD


async def open_citizen_account(
    *,
    session: AsyncSession,
    runtime: Runtime,
    phone: str,
    password: str | None,
    now: dt.datetime,
) -> Account:
    """A citizen account, level 1, for a phone its holder proved (``identity_svc.sms``), with a
    password that meets the policy or none. ``PhoneAlreadyRegistered`` when the phone has one:
    only someone who proved the phone may be told."""
    if password is not None:
        check_password_policy(password, phone=phone)
    phone_hash = runtime.personal_data.lookup_hash("phone", phone)
    if await repository.by_phone_hash(session, phone_hash) is not None:
        raise PhoneAlreadyRegistered()
    account_id = new_id()
    account = Account(
        id=account_id,
        typ="citizen",
        phone_hash=phone_hash,
        phone_sealed=runtime.personal_data.seal("phone", phone, account_id=account_id),
        password_hash=NO_PASSWORD if password is None else await runtime.passwords.hash(password),
        loa=1,
        face_failures=0,
        created_at=now,
    )
    try:
        await repository.add(session, account)
    except IntegrityError as exc:  # the same phone registered twice at once: the second loses
        raise PhoneAlreadyRegistered() from exc
    return account


async def citizen_account(*, session: AsyncSession, principal: Principal) -> Account:
    """The account behind a citizen's token."""
    require_type(principal, "citizen")
    try:
        account_id = uuid.UUID(principal.sub)
    except ValueError as exc:
        raise AccountNotFound() from exc
    account = await repository.get(session, account_id)
    if account is None:
        raise AccountNotFound()
    return account


def party_of(runtime: Runtime, account: Account) -> PartyRead:
    """Another party to something the caller sees (a delegation, an enterprise), masked."""
    personal = runtime.personal_data
    phone = personal.unseal("phone", account.phone_sealed, account_id=account.id)
    name = None
    if account.name_sealed is not None:
        name = mask_name(personal.unseal("name", account.name_sealed, account_id=account.id))
    return PartyRead(id=account.id, phone_masked=mask_phone(phone), name_masked=name)


def is_bound(account: Account) -> bool:
    """Whether a face match bound a real name to the account (a claim alone binds nothing)."""
    return account.loa >= 2 and account.id_number_sealed is not None


def bound_id_number(account: Account) -> bytes:
    """The sealed ID number a face match bound to the account; a problem naming the step when
    it has none: the face match when its real name is claimed, else the real name. The account
    is the authority here, not the token."""
    if not is_bound(account) or account.id_number_sealed is None:
        claimed = account.claimed_id_number_sealed is not None
        raise InsufficientAssurance(
            "this needs a verified real name",
            required_loa=2,
            current_loa=account.loa,
            step="face" if claimed else "real_name",
        )
    return account.id_number_sealed


async def verified_identity(
    *, session: AsyncSession, runtime: Runtime, principal: Principal
) -> PersonIdentityRead | EnterpriseIdentityRead:
    """Who the token's subject is, as verified, in full: a citizen's name and ID number as her
    real-name verification bound them (the principal's, when a delegate acts for her), or an
    enterprise's credit code and registered name. The token names whose, so nobody learns
    anyone else's; the account, not the token, is the authority on what was verified."""
    require_type(principal, "citizen", "enterprise")
    if principal.typ == "enterprise":
        enterprise = await enterprises.by_credit_code(session, principal.sub)
        if enterprise is None:
            raise AccountNotFound("no enterprise has the token's credit code")
        return EnterpriseIdentityRead(
            subject="enterprise",
            credit_code=enterprise.credit_code,
            enterprise_name=enterprise.name,
        )
    account = await citizen_account(session=session, principal=principal)
    id_number_sealed = bound_id_number(account)
    assert account.name_sealed is not None  # bound together with the ID number
    personal = runtime.personal_data
    return PersonIdentityRead(
        subject="person",
        name=personal.unseal("name", account.name_sealed, account_id=account.id),
        id_number=personal.unseal("id_number", id_number_sealed, account_id=account.id),
    )
