"""HTTP endpoints for ratings: parse, authorise, delegate."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status

from rating_svc.appeals.schemas import AppealOutcomeRead, as_appeal_status
from rating_svc.clients.cases import CaseNotFound
from rating_svc.deps import NowDep, OutboxDep, SettingsDep
from rating_svc.models import Appeal, Rating, Rectification
from rating_svc.ratings import service
from rating_svc.ratings.schemas import (
    LevelList,
    LevelRead,
    RatingCreate,
    RatingRead,
    TagRead,
    as_channel,
    as_kind,
)
from rating_svc.ratings.service import (
    AlreadyRated,
    CaseNotCompleted,
    FollowUpNotDue,
    RatingNotFound,
    RatingWindowClosed,
    TagsNotOfLevel,
)
from rating_svc.rules.levels import LEVELS
from servicekit.auth import Principal, PrincipalDep, principal_of
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/ratings/v1", tags=["ratings"])

Applicant = Annotated[Principal, principal_of("citizen", "enterprise")]


@router.get("/levels", response_model=LevelList)
async def list_levels() -> LevelList:
    """The five levels, best first, each with the tags a rating at that level may pick. Public:
    the app shows them before anyone signs in."""
    return LevelList(
        items=[
            LevelRead(
                level=level.level,
                key=level.key,
                name=level.name,
                bad_review=level.bad_review,
                tags=[TagRead(code=tag.code, name=tag.name) for tag in level.tags],
            )
            for level in sorted(LEVELS.values(), key=lambda level: -level.level)
        ]
    )


@router.post(
    "/ratings",
    status_code=status.HTTP_201_CREATED,
    response_model=RatingRead,
    responses=problem_responses(
        CaseNotFound,
        CaseNotCompleted,
        AlreadyRated,
        RatingWindowClosed,
        FollowUpNotDue,
        TagsNotOfLevel,
        UpstreamUnavailable,
    ),
)
async def create_rating(
    payload: RatingCreate,
    principal: Applicant,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    settings: SettingsDep,
    http: HttpDep,
    now: NowDep,
    outbox: OutboxDep,
) -> Response:
    """Rate a completed case of the caller's, once, within ``RATING_WINDOW_DAYS`` of its
    completion: a level (5 very satisfied … 1 very dissatisfied; 2 and 1 are bad reviews),
    optional scores of efficiency, quality and attitude, tags from the level's list, a comment
    and the channel. A delegate rates the cases of the items delegated to her, recorded as
    hers beside the applicant's. Someone else's case is 404 whatever its state. A retry with
    the same Idempotency-Key answers the same rating instead of ``already_rated``.

    A bad review (level 2 or 1) opens a rectification by the handling department. Once the
    department reports it, the citizen rates the rectification with ``kind = follow_up`` (the
    invitation says so), within ``RATING_WINDOW_DAYS`` of the report: that closes it."""
    if claim.replay is not None:
        return claim.replay
    rating, rectification = await service.rate(
        session=session,
        http=http,
        principal=principal,
        payload=payload,
        now=now,
        settings=settings,
        outbox=outbox,
    )
    view = rating_view(rating, rectification)
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
    rating_id: uuid.UUID, principal: PrincipalDep, session: SessionDep
) -> RatingRead:
    rating = await service.rating_of(session=session, principal=principal, rating_id=rating_id)
    return rating_view(
        rating,
        await service.rectification_of(session, rating),
        await service.appeal_of(session, rating),
    )


def rating_view(
    rating: Rating, rectification: Rectification | None, appeal: Appeal | None = None
) -> RatingRead:
    return RatingRead(
        id=rating.id,
        case_no=rating.case_no,
        kind=as_kind(rating.kind),
        item_code=rating.item_code,
        department_id=rating.department_id,
        region_code=rating.region_code,
        level=rating.level,
        level_key=LEVELS[rating.level].key,
        bad_review=rating.bad_review,
        efficiency=rating.efficiency,
        quality=rating.quality,
        attitude=rating.attitude,
        tags=list(rating.tags),
        comment=rating.comment,
        channel=as_channel(rating.channel),
        rated_by=rating.actor_id,
        rectification_id=rectification.id if rectification is not None else None,
        appeal=(
            AppealOutcomeRead(
                status=as_appeal_status(appeal.status),
                decided_at=appeal.decided_at,
                excluded_from_figures=rating.excluded_at is not None,
            )
            if appeal is not None
            else None
        ),
        created_at=rating.created_at,
    )
