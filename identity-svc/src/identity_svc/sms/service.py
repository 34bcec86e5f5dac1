"""The rules of one-time sign-in codes by SMS.

A code is six random digits, valid ``sms_code_ttl_seconds``, usable once, spent after
``sms_code_max_attempts`` wrong tries; one per phone per ``sms_resend_interval_seconds``. Only
a keyed hash of it is stored. Asking for a code answers alike for registered and unregistered
phones (only registered ones receive a message), and a wrong code counts as a failed sign-in, so
login throttling covers codes too. Sign in with ``grant_type=sms_code``, ``username`` (the
phone) and ``code`` at the token endpoint.
"""

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.devices import Device
from identity_svc.models import SmsCode
from identity_svc.runtime import Runtime
from identity_svc.sms import repository
from identity_svc.sms.senders import SmsSender
from identity_svc.tokens.service import (
    InvalidGrant,
    LoginThrottle,
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


@dataclass(frozen=True)
class CodeSent:
    expires_in: int
    resend_after: int


def _code_hash(runtime: Runtime, code_id: object, code: str) -> str:
    return runtime.personal_data.lookup_hash("phone", f"sms_code:{code_id}:{code}")


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
    if await accounts.by_phone_hash(session, phone_hash) is not None:
        minutes = max(1, ttl // 60)
        await sender.send(
            to=phone,
            text=f"【OneVisit】您的登录验证码是{code}，{minutes}分钟内有效。请勿告诉他人。",
        )
    return CodeSent(expires_in=ttl, resend_after=settings.sms_resend_interval_seconds)


async def sms_code_grant(
    *,
    session: AsyncSession,
    runtime: Runtime,
    username: str,
    code: str,
    device: Device,
    now: dt.datetime,
) -> SessionTokens:
    phone_hash = runtime.personal_data.lookup_hash("phone", username.strip())
    throttle = LoginThrottle.of(runtime, phone_hash, device.client_address)
    async with runtime.sign_in_attempt(phone_hash):
        await check_login_throttle(session, runtime, throttle, now=now)
        latest = await repository.latest(session, phone_hash)
        usable = (
            latest is not None
            and latest.used_at is None
            and latest.expires_at > now
            and latest.failed_attempts < runtime.settings.sms_code_max_attempts
        )
        matches = (
            latest is not None
            and usable
            and hmac.compare_digest(latest.code_hash, _code_hash(runtime, latest.id, code.strip()))
        )
        account = await accounts.by_phone_hash(session, phone_hash)
        if latest is None or not matches or account is None:
            if latest is not None and usable:
                async with runtime.outcomes.begin() as outcomes:
                    await repository.count_failure(outcomes, latest.id)
            raise await record_login_failure(
                runtime,
                throttle,
                now=now,
                refusal=InvalidGrant("the code is wrong, used or expired"),
            )
    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    if not await repository.spend(session, latest.id, now=now):
        raise InvalidGrant("the code is wrong, used or expired")
    await record_sign_in(session, runtime, throttle, now=now)
    return await issue_session_tokens(
        session=session, runtime=runtime, account=account, device=device, now=now
    )
