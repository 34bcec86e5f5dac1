"""The rules of rating: only the applicant, only once, only after completion."""

import uuid

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.clients.cases import fetch_case
from rating_svc.models import Rating, Rectification
from rating_svc.ratings import repository
from rating_svc.ratings.schemas import RatingCreate
from servicekit.auth import Principal
from servicekit.case_numbers import CASE_NUMBER_PATTERN
from servicekit.problems import Conflict, Forbidden, NotFound, extension_members


class CaseNotCompleted(Conflict):
    code = "case_not_completed"
    title = "Only a completed case can be rated"
    members = extension_members(case_status={"type": "string", "examples": ["under_review"]})


class AlreadyRated(Conflict):
    code = "already_rated"
    title = "This case has already been rated"
    members = extension_members(
        case_no={
            "type": "string",
            "pattern": CASE_NUMBER_PATTERN,
            "examples": ["330302-20261126-000001"],
        }
    )


class DelegateCannotRate(Forbidden):
    code = "delegate_cannot_rate"
    title = "A delegate cannot rate on the principal's behalf"


class RatingNotFound(NotFound):
    code = "rating_not_found"
    title = "No such rating of yours"


def is_bad_review(rating: Rating, *, max_score: int) -> bool:
    return min(rating.efficiency, rating.quality, rating.attitude) <= max_score


async def rate_case(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    payload: RatingCreate,
    bad_review_max_score: int,
) -> Rating:
    if principal.act is not None:
        raise DelegateCannotRate()
    # The case first, read with the caller's authority: someone else's case is not found, and
    # whether it was rated is none of their business (case numbers are easily guessed).
    case = await fetch_case(http, payload.case_no, token=principal.token)
    if await repository.get_by_case(session, payload.case_no) is not None:
        raise AlreadyRated(case_no=payload.case_no)
    if case.status != "completed":
        raise CaseNotCompleted(f"the case is {case.status}", case_status=case.status)
    rating = Rating(
        case_no=case.case_no,
        citizen_id=principal.sub,
        department_id=case.department_id,
        item_code=case.item_code,
        region_code=case.region_code,
        efficiency=payload.efficiency,
        quality=payload.quality,
        attitude=payload.attitude,
        comment=payload.comment,
    )
    try:
        await repository.add(session, rating)
    except IntegrityError as exc:  # the same case rated twice at once: the second loses
        raise AlreadyRated(case_no=payload.case_no) from exc
    if is_bad_review(rating, max_score=bad_review_max_score):
        await repository.add_rectification(
            session, Rectification(rating_id=rating.id, department_id=rating.department_id)
        )
    return rating


async def rating_of(*, session: AsyncSession, principal: Principal, rating_id: uuid.UUID) -> Rating:
    """The caller's own rating; a delegate sees the principal's ratings of the items the
    delegation covers only, as case-svc shows them the cases of those items only."""
    rating = await repository.get(session, rating_id)
    if rating is None or rating.citizen_id != principal.sub:
        raise RatingNotFound()
    if principal.act is not None and principal.scope and rating.item_code not in principal.scope:
        raise RatingNotFound()
    return rating
