"""The rules of rating: only the applicant (or her delegate, recorded beside her), once per
case, only once it is completed and within the window after its completion, at a level with
tags from that level's list. A bad review opens a rectification; the rating of a reported
rectification (``follow_up``) closes it."""

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc import events
from rating_svc.appeals import repository as appeals_repository
from rating_svc.clients.cases import CaseNotFound, fetch_case
from rating_svc.invitations import service as invitations
from rating_svc.models import CASE, FOLLOW_UP, Appeal, Rating, Rectification
from rating_svc.ratings import repository
from rating_svc.ratings.schemas import RatingCreate
from rating_svc.rectifications import repository as rectifications_repository
from rating_svc.rectifications import service as rectifications
from rating_svc.rules.levels import LEVELS
from rating_svc.rules.workflow import Role, Status
from rating_svc.settings import RatingSettings
from rating_svc.statistics import service as statistics
from servicekit.auth import Principal
from servicekit.case_numbers import CASE_NUMBER_PATTERN
from servicekit.events import Outbox
from servicekit.problems import Conflict, DomainError, NotFound, extension_members

_CASE_NO = {
    "type": "string",
    "pattern": CASE_NUMBER_PATTERN,
    "examples": ["330302-20261126-000001"],
}


class CaseNotCompleted(Conflict):
    code = "case_not_completed"
    title = "Only a completed case can be rated"
    members = extension_members(case_status={"type": "string", "examples": ["under_review"]})


class AlreadyRated(Conflict):
    code = "already_rated"
    title = "This case has already been rated"
    members = extension_members(case_no=_CASE_NO)


class RatingWindowClosed(Conflict):
    code = "rating_window_closed"
    title = "The time to rate this case is over"
    members = extension_members(
        closed_at={
            "type": "string",
            "format": "date-time",
            "description": "When the window closed",
            "examples": ["2026-12-26T02:05:44Z"],
        }
    )


class TagsNotOfLevel(DomainError):
    status = 422
    code = "tags_not_of_level"
    title = "A tag is not one of the level's own (GET /ratings/v1/levels)"
    members = extension_members(
        level={"type": "integer", "minimum": 1, "maximum": 5, "examples": [5]},
        tags={
            "type": "array",
            "items": {"type": "string"},
            "description": "The tags the level does not list",
            "examples": [["overdue"]],
        },
    )


class FollowUpNotDue(Conflict):
    code = "follow_up_not_due"
    title = "The department has not reported the rectification of this review yet"
    members = extension_members(
        rectification_status={
            "type": "string",
            "enum": [status.value for status in Status],
            "examples": ["rectifying"],
        }
    )


class RatingNotFound(NotFound):
    code = "rating_not_found"
    title = "No such rating of yours"


def rated_by(principal: Principal) -> str | None:
    """Who rated for the applicant: the delegate, or an enterprise's representative."""
    return principal.act.sub if principal.act is not None else None


def _given(principal: Principal, payload: RatingCreate, now: dt.datetime) -> dict[str, Any]:
    """What a rating, of a case or a follow-up, takes from the request: its level with the
    level's own tags (``TagsNotOfLevel`` otherwise), scores, comment, channel and rater."""
    return {
        "actor_id": rated_by(principal),
        "level": payload.level,
        "bad_review": LEVELS[payload.level].bad_review,
        "efficiency": payload.efficiency,
        "quality": payload.quality,
        "attitude": payload.attitude,
        "tags": check_tags(payload.level, payload.tags),
        "comment": payload.comment,
        "channel": payload.channel,
        "created_at": now,
    }


def _rater(principal: Principal) -> rectifications.Actor:
    """The rater as a rectification's history records her (a delegate, for the applicant)."""
    if principal.act is not None:
        return rectifications.Actor(principal.act.sub, Role.APPLICANT, acting_for=principal.sub)
    return rectifications.Actor(principal.sub, Role.APPLICANT)


async def rate(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    payload: RatingCreate,
    now: dt.datetime,
    settings: RatingSettings,
    outbox: Outbox,
) -> tuple[Rating, Rectification | None]:
    """The rating, and the rectification it opened (a bad review) or closed (a follow-up)."""
    rectification: Rectification | None
    if payload.kind == FOLLOW_UP:
        rating, rectification = await rate_follow_up(
            session=session, principal=principal, payload=payload, now=now, outbox=outbox
        )
        await events.report_rating(outbox, session, rating, rectification)
        return rating, rectification
    rating = await rate_case(
        session=session,
        http=http,
        principal=principal,
        payload=payload,
        now=now,
        window=settings.rating_window,
    )
    rectification = None
    if rating.bad_review:
        rectification = await rectifications.open_for(
            session,
            outbox,
            rating,
            _rater(principal),
            now=now,
            call_back_working_days=settings.call_back_working_days,
            rectification_working_days=settings.rectification_working_days,
        )
    # Its rectification's id goes with it: a consumer links the two without asking.
    await events.report_rating(outbox, session, rating, rectification)
    # The roll-ups last: every rating of a region adds to the same few rows (its province's,
    # its city's, its department's), each locked until the commit, so the fewer statements
    # between this one and the commit, the less the ratings of a region wait on each other.
    await statistics.count_rating(session, rating)
    return rating, rectification


