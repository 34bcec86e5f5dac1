"""HTTP endpoints for real-name and face verification: parse, authorise, delegate."""

from fastapi import APIRouter, status

from identity_svc.accounts.service import AccountNotFound
from identity_svc.deps import RuntimeDep
from identity_svc.devices import DeviceDep
from identity_svc.personal_data import mask_id_number, mask_name
from identity_svc.verification import service
from identity_svc.verification.schemas import (
    FaceChallengeRead,
    FaceVerificationCreate,
    FaceVerificationResult,
    RealNameCreate,
    RealNameResult,
)
from identity_svc.verification.service import (
    ChallengeExpired,
    ChallengeNotFound,
    ChallengeUsed,
    DelegateCannotVerify,
    FaceLocked,
    FaceMismatch,
    IdNumberAlreadyBound,
    InvalidIdNumber,
    RealNameAlreadyVerified,
    RealNameMismatch,
    TooManyAttempts,
)
from servicekit.auth import InsufficientAssurance, PrincipalDep
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.openapi import problem_responses
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/identity/v1/me", tags=["verification"])


@router.post(
    "/real-name",
    response_model=RealNameResult,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotVerify,
        RealNameAlreadyVerified,
        IdNumberAlreadyBound,
        InvalidIdNumber,
        RealNameMismatch,
        TooManyAttempts,
        UpstreamUnavailable,
    ),
)
async def verify_real_name(
    payload: RealNameCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    http: HttpDep,
    device: DeviceDep,
) -> RealNameResult:
    """Check name + ID number against the population registry; on a match the account reaches
    level 2 and the answer carries fresh tokens with ``loa`` 2 and ``region``."""
    outcome = await service.verify_real_name(
        session=session,
        runtime=runtime,
        http=http,
        principal=principal,
        name=payload.name,
        id_number=payload.id_number,
        device=device,
        now=runtime.now(),
    )
    tokens = outcome.tokens
    return RealNameResult(
        loa=outcome.account.loa,
        region=outcome.account.region_code or "",
        name_masked=mask_name(outcome.name),
        id_number_masked=mask_id_number(outcome.resident.number),
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post(
    "/face/challenges",
    status_code=status.HTTP_201_CREATED,
    response_model=FaceChallengeRead,
    responses=problem_responses(
        AccountNotFound, DelegateCannotVerify, InsufficientAssurance, FaceLocked
    ),
)
async def open_face_challenge(
    principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> FaceChallengeRead:
    """A single-use challenge for one face capture, valid for a short time (level 2 needed)."""
    now = runtime.now()
    challenge = await service.open_face_challenge(
        session=session, runtime=runtime, principal=principal, now=now
    )
    return FaceChallengeRead(
        challenge_id=challenge.id,
        nonce=challenge.nonce,
        purpose=challenge.purpose,
        expires_at=challenge.expires_at,
        expires_in=int((challenge.expires_at - now).total_seconds()),
    )


@router.post(
    "/face/verifications",
    response_model=FaceVerificationResult,
    responses=problem_responses(
        AccountNotFound,
        DelegateCannotVerify,
        InsufficientAssurance,
        ChallengeNotFound,
        ChallengeUsed,
        ChallengeExpired,
        FaceMismatch,
        FaceLocked,
        UpstreamUnavailable,
    ),
)
async def verify_face(
    payload: FaceVerificationCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    http: HttpDep,
    device: DeviceDep,
) -> FaceVerificationResult:
    """Compare the phone's face template with the registry's under a challenge; a match holds
    level 3 for a window, and the answer carries a token that expires no later than it."""
    outcome = await service.verify_face(
        session=session,
        runtime=runtime,
        http=http,
        principal=principal,
        challenge_id=payload.challenge_id,
        template=payload.template,
        device=device,
        now=runtime.now(),
    )
    tokens = outcome.tokens
    assert outcome.account.face_verified_until is not None
    return FaceVerificationResult(
        loa=3,
        loa_expires_at=outcome.account.face_verified_until,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )
