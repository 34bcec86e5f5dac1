"""HTTP endpoints of her offers: the list, one offer, confirming it (filed as her) and
declining it."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response

from identity_svc.delegations.service import DelegatedTokenRefused
from identity_svc.deps import RuntimeDep, SettingsDep, StateDep
from identity_svc.offers import service
from identity_svc.offers.confirmation import PASSED_ON
from identity_svc.offers.schemas import OfferConfirmation, OfferFiled, OfferPage, OfferRead
from identity_svc.offers.service import OfferExpired, OfferNeedsInput, OfferNotFound, OfferNotOpen
from servicekit.auth import PrincipalDep, WrongPrincipalType
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/identity/v1/me/offers", tags=["offers"])

#: An offer's id in a path.
OfferId = Annotated[
    uuid.UUID, Path(description="The offer's id", examples=["0196f3d0-7a1b-7c2d-8e3f-4a5b6c7d8e01"])
]
#: Whose offer it is: a citizen's own (no delegate's, no enterprise's).
HERS = (WrongPrincipalType, DelegatedTokenRefused, OfferNotFound)


@router.get(
    "",
    response_model=OfferPage,
    responses=problem_responses(WrongPrincipalType, DelegatedTokenRefused, InvalidCursor),
)
async def list_offers(
    principal: PrincipalDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> OfferPage:
    """Your offers, newest first: what a life event of yours calls for, which the platform
    files for you in one step once you confirm it."""
    return await service.offers_of(
        session,
        principal,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
        now=runtime.now(),
    )


@router.get("/{offer_id}", response_model=OfferRead, responses=problem_responses(*HERS))
async def read_offer(
    offer_id: OfferId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> OfferRead:
    """One offer of yours, as it is now (open, confirmed, declined or expired)."""
    return await service.offer_of(session, principal, offer_id, now=runtime.now())


@router.post(
    "/{offer_id}/confirmation",
    status_code=201,
    response_model=OfferFiled,
    responses=problem_responses(
        *HERS, *PASSED_ON, OfferExpired, OfferNotOpen, OfferNeedsInput, UpstreamUnavailable
    ),
)
async def confirm_offer(
    offer_id: OfferId,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    state: StateDep,
    http: HttpDep,
    runtime: RuntimeDep,
    payload: Annotated[
        OfferConfirmation | None,
        Body(examples=[{"answers": {"mother_employee_insured": True}}]),
    ] = None,
) -> Response:
    """Confirm an offer (level 3: a face match just now): the platform files what it offers
    for you, as you, at once: it opens the draft, gives the departments the consents the draft
    asks for (your confirmation is that consent, for seven days), fills it from the registries
    and submits it. Answers the application and its cases. When something must still be typed,
    409 ``offer_needs_input`` names the draft to finish in the app; when a service is out of
    reach, 503 and the offer stays open: confirming again goes on where it stopped, and files
    nothing twice."""
    if claim.replay is not None:
        return claim.replay
    filed = await service.confirm(
        sessionmaker=state.database.sessionmaker,
        http=http,
        principal=principal,
        offer_id=offer_id,
        answers=payload.answers if payload is not None else {},
        now=runtime.now(),
    )
    return await claim.answer(session, status=201, body=filed.model_dump(mode="json"))


@router.post(
    "/{offer_id}/decline",
    response_model=OfferRead,
    responses=problem_responses(*HERS, OfferExpired, OfferNotOpen),
)
async def decline_offer(
    offer_id: OfferId, principal: PrincipalDep, session: SessionDep, runtime: RuntimeDep
) -> OfferRead:
    """Decline an offer: it files nothing, ever (declining it again changes nothing)."""
    return await service.decline(session, principal, offer_id, now=runtime.now())
