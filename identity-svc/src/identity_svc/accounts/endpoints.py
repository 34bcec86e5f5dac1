"""HTTP endpoints for accounts: register a citizen (the rule is the SMS code's:
``identity_svc.sms.service``); the account's own view."""

import datetime as dt

from fastapi import APIRouter, Response, status

from identity_svc.accounts import service
from identity_svc.accounts.schemas import (
    CitizenCreate,
    CitizenRead,
    EnterpriseIdentityRead,
    MeRead,
    PersonIdentityRead,
    RealNameRead,
    VerifiedIdentityRead,
)
from identity_svc.accounts.service import AccountNotFound, PhoneAlreadyRegistered
from identity_svc.delegations.service import DelegatedTokenRefused, refuse_delegates
from identity_svc.deps import RuntimeDep
from identity_svc.models import Account
from identity_svc.passwords import WeakPassword
from identity_svc.personal_data import mask_id_number, mask_name, mask_phone
from identity_svc.runtime import Runtime
from identity_svc.sms import service as sms
from identity_svc.sms.service import InvalidSmsCode
from identity_svc.tokens.service import LoginThrottled
from servicekit.auth import InsufficientAssurance, PrincipalDep
from servicekit.db import ReadSessionDep, SessionDep
from servicekit.forwarding import ClientAddressDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/identity/v1", tags=["accounts"])


@router.post(
    "/citizens",
    status_code=status.HTTP_201_CREATED,
    response_model=CitizenRead,
    responses=problem_responses(
        WeakPassword, InvalidSmsCode, LoginThrottled, PhoneAlreadyRegistered
    ),
)
async def register_citizen(
    payload: CitizenCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    client_address: ClientAddressDep,
) -> CitizenRead:
    """Register with a mainland mobile number, a password and the code texted to that number
    (``POST /identity/v1/sms-codes``); the account starts at level 1. Without a valid code the
    answer is the same whether or not the number has an account (400 ``invalid_sms_code``, a
    wrong code counting as a failed sign-in); with one, an existing account answers 409
    ``phone_already_registered`` and the code stays usable to sign in. Get tokens next with
    ``POST /identity/v1/token`` (``grant_type=password``)."""
    account = await sms.register_citizen(
        session=session,
        runtime=runtime,
        phone=payload.phone,
        password=payload.password,
        code=payload.code,
        client_address=client_address,
        now=runtime.now(),
    )
    return CitizenRead(id=account.id, phone_masked=mask_phone(payload.phone), loa=account.loa)


@router.get(
    "/me",
    response_model=MeRead,
    responses=problem_responses(AccountNotFound, DelegatedTokenRefused),
)
async def me(principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep) -> MeRead:
    """The caller's account, its level of assurance now, and its real-name record, masked. Her
    own: a delegate's token reads only what the delegation covers, and her account is not part
    of it (403 ``delegated_token_refused``)."""
    refuse_delegates(principal)
    account = await service.citizen_account(session=session, principal=principal)
    return me_view(account, runtime, now=runtime.now())


@router.get(
    "/me/verified-identity",
    response_model=VerifiedIdentityRead,
    responses=problem_responses(AccountNotFound, InsufficientAssurance),
)
async def verified_identity(
    principal: PrincipalDep, session: ReadSessionDep, runtime: RuntimeDep, response: Response
) -> PersonIdentityRead | EnterpriseIdentityRead:
    """The verified identity of the token's subject, unmasked: a citizen's name and ID number
    (a delegate's token: the principal's), an enterprise's credit code and name. For the
    services she applies to, which forward her own token to fill and check the applicant's
    fields of a form; the app shows ``GET /identity/v1/me``, masked. A citizen without a
    verified real name gets 403 ``insufficient_assurance`` with ``step`` ``real_name``."""
    # One row read (the account, or the enterprise), asked for every application filed: no
    # transaction around it.
    response.headers["Cache-Control"] = "no-store"
    return await service.verified_identity(session=session, runtime=runtime, principal=principal)


def me_view(account: Account, runtime: Runtime, *, now: dt.datetime) -> MeRead:
    personal = runtime.personal_data
    real_name = None
    if account.name_sealed is not None and account.id_number_sealed is not None:
        name = personal.unseal("name", account.name_sealed, account_id=account.id)
        number = personal.unseal("id_number", account.id_number_sealed, account_id=account.id)
        real_name = RealNameRead(
            name_masked=mask_name(name),
            id_number_masked=mask_id_number(number),
            region=account.region_code,
            birth_date=account.birth_date,
            sex=account.sex,
        )
    phone = personal.unseal("phone", account.phone_sealed, account_id=account.id)
    return MeRead(
        id=account.id,
        typ=account.typ,
        phone_masked=mask_phone(phone),
        loa=service.effective_loa(account, now=now),
        real_name=real_name,
        face_verified_until=account.face_verified_until,
    )
