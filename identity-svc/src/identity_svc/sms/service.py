"""The rules of one-time codes by SMS: a code proves that its holder has the phone, and what
that proof opens, registration and sign-in, is decided here.

A code is six random digits, valid ``sms_code_ttl_seconds``, usable once, spent after
``sms_code_max_attempts`` wrong tries; one per phone per ``sms_resend_interval_seconds``. Only
a keyed hash of it is stored. Every phone asked for gets one, registered or not, in the same
text and with the same answer: asking tells nothing about accounts.

- Registration (``POST /identity/v1/citizens``) takes the phone, a password and a code sent to
  that phone. Without a valid code it is refused alike whether the phone has an account or not
  (``invalid_sms_code``); only after a valid one does ``phone_already_registered`` tell the
  phone's holder that she has one (and her code stays unspent: she signs in with it).
- Sign-in with ``grant_type=sms_code``, ``username`` (the phone) and ``code`` at the token
  endpoint signs in the phone's account; for a phone without one it first registers it, an
  account without a password, in the same step and with the same answer.

A wrong code counts against the code's tries and as a failed sign-in at the phone (login
throttling, ``identity_svc.tokens.service``), at registration as at sign-in, and is checked
before any account is looked at.
"""

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import PhoneAlreadyRegistered, open_citizen_account
from identity_svc.devices import Device
from identity_svc.models import Account, SmsCode
from identity_svc.passwords import check_password_policy
from identity_svc.runtime import Runtime
from identity_svc.sms import repository
from identity_svc.sms.senders import SmsSender
from identity_svc.tokens.service import (
    AccountDisabled,
    InvalidGrant,
    LoginThrottle,
    OAuthError,
    SessionTokens,
    check_login_throttle,
    issue_session_tokens,
    record_login_failure,
    record_sign_in,
)
from servicekit.ids import new_id
from servicekit.problems import DomainError, extension_members

CODE_DIGITS = 6


class SmsCodeThrottled(DomainError):
    status = 429
    code = "sms_code_throttled"
    title = "A code was sent moments ago: wait before asking for another"
    members = extension_members(
        retry_after={
            "type": "integer",
            "description": "Seconds until another code may be asked for",
            "examples": [42],
        }
    )


class InvalidSmsCode(DomainError):
    status = 400
    code = "invalid_sms_code"
    title = "The code is wrong, used or expired: ask for another"


@dataclass(frozen=True)
class CodeSent:
    expires_in: int
    resend_after: int


def _code_hash(runtime: Runtime, code_id: object, code: str) -> str:
    return runtime.personal_data.lookup_hash("phone", f"sms_code:{code_id}:{code}")


def code_text(code: str, *, valid_minutes: int) -> str:
    """What the phone receives: one text for every phone, whether or not it has an account."""
    return (
        f"【OneVisit】您的验证码是{code}，{valid_minutes}分钟内有效，用于登录或注册。请勿告诉他人。"
    )