def check_tags(level: int, tags: list[str]) -> list[str]:
    """The tags, each once in the order given, if every one is the level's."""
    unknown = sorted(set(tags) - LEVELS[level].tag_codes)
    if unknown:
        raise TagsNotOfLevel(
            f"level {level} has no tag {', '.join(unknown)}", level=level, tags=unknown
        )
    return list(dict.fromkeys(tags))


async def rate_case(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    payload: RatingCreate,
    now: dt.datetime,
    window: dt.timedelta,
) -> Rating:
    # The case first, read with the caller's authority: someone else's case is not found, and
    # whether it was rated, or when, is none of their business (case numbers are easily
    # guessed). case-svc shows a delegate the cases of the delegated items only.
    case = await fetch_case(http, payload.case_no, token=principal.token)
    if case.applicant_id != principal.sub or case.applicant_type != principal.typ:
        # Readable but not theirs (a department's staff would be): not theirs to rate.
        raise CaseNotFound(f"case {payload.case_no} is not one of yours")
    if case.status != "completed" or case.completed_at is None:
        raise CaseNotCompleted(f"the case is {case.status}", case_status=case.status)
    closes_at = case.completed_at + window
    if now >= closes_at:
        # A rated case is ``already_rated`` whenever it is asked about; only a late rating
        # pays for the read (a rating in time learns it from its own insert).
        if await repository.of_case(session, case.case_no, CASE) is not None:
            raise AlreadyRated(case_no=case.case_no)
        raise RatingWindowClosed(closed_at=closes_at.isoformat())
    rating = Rating(
        case_no=case.case_no,
        kind=CASE,
        applicant_id=principal.sub,
        applicant_type=principal.typ,
        department_id=case.department_id,
        item_code=case.item_code,
        region_code=case.region_code,
        case_completed_at=case.completed_at,
        **_given(principal, payload, now),
    )
    # Rated before, or twice at once: the second loses.
    if not await repository.add_unless_rated(session, rating):
        raise AlreadyRated(case_no=case.case_no)
    await invitations.answered(session, rating, expires_at=closes_at)
    return rating


async def rate_follow_up(
    *,
    session: AsyncSession,
    principal: Principal,
    payload: RatingCreate,
    now: dt.datetime,
    outbox: Outbox,
) -> tuple[Rating, Rectification]:
    """The applicant rates how her bad review was rectified, once, within the window after the
    department reported it: that closes the rectification. A case without a bad review of hers
    is as absent as someone else's."""
    original = await repository.of_case(session, payload.case_no, CASE)
    if original is None or not _is_raters(principal, original):
        raise CaseNotFound(f"case {payload.case_no} is not one of yours")
    rectification = await rectifications_repository.of_rating(session, original.id)
    if rectification is None:
        raise FollowUpNotDue("the review opened no rectification")
    if await repository.of_case(session, original.case_no, FOLLOW_UP) is not None:
        raise AlreadyRated(case_no=original.case_no)
    if rectification.status != Status.AWAITING_FOLLOW_UP or rectification.follow_up_due_at is None:
        if rectification.status == Status.CLOSED and rectification.follow_up_due_at is not None:
            raise RatingWindowClosed(closed_at=rectification.follow_up_due_at.isoformat())
        raise FollowUpNotDue(rectification_status=rectification.status)
    if now >= rectification.follow_up_due_at:
        raise RatingWindowClosed(closed_at=rectification.follow_up_due_at.isoformat())
    follow_up = Rating(
        case_no=original.case_no,
        kind=FOLLOW_UP,
        applicant_id=original.applicant_id,
        applicant_type=original.applicant_type,
        department_id=original.department_id,
        item_code=original.item_code,
        region_code=original.region_code,
        case_completed_at=original.case_completed_at,
        **_given(principal, payload, now),
    )
    if not await repository.add_unless_rated(session, follow_up):
        raise AlreadyRated(case_no=original.case_no)
    await invitations.answered(session, follow_up, expires_at=rectification.follow_up_due_at)
    closed = await rectifications.close_with_follow_up(
        session, outbox, rectification, follow_up, _rater(principal), now=now
    )
    return follow_up, closed


def _is_raters(principal: Principal, rating: Rating) -> bool:
    """Whether the rating is the caller's: her own, or her principal's of a delegated item."""
    if rating.applicant_id != principal.sub or rating.applicant_type != principal.typ:
        return False
    return principal.act is None or not principal.scope or rating.item_code in principal.scope


async def rectification_of(session: AsyncSession, rating: Rating) -> Rectification | None:
    """The rectification the rating opened, or, for a follow-up, the one it rated."""
    if rating.kind == FOLLOW_UP:
        original = await repository.of_case(session, rating.case_no, CASE)
        if original is None:
            return None
        rating = original
    return await rectifications_repository.of_rating(session, rating.id)


async def appeal_of(session: AsyncSession, rating: Rating) -> Appeal | None:
    """The department's appeal of the review, if any."""
    return await appeals_repository.of_rating(session, rating.id)


async def rating_of(*, session: AsyncSession, principal: Principal, rating_id: uuid.UUID) -> Rating:
    """The caller's own rating; a delegate sees the principal's ratings of the items the
    delegation covers only, as case-svc shows them the cases of those items only."""
    rating = await repository.get(session, rating_id)
    if rating is None or not _is_raters(principal, rating):
        raise RatingNotFound()
    return rating
