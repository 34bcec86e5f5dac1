"""The rules of real-name and face verification, and of which account an ID number is bound to.

Real name: the ID number is checked locally first (GB 11643, its region known to catalog-svc),
then the population registry in data-exchange-svc is asked whether the name matches it (verify
without sharing). A match is only a claim: anyone who knows a name and a number can make one,
so it is recorded on the account (sealed) and binds nothing. It is never compared with other
accounts, and its answer is the same whether or not another account holds the number. Questions
to the registry are bounded per account and hour.

Binding: the face match against the claimed number's registry template binds it. The account
reaches level 2 (3 for the face window), its registered residence is read, and the exchange
links the account to the registry subject. When another account held the number, this later
face match takes it over: the earlier account loses its real name, its sessions and its link at
the exchange. Every other account's claim of the number is removed. Each of these is written
to ``binding_event`` with the binding itself, and the phones of the accounts displaced are
told by SMS once the face match has committed.

Face: the seam, stated honestly. Template extraction and liveness detection run on the phone,
inside a certified face SDK that this repository does not contain; the SDK binds its capture to
the challenge's nonce and hands the app a 128-dimension template. This service issues the
single-use, short-lived challenge, compares the submitted template with the registry's by cosine
similarity, bounds the attempts, locks after too many failures, and records each score and
decision. It never stores a submitted template. It does not verify a liveness attestation: a
production deployment would check the SDK vendor's signature over the nonce here.

Refusals that must leave a trace (a mismatch, a spent challenge, a lockout) are written in a
transaction of their own, since the request's transaction rolls back with the refusal.
"""

import datetime as dt
import math
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import citizen_account, is_bound
from identity_svc.clients import exchange
from identity_svc.devices import Device
from identity_svc.models import (
    Account,
    BindingEvent,
    FaceAttempt,
    FaceChallenge,
    RealNameAttempt,
)
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.sms.senders import SmsSender, SmsUnavailable
from identity_svc.tokens import repository as token_store
from identity_svc.tokens.service import SessionTokens, service_token, step_up_tokens
from identity_svc.verification import repository
from identity_svc.verification.schemas import TEMPLATE_DIMENSIONS
from servicekit.auth import InsufficientAssurance, Principal
from servicekit.problems import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.regions import InvalidRegionCode, RegionCode
from servicekit.resident_id import InvalidResidentId, ResidentId, parse_resident_id

log = structlog.get_logger("identity_svc.verification")

CHINA = ZoneInfo("Asia/Shanghai")
REAL_NAME_PURPOSE = "real_name_verification"
FACE_PURPOSE = "face_verification"
#: What a face challenge is for: binding the account's real-name claim, or stepping up to
#: level 3 for services that need a recent face match.
BINDING_PURPOSE = "binding"
STEP_UP_PURPOSE = "step_up"
#: What the phone of an account that lost its real name (or its claim of one) is told, by the
#: event's kind: nothing about the person, the number or the other account.
DISPLACED_TEXTS = {
    "lost": (
        "【OneVisit】您账号的实名认证已解除：该身份的本人已通过人脸识别在另一个账号完成实名认证，"
        "本账号已退出登录。如非您本人操作，请联系客服。"
    ),
    "claim_lost": (
        "【OneVisit】您账号提交的实名信息已移除：该身份的本人已通过人脸识别在另一个账号完成实名认证。"
        "如有疑问，请联系客服。"
    ),
}


class DelegateCannotVerify(Forbidden):
    code = "delegate_cannot_verify"
    title = "Only the account holder can verify their own identity"


class RealNameAlreadyVerified(Conflict):
    code = "real_name_already_verified"
    title = "This account's real name is already verified"


class InvalidIdNumber(DomainError):
    status = 422
    code = "invalid_id_number"
    title = "The ID number is not valid"
    members = extension_members(
        reason={
            "type": "string",
            "description": "The first rule the number breaks",
            "enum": [
                "wrong_length",
                "invalid_characters",
                "unknown_region",
                "invalid_birth_date",
                "birth_date_in_future",
                "check_character_mismatch",
            ],
            "examples": ["check_character_mismatch"],
        }
    )


class RealNameMismatch(DomainError):
    status = 422
    code = "real_name_mismatch"
    title = "The name and the ID number do not match the population registry"
    members = extension_members(
        attempts_left={
            "type": "integer",
            "description": "Attempts before real-name verification pauses",
            "examples": [4],
        }
    )


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"
    title = "Too many real-name attempts: try again later"
    members = extension_members(
        retry_at={
            "type": "string",
            "format": "date-time",
            "examples": ["2026-11-27T02:30:00+00:00"],
        }
    )


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"
    title = "No such face challenge of yours"


class ChallengeExpired(DomainError):
    status = 410
    code = "challenge_expired"
    title = "The face challenge has expired: ask for a new one"
    members = extension_members(
        expired_at={
            "type": "string",
            "format": "date-time",
            "examples": ["2026-11-26T02:31:00+00:00"],
        }
    )


class ChallengeUsed(Conflict):
    code = "challenge_used"
    title = "The face challenge was already used: ask for a new one"


class FaceMismatch(DomainError):
    status = 422
    code = "face_mismatch"
    title = "The face does not match the registry's"
    members = extension_members(
        attempts_left={
            "type": "integer",
            "description": "Attempts before face verification locks",
            "examples": [2],
        }
    )


class FaceLocked(DomainError):
    status = 423
    code = "face_locked"
    title = "Too many failed face verifications: try again later"
    members = extension_members(
        locked_until={
            "type": "string",
            "format": "date-time",
            "examples": ["2026-11-26T03:00:00+00:00"],
        }
    )


class BindingInProgress(Conflict):
    """Two face matches of one person bound her number to two accounts at once; the other
    committed first. Only someone whose face just matched the number's template hears it, and
    nothing was spent: the same challenge may be sent again, and then takes the number over."""

    code = "binding_in_progress"
    title = "This identity is being bound at this moment: send the verification again"


@dataclass(frozen=True)
class RealNameClaim:
    account: Account
    name: str
    resident: ResidentId


@dataclass(frozen=True)
class FaceOutcome:
    account: Account
    tokens: SessionTokens
    #: The ``lost`` and ``claim_lost`` events this face match wrote: accounts whose phones are
    #: to be told, once it has committed (``tell_displaced``).
    displaced: Sequence[uuid.UUID] = ()


def _holder(principal: Principal) -> None:
    if principal.act is not None:
        raise DelegateCannotVerify()


# Real name ---------------------------------------------------------------------------------


async def _check_real_name_budget(
    session: AsyncSession, runtime: Runtime, account: Account, *, now: dt.datetime
) -> int:
    """Refuse once the hour's questions are spent; else the number left, this one included."""
    settings = runtime.settings
    window = dt.timedelta(seconds=settings.real_name_attempt_window_seconds)
    times = await repository.real_name_attempt_times(session, account.id, since=now - window)
    if len(times) >= settings.real_name_max_attempts:
        retry_at = times[-settings.real_name_max_attempts] + window
        raise TooManyAttempts(
            retry_at=retry_at.isoformat(),
            headers={"Retry-After": str(max(1, int((retry_at - now).total_seconds())))},
        )
    return settings.real_name_max_attempts - len(times)


async def _parse_id_number(
    runtime: Runtime, http: httpx.AsyncClient, text: str, *, now: dt.datetime
) -> ResidentId:
    # parse_resident_id asks region_known synchronously; catalog is asked beforehand, and only
    # when the number is well formed enough for the region part to be consulted at all.
    known: bool | None = None
    if len(text) == 18 and text[:17].isascii() and text[:17].isdigit():
        try:
            region = RegionCode.parse(text[:6])
        except InvalidRegionCode:
            pass
        else:
            known = await runtime.catalog.is_known_region(http, region)
    try:
        return parse_resident_id(
            text, today=now.astimezone(CHINA).date(), region_known=lambda _: known is True
        )
    except InvalidResidentId as exc:
        raise InvalidIdNumber(str(exc), reason=exc.reason) from exc


async def _record_real_name_attempt(
    runtime: Runtime, account_id: uuid.UUID, *, outcome: str, call_id: str, now: dt.datetime
) -> None:
    async with runtime.outcomes.begin() as outcomes:
        await repository.add_real_name_attempt(
            outcomes,
            RealNameAttempt(
                account_id=account_id, occurred_at=now, outcome=outcome, exchange_call_id=call_id
            ),
        )


def _region_of(fields: dict[str, Any]) -> RegionCode:
    value = fields.get("registered_region")
    try:
        if not isinstance(value, str):
            raise InvalidRegionCode("not a string")
        return RegionCode.parse(value)
    except InvalidRegionCode as exc:
        raise UpstreamUnavailable("the registry gave no usable registered region") from exc


