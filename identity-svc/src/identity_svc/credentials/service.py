"""The rules of changing a password: only the account holder (never a delegate acting for
them), proving the current password under the same throttling as a login; every other session
of the account ends, the one making the change lives on."""

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import AccountNotFound, has_password
from identity_svc.delegations.service import refuse_delegates
from identity_svc.passwords import check_password_policy
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.tokens import repository as tokens
from identity_svc.tokens.service import (
    LoginThrottle,
    LoginThrottled,
    check_login_throttle,
    record_login_failure,
    session_id_of,
)
from servicekit.auth import Principal, require_type
from servicekit.problems import Forbidden


class WrongPassword(Forbidden):
    code = "wrong_password"
    title = "The current password is wrong"


async def change_password(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    current_password: str,
    new_password: str,
    client_address: str | None,
    now: dt.datetime,
) -> None:
    refuse_delegates(principal)
    require_type(principal, "citizen", "staff")
    account = await accounts.get_by_text_id(session, principal.sub)
    if account is None:
        raise AccountNotFound()
    throttle = LoginThrottle.of(runtime, account.phone_hash, client_address)
    async with runtime.sign_in_attempt(account.phone_hash):
        await check_login_throttle(session, runtime, throttle, now=now)
        if not has_password(account):  # it signed up by an SMS code: nothing to prove
            raise WrongPassword("the account has no password")
        if not await runtime.passwords.verify(account.password_hash, current_password):
            refusal = await record_login_failure(runtime, throttle, now=now)
            raise refusal if isinstance(refusal, LoginThrottled) else WrongPassword()
    phone = runtime.personal_data.unseal("phone", account.phone_sealed, account_id=account.id)
    check_password_policy(new_password, phone=phone)
    account.password_hash = await runtime.passwords.hash(new_password)
    await accounts.flush(session)
    ended = await tokens.revoke_sessions_of(
        session, account.id, keep=session_id_of(principal), now=now
    )
    await revocations.end_session_tokens(session, runtime, ended, now=now)