async def send_code(
    *, session: AsyncSession, runtime: Runtime, sender: SmsSender, phone: str, now: dt.datetime
) -> CodeSent:
    settings = runtime.settings
    phone_hash = runtime.personal_data.lookup_hash("phone", phone)
    interval = dt.timedelta(seconds=settings.sms_resend_interval_seconds)
    previous = await repository.latest(session, phone_hash)
    if previous is not None and previous.created_at + interval > now:
        wait = max(1, int((previous.created_at + interval - now).total_seconds()))
        raise SmsCodeThrottled(retry_after=wait, headers={"Retry-After": str(wait)})
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    code_id = new_id()
    ttl = settings.sms_code_ttl_seconds
    await repository.add(
        session,
        SmsCode(
            id=code_id,
            phone_hash=phone_hash,
            code_hash=_code_hash(runtime, code_id, code),
            created_at=now,
            expires_at=now + dt.timedelta(seconds=ttl),
            failed_attempts=0,
        ),
    )
    await sender.send(to=phone, text=code_text(code, valid_minutes=max(1, ttl // 60)))
    return CodeSent(expires_in=ttl, resend_after=settings.sms_resend_interval_seconds)


async def prove_phone(
    *,
    session: AsyncSession,
    runtime: Runtime,
    phone: str,
    code: str,
    client_address: str | None,
    now: dt.datetime,
    refusal: DomainError,
) -> LoginThrottle:
    """Spend the phone's latest code if ``code`` is it (unused, unexpired, tries left), under
    login throttling; else count the failure and raise ``refusal`` (or ``login_throttled``). The
    spend is the request's: a refusal later in the request leaves the code usable. Returns what
    the attempt was counted against, for the sign-in to record."""
    phone_hash = runtime.personal_data.lookup_hash("phone", phone)
    throttle = LoginThrottle.of(runtime, phone_hash, client_address)
    async with runtime.sign_in_attempt(phone_hash):
        await check_login_throttle(session, runtime, throttle, now=now)
        latest = await repository.latest(session, phone_hash)
        usable = (
            latest is not None
            and latest.used_at is None
            and latest.expires_at > now
            and latest.failed_attempts < runtime.settings.sms_code_max_attempts
        )
        if (
            latest is None
            or not usable
            or not hmac.compare_digest(latest.code_hash, _code_hash(runtime, latest.id, code))
        ):
            if latest is not None and usable:
                async with runtime.outcomes.begin() as outcomes:
                    await repository.count_failure(outcomes, latest.id)
            raise await record_login_failure(runtime, throttle, now=now, refusal=refusal)
    if not await repository.spend(session, latest.id, now=now):
        raise refusal  # another request spent it first
    return throttle


async def register_citizen(
    *,
    session: AsyncSession,
    runtime: Runtime,
    phone: str,
    password: str,
    code: str,
    client_address: str | None,
    now: dt.datetime,
) -> Account:
    """A citizen account with a password, for the holder of the phone."""
    # Before the code is tried: a password the policy refuses leaves the code as it was.
    check_password_policy(password, phone=phone)
    refusal = InvalidSmsCode()
    await prove_phone(
        session=session,
        runtime=runtime,
        phone=phone,
        code=code.strip(),
        client_address=client_address,
        now=now,
        refusal=refusal,
    )
    return await open_citizen_account(
        session=session, runtime=runtime, phone=phone, password=password, now=now
    )


async def sms_code_grant(
    *,
    session: AsyncSession,
    runtime: Runtime,
    username: str,
    code: str,
    device: Device,
    now: dt.datetime,
) -> SessionTokens:
    """Tokens for the holder of the phone: its account's, registered here if it has none."""
    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    account = await sign_in_by_sms_code(
        session=session, runtime=runtime, username=username, code=code, device=device, now=now
    )
    return await issue_session_tokens(
        session=session, runtime=runtime, account=account, device=device, now=now
    )


async def sign_in_by_sms_code(
    *,
    session: AsyncSession,
    runtime: Runtime,
    username: str,
    code: str,
    device: Device,
    now: dt.datetime,
) -> Account:
    """The account of the phone whose code this is, registered here if it has none (the
    sms_code grant's, and the sign-in page's); ``InvalidGrant`` or ``LoginThrottled`` else."""
    phone = username.strip()
    refusal: OAuthError = InvalidGrant("the code is wrong, used or expired")
    throttle = await prove_phone(
        session=session,
        runtime=runtime,
        phone=phone,
        code=code.strip(),
        client_address=device.client_address,
        now=now,
        refusal=refusal,
    )
    account = await accounts.by_phone_hash(session, throttle.login_hash)
    if account is None:
        # A code goes only to a phone the sms-codes endpoint accepted: ``phone`` is one.
        try:
            account = await open_citizen_account(
                session=session, runtime=runtime, phone=phone, password=None, now=now
            )
        except PhoneAlreadyRegistered as exc:  # registered at this very moment: sign in again
            raise InvalidGrant("the phone was registered meanwhile: sign in again") from exc
    await record_sign_in(session, runtime, throttle, now=now)
    if account.disabled_at is not None:
        raise AccountDisabled()
    return account
