"""The rules of real-name and face verification.

Real name: the ID number is checked locally first (GB 11643, its region known to catalog-svc),
then the population registry in data-exchange-svc is asked whether the name matches it
(verify without sharing), then for the registered residence. Questions to the registry are
bounded per account and hour.

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
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import bound_id_number, citizen_account
from identity_svc.clients import exchange
from identity_svc.devices import Device
from identity_svc.models import Account, FaceAttempt, FaceChallenge, RealNameAttempt
from identity_svc.runtime import Runtime
from identity_svc.tokens.service import SessionTokens, service_token, step_up_tokens
from identity_svc.verification import repository
from identity_svc.verification.schemas import TEMPLATE_DIMENSIONS
from servicekit.auth import Principal, require_assurance
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

CHINA = ZoneInfo("Asia/Shanghai")
REAL_NAME_PURPOSE = "real_name_verification"
FACE_PURPOSE = "face_verification"
#: What a level-3 window is for: stepping up to services that need a face match.
CHALLENGE_PURPOSE = "step_up"


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


class IdNumberAlreadyBound(Conflict):
    code = "id_number_already_bound"
    title = "This ID number is bound to another account"


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


@dataclass(frozen=True)
class RealNameOutcome:
    account: Account
    name: str
    resident: ResidentId
    tokens: SessionTokens


@dataclass(frozen=True)
class FaceOutcome:
    account: Account
    tokens: SessionTokens


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


async def verify_real_name(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    principal: Principal,
    name: str,
    id_number: str,
    device: Device,
    now: dt.datetime,
) -> RealNameOutcome:
    _holder(principal)
    account = await citizen_account(session=session, principal=principal)
    if account.real_name_verified_at is not None:
        raise RealNameAlreadyVerified()
    attempts_left = await _check_real_name_budget(session, runtime, account, now=now)
    resident = await _parse_id_number(runtime, http, id_number, now=now)

    token = await service_token(runtime, now=now)
    answer = await exchange.name_matches(
        http, token=token, id_number=resident.number, name=name, purpose=REAL_NAME_PURPOSE
    )
    if not answer.match:
        await _record_real_name_attempt(
            runtime, account.id, outcome="mismatch", call_id=answer.call_id, now=now
        )
        raise RealNameMismatch(attempts_left=attempts_left - 1)

    personal = runtime.personal_data
    id_number_hash = personal.lookup_hash("id_number", resident.number)
    # Asked only after a match: whether a number is bound is told only to who knows its name.
    holder = await accounts.by_id_number_hash(session, id_number_hash)
    if holder is not None and holder.id != account.id:
        await _record_real_name_attempt(
            runtime, account.id, outcome="already_bound", call_id=answer.call_id, now=now
        )
        raise IdNumberAlreadyBound()
    try:
        person = await exchange.read_person(
            http,
            token=token,
            id_number=resident.number,
            fields=["registered_region"],
            purpose=REAL_NAME_PURPOSE,
        )
    except exchange.SubjectNotInRegistry as exc:
        raise UpstreamUnavailable("the registry matched a person it then could not find") from exc
    region = _region_of(person.fields)
    await exchange.link_citizen(
        http, token=token, account_id=str(account.id), id_number=resident.number
    )

    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    account.loa = 2
    account.real_name_verified_at = now
    account.name_sealed = personal.seal("name", name, account_id=account.id)
    account.name_hash = personal.lookup_hash("name", name)
    account.id_number_sealed = personal.seal("id_number", resident.number, account_id=account.id)
    account.id_number_hash = id_number_hash
    account.birth_date = resident.birth_date
    account.sex = resident.sex
    account.region_code = region.official
    try:
        await accounts.flush(session)
    except IntegrityError as exc:  # bound to another account by a concurrent request
        raise IdNumberAlreadyBound() from exc
    await repository.add_real_name_attempt(
        session,
        RealNameAttempt(
            account_id=account.id,
            occurred_at=now,
            outcome="matched",
            exchange_call_id=answer.call_id,
        ),
    )
    tokens = await step_up_tokens(
        session=session,
        runtime=runtime,
        account=account,
        principal=principal,
        device=device,
        now=now,
    )
    return RealNameOutcome(account=account, name=name, resident=resident, tokens=tokens)


# Face ---------------------------------------------------------------------------------------


def _check_face_lock(account: Account, *, now: dt.datetime) -> None:
    if account.face_locked_until is not None and account.face_locked_until > now:
        raise _face_locked(account.face_locked_until, now=now)


def _face_locked(until: dt.datetime, *, now: dt.datetime) -> FaceLocked:
    return FaceLocked(
        locked_until=until.isoformat(),
        headers={"Retry-After": str(max(1, int((until - now).total_seconds())))},
    )


async def open_face_challenge(
    *, session: AsyncSession, runtime: Runtime, principal: Principal, now: dt.datetime
) -> FaceChallenge:
    _holder(principal)
    require_assurance(principal, 2)
    account = await citizen_account(session=session, principal=principal)
    bound_id_number(account)
    _check_face_lock(account, now=now)
    challenge = FaceChallenge(
        account_id=account.id,
        nonce=secrets.token_urlsafe(32),
        purpose=CHALLENGE_PURPOSE,
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
    _holder(principal)
    require_assurance(principal, 2)
    account = await citizen_account(session=session, principal=principal)
    challenge = await repository.challenge(session, challenge_id)
    if challenge is None or challenge.account_id != account.id:
        raise ChallengeNotFound()
    if challenge.used_at is not None:
        raise ChallengeUsed()
    if challenge.expires_at <= now:
        raise ChallengeExpired(expired_at=challenge.expires_at.isoformat())
    _check_face_lock(account, now=now)
    id_number = runtime.personal_data.unseal(
        "id_number", bound_id_number(account), account_id=account.id
    )

    token = await service_token(runtime, now=now)
    try:
        person = await exchange.read_person(
            http, token=token, id_number=id_number, fields=["face_template"], purpose=FACE_PURPOSE
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

    await runtime.keys.load(now=now)  # before this session writes: a first key commits apart
    if not await repository.spend_challenge(session, challenge.id, now=now):
        raise ChallengeUsed()
    await repository.add_face_attempt(session, attempt)
    account.face_verified_until = now + dt.timedelta(
        seconds=runtime.settings.face_assurance_window_seconds
    )
    account.face_failures = 0
    await accounts.flush(session)
    tokens = await step_up_tokens(
        session=session,
        runtime=runtime,
        account=account,
        principal=principal,
        device=device,
        now=now,
    )
    return FaceOutcome(account=account, tokens=tokens)


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