async def claim_real_name(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    principal: Principal,
    name: str,
    id_number: str,
    now: dt.datetime,
) -> RealNameClaim:
    """Record the name and number as the account's claim once the registry matches them (a
    newer claim replaces an older one). The account stays at its level: the face match binds."""
    _holder(principal)
    account = await citizen_account(session=session, principal=principal)
    if is_bound(account):
        raise RealNameAlreadyVerified()
    attempts_left = await _check_real_name_budget(session, runtime, account, now=now)
    resident = await _parse_id_number(runtime, http, id_number, now=now)

    answer = await exchange.name_matches(
        http,
        token=await service_token(runtime, now=now),
        id_number=resident.number,
        name=name,
        purpose=REAL_NAME_PURPOSE,
    )
    if not answer.match:
        await _record_real_name_attempt(
            runtime, account.id, outcome="mismatch", call_id=answer.call_id, now=now
        )
        raise RealNameMismatch(attempts_left=attempts_left - 1)

    # Whether another account holds the number is not looked at here: what only a name and a
    # number earn must not differ between a number that is bound and one that is not.
    personal = runtime.personal_data
    account.real_name_claimed_at = now
    account.claimed_name_sealed = personal.seal("name", name, account_id=account.id)
    account.claimed_id_number_sealed = personal.seal(
        "id_number", resident.number, account_id=account.id
    )
    account.claimed_id_number_hash = personal.lookup_hash("id_number", resident.number)
    await accounts.flush(session)
    await repository.add_real_name_attempt(
        session,
        RealNameAttempt(
            account_id=account.id,
            occurred_at=now,
            outcome="matched",
            exchange_call_id=answer.call_id,
        ),
    )
    return RealNameClaim(account=account, name=name, resident=resident)


# Face ---------------------------------------------------------------------------------------


def _check_face_lock(account: Account, *, now: dt.datetime) -> None:
    if account.face_locked_until is not None and account.face_locked_until > now:
        raise _face_locked(account.face_locked_until, now=now)


def _face_locked(until: dt.datetime, *, now: dt.datetime) -> FaceLocked:
    return FaceLocked(
        locked_until=until.isoformat(),
        headers={"Retry-After": str(max(1, int((until - now).total_seconds())))},
    )


def _face_purpose(account: Account) -> str:
    """What a face match of this account would do: step up on its bound number, or bind its
    claim. The account is the authority, not the token."""
    if is_bound(account):
        return STEP_UP_PURPOSE
    if account.claimed_id_number_sealed is not None:
        return BINDING_PURPOSE
    raise InsufficientAssurance(
        "a face match needs a real name to compare with: send it first",
        required_loa=2,
        current_loa=account.loa,
        step="real_name",
    )


async def open_face_challenge(
    *, session: AsyncSession, runtime: Runtime, principal: Principal, now: dt.datetime
) -> FaceChallenge:
    _holder(principal)
    account = await citizen_account(session=session, principal=principal)
    purpose = _face_purpose(account)
    _check_face_lock(account, now=now)
    challenge = FaceChallenge(
        account_id=account.id,
        nonce=secrets.token_urlsafe(32),
        purpose=purpose,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=runtime.settings.face_challenge_ttl_seconds),
    )
    await repository.add_challenge(session, challenge)
    return challenge


def cosine_similarity(a: Sequence[float], b: Sequence[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    if norms == 0.0:
        raise ValueError("a zero vector has no direction")
    return dot / norms


def _reference_template(fields: dict[str, Any]) -> list[float]:
    value = fields.get("face_template")
    if (
        isinstance(value, list)
        and len(value) == TEMPLATE_DIMENSIONS
        and all(isinstance(x, int | float) and math.isfinite(x) for x in value)
        and any(x != 0 for x in value)
    ):
        return [float(x) for x in value]
    raise UpstreamUnavailable("the registry gave no usable face template")


async def verify_face(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    principal: Principal,
    challenge_id: uuid.UUID,
    template: list[float],
    device: Device,
    now: dt.datetime,
) -> FaceOutcome:
    """A face match (``match_face``), and tokens at the level it reached, in the caller's
    session."""
    account, displaced = await match_face(
        session=session,
        runtime=runtime,
        http=http,
        principal=principal,
        challenge_id=challenge_id,
        template=template,
        now=now,
    )
    tokens = await step_up_tokens(
        session=session,
        runtime=runtime,
        account=account,
        principal=principal,
        device=device,
        now=now,
    )
    return FaceOutcome(account=account, tokens=tokens, displaced=displaced)


async def match_face(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    principal: Principal,
    challenge_id: uuid.UUID,
    template: list[float],
    now: dt.datetime,
) -> tuple[Account, Sequence[uuid.UUID]]:
    """Compare the face with the registry's template of the account's number: the bound one
    (a step-up), else the claimed one, which a match binds. Every refusal is the same whether
    the number is bound to another account or not. The account at its new level, and the
    accounts a binding displaced (to be told once committed)."""
    _holder(principal)
    account = await citizen_account(session=session, principal=principal)
    purpose = _face_purpose(account)
    challenge = await repository.challenge(session, challenge_id)
    if challenge is None or challenge.account_id != account.id:
        raise ChallengeNotFound()
    if challenge.used_at is not None:
        raise ChallengeUsed()
    if challenge.expires_at <= now:
        raise ChallengeExpired(expired_at=challenge.expires_at.isoformat())
    _check_face_lock(account, now=now)
    binding = purpose == BINDING_PURPOSE
    sealed = account.claimed_id_number_sealed if binding else account.id_number_sealed
    assert sealed is not None  # as _face_purpose found it
    id_number = runtime.personal_data.unseal("id_number", sealed, account_id=account.id)

    token = await service_token(runtime, now=now)
    fields = ["face_template", "registered_region"] if binding else ["face_template"]
    try:
        person = await exchange.read_person(
            http, token=token, id_number=id_number, fields=fields, purpose=FACE_PURPOSE
        )
    except exchange.SubjectNotInRegistry as exc:
        raise UpstreamUnavailable("the registry no longer holds this person") from exc
    score = cosine_similarity(template, _reference_template(person.fields))
    threshold = runtime.settings.face_match_threshold
    attempt = FaceAttempt(
        account_id=account.id,
        challenge_id=challenge.id,
        score=score,
        threshold=threshold,
        matched=score >= threshold,
        exchange_call_id=person.call_id,
        occurred_at=now,
    )
    if not attempt.matched:
        raise await _record_face_failure(runtime, attempt, now=now)

    region = _region_of(person.fields) if binding else None
    if region is not None:
        # Before this session writes (SQLite holds one writer at a time). The exchange keeps
        # one account per subject: this link replaces the earlier holder's, if any.
        await exchange.link_citizen(
            http, token=token, account_id=str(account.id), id_number=id_number
        )
    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    if not await repository.spend_challenge(session, challenge.id, now=now):
        raise ChallengeUsed()
    await repository.add_face_attempt(session, attempt)
    displaced: list[uuid.UUID] = []
    if region is not None:
        displaced = await _bind(
            session, runtime, account, id_number, region=region, attempt=attempt, now=now
        )
    account.face_verified_until = now + dt.timedelta(
        seconds=runtime.settings.face_assurance_window_seconds
    )
    account.face_failures = 0
    await accounts.flush(session)
    return account, displaced


async def _record_face_failure(
    runtime: Runtime, attempt: FaceAttempt, *, now: dt.datetime
) -> DomainError:
    """Spend the challenge, keep the score, count the failure, lock at the limit: committed
    on its own. Returns the refusal to raise."""
    settings = runtime.settings
    locked_until: dt.datetime | None = None
    async with runtime.outcomes.begin() as outcomes:
        if not await repository.spend_challenge(outcomes, attempt.challenge_id, now=now):
            return ChallengeUsed()
        await repository.add_face_attempt(outcomes, attempt)
        failures = await repository.count_face_failure(outcomes, attempt.account_id)
        if failures >= settings.face_max_failures:
            locked_until = now + dt.timedelta(seconds=settings.face_lockout_seconds)
            await repository.lock_face(outcomes, attempt.account_id, until=locked_until)
    if locked_until is not None:
        return _face_locked(locked_until, now=now)
    # The score stays here: telling it would guide whoever tunes a forged template.
    return FaceMismatch(attempts_left=settings.face_max_failures - failures)


# Binding ------------------------------------------------------------------------------------


async def _bind(
    session: AsyncSession,
    runtime: Runtime,
    account: Account,
    id_number: str,
    *,
    region: RegionCode,
    attempt: FaceAttempt,
    now: dt.datetime,
) -> list[uuid.UUID]:
    """Bind the account's claim, which the face ``attempt`` just proved: taken from the account
    that held the number, if one did, and every other account's claim of it removed. The
    events written for the accounts displaced, to tell them."""
    personal = runtime.personal_data
    id_number_hash = personal.lookup_hash("id_number", id_number)
    resident = parse_resident_id(
        id_number, today=now.astimezone(CHINA).date(), region_known=lambda _: True
    )  # checked at the claim; read again for its birth date and sex
    claimed_name = account.claimed_name_sealed
    assert claimed_name is not None  # claimed together with the number
    displaced: list[uuid.UUID] = []

    async def displace(kind: str, other: Account) -> None:
        displaced.append(
            await _record_binding(
                session,
                kind=kind,
                account_id=other.id,
                actor_id=account.id,
                other_account_id=account.id,
                id_number_hash=id_number_hash,
                attempt=attempt,
                now=now,
            )
        )

    earlier = await accounts.by_id_number_hash(session, id_number_hash)
    if earlier is not None:  # never this account: a bound one binds no claim
        _release(earlier)
        # Before the number is bound here: the unique constraint holds at every statement.
        await accounts.flush(session)
        ended = await token_store.revoke_sessions_of(session, earlier.id, keep=None, now=now)
        # Its access tokens too, at the gateway within seconds, not when they expire.
        await revocations.end_session_tokens(session, runtime, ended, now=now)
        await displace("lost", earlier)
    for claimant in await accounts.claiming(session, id_number_hash):
        if claimant.id != account.id:
            _drop_claim(claimant)
            await displace("claim_lost", claimant)

    account.loa = 2
    account.real_name_verified_at = now
    # The claim's ciphertexts are sealed for this account and these kinds: they move as they are.
    account.name_sealed = claimed_name
    account.name_hash = personal.lookup_hash(
        "name", personal.unseal("name", claimed_name, account_id=account.id)
    )
    account.id_number_sealed = account.claimed_id_number_sealed
    account.id_number_hash = id_number_hash
    account.birth_date = resident.birth_date
    account.sex = resident.sex
    account.region_code = region.official
    _drop_claim(account)
    try:
        await accounts.flush(session)
    except IntegrityError as exc:  # another face match of hers bound it first, just now
        raise BindingInProgress() from exc
    await _record_binding(
        session,
        kind="taken" if earlier is not None else "bound",
        account_id=account.id,
        actor_id=account.id,
        other_account_id=earlier.id if earlier is not None else None,
        id_number_hash=id_number_hash,
        attempt=attempt,
        now=now,
    )
    return displaced


def _drop_claim(account: Account) -> None:
    account.real_name_claimed_at = None
    account.claimed_name_sealed = None
    account.claimed_id_number_sealed = None
    account.claimed_id_number_hash = None


def _release(account: Account) -> None:
    """Take the bound real name from an account: back to level 1, its face window closed."""
    account.loa = 1
    account.real_name_verified_at = None
    account.name_sealed = None
    account.name_hash = None
    account.id_number_sealed = None
    account.id_number_hash = None
    account.birth_date = None
    account.sex = None
    account.region_code = None
    account.face_verified_until = None


async def _record_binding(
    session: AsyncSession,
    *,
    kind: str,
    account_id: uuid.UUID,
    other_account_id: uuid.UUID | None,
    actor_id: uuid.UUID,
    id_number_hash: str,
    attempt: FaceAttempt,
    now: dt.datetime,
) -> uuid.UUID:
    event = BindingEvent(
        occurred_at=now,
        kind=kind,
        account_id=account_id,
        actor_id=actor_id,
        other_account_id=other_account_id,
        id_number_hash=id_number_hash,
        face_attempt_id=attempt.id,
    )
    await repository.add_binding_event(session, event)
    return event.id


async def tell_displaced(
    runtime: Runtime, sender: SmsSender, displaced: Sequence[uuid.UUID]
) -> None:
    """Tell the phone of each account that lost its real name or its claim of one, once the
    face match that displaced it committed, and record when. An SMS that cannot be sent leaves
    ``notified_at`` empty: the event stays for the audit, and the account finds itself without
    the real name at its next sign-in."""
    for event_id in displaced:
        async with runtime.outcomes() as session:
            event = await repository.binding_event(session, event_id)
            account = await accounts.get(session, event.account_id) if event else None
        if event is None or account is None:
            continue
        phone = runtime.personal_data.unseal("phone", account.phone_sealed, account_id=account.id)
        try:
            await sender.send(to=phone, text=DISPLACED_TEXTS[event.kind])
        except (SmsUnavailable, OSError) as exc:
            log.warning(
                "displaced_account_not_told",
                binding_event_id=str(event_id),
                error_type=type(exc).__name__,
            )
            continue
        async with runtime.outcomes.begin() as session:
            await repository.mark_told(session, event_id, now=runtime.now())
