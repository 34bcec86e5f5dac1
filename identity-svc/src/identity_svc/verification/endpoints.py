"""HTTP endpoints for real-name and face verification: parse, authorise, delegate."""

from fastapi import APIRouter, BackgroundTasks, status

from identity_svc.accounts.service import AccountNotFound
from identity_svc.deps import RuntimeDep, SmsSenderDep
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
    BindingInProgress,
    ChallengeExpired,
    ChallengeNotFound,
    ChallengeUsed,
    DelegateCannotVerify,
    FaceLocked,
    FaceMismatch,
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
        InvalidIdNumber,
        RealNameMismatch,
        TooManyAttempts,
        UpstreamUnavailable,
    ),
)
async def claim_real_name(
    payload: RealNameCreate,
    principal: PrincipalDep,
    session: SessionDep,
    runtime: RuntimeDep,
    http: HttpDep,
) -> RealNameResult:
    """Check name + ID number against the population registry. A match is recorded as the
    account's claim and binds nothing yet: the face match against that number's registry
    template does (``next_step``), raising the account to level 2 (3 for the face window). The
    answer does not depend on whether another account claimed or holds the number."""
    claim = await service.claim_real_name(
        session=session,
        runtime=runtime,
        http=http,
        principal=principal,
        name=payload.name,
        id_number=payload.id_number,
        now=runtime.now(),
    )
    return RealNameResult(
        loa=claim.account.loa,
        next_step="face",
        name_masked=mask_name(claim.name),
        id_number_masked=mask_id_number(claim.resident.number),
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
    """A single-use challenge for one face capture, valid for a short time: to bind the
    account's claimed real name (``purpose`` binding) or to step up on its bound one."""
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
        BindingInProgress,
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
    sms: SmsSenderDep,
    background: BackgroundTasks,
) -> FaceVerificationResult:
    """Compare the phone's face template with the registry's under a challenge; a match holds
        level 3 for a window, and the answer carries a token that expires no later than it. The
        first match of a claimed real name binds it (level 2 for good); when another account held
        that number, it loses it (its sessions end, its phone is told), every other account's claim
    of the number is removed (its phone is told too), and the answer is the same."""
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
    if outcome.displaced:  # after the commit, so that no phone hears of a take-over undone
        background.add_task(service.tell_displaced, runtime, sms, outcome.displaced)
    tokens = outcome.tokens
    assert outcome.account.face_verified_until is not None
    return FaceVerificationResult(
        loa=3,
        loa_expires_at=outcome.account.face_verified_until,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )
