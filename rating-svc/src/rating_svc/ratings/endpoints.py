"""HTTP endpoints for ratings: parse, authorise, delegate."""

import uuid

from fastapi import APIRouter, Response, status

from rating_svc.clients.cases import CaseNotFound
from rating_svc.deps import SettingsDep
from rating_svc.models import Rating
from rating_svc.ratings import service
from rating_svc.ratings.schemas import RatingCreate, RatingRead
from rating_svc.ratings.service import (
    AlreadyRated,
    CaseNotCompleted,
    DelegateCannotRate,
    RatingNotFound,
)
from rating_svc.settings import RatingSettings
from servicekit.auth import PrincipalDep, require_type
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/ratings/v1", tags=["ratings"])


@router.post(
    "/ratings",
    status_code=status.HTTP_201_CREATED,
    response_model=RatingRead,
    responses=problem_responses(
        DelegateCannotRate, AlreadyRated, CaseNotCompleted, CaseNotFound, UpstreamUnavailable
    ),
)
async def create_rating(
    payload: RatingCreate,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    settings: SettingsDep,
    http: HttpDep,
) -> Response:
    """Rate a completed case of the caller's: efficiency, quality and attitude, 1 to 5. A retry
    with the same Idempotency-Key answers the same rating instead of ``already_rated``."""
    if claim.replay is not None:
        return claim.replay
    require_type(principal, "citizen", "enterprise")
    rating = await service.rate_case(
        session=session,
        http=http,
        principal=principal,
        payload=payload,
        bad_review_max_score=settings.bad_review_max_score,
    )
    view = _view(rating, settings)
    return await claim.answer(
        session,
        status=201,
        body=view.model_dump(mode="json"),
        headers={"Location": f"/ratings/v1/ratings/{view.id}"},
    )


@router.get(
    "/ratings/{rating_id}", response_model=RatingRead, responses=problem_responses(RatingNotFound)
)
async def get_rating(
    rating_id: uuid.UUID, principal: PrincipalDep, session: SessionDep, settings: SettingsDep
) -> RatingRead:
    rating = await service.rating_of(session=session, principal=principal, rating_id=rating_id)
    return _view(rating, settings)


def _view(rating: Rating, settings: RatingSettings) -> RatingRead:
    return RatingRead(
        id=rating.id,
        case_no=rating.case_no,
        item_code=rating.item_code,
        department_id=rating.department_id,
        region_code=rating.region_code,
        efficiency=rating.efficiency,
        quality=rating.quality,
        attitude=rating.attitude,
        comment=rating.comment,
        bad_review=service.is_bad_review(rating, max_score=settings.bad_review_max_score),
        created_at=rating.created_at,
    )
