"""What rating-svc tells other services, through the kit's outbox (``servicekit.events``):
each event written in the transaction of the change it reports, delivered to the subscribers
``RATING_EVENT_SUBSCRIBERS`` names (the paths, through the gateway, of the services that want
each type) by the relay, with rating-svc's own client credentials.

    rating.created         a case, or a rectification, was rated
    rectification.opened   a bad review opened a rectification, with its deadlines
    rectification.overdue  a step (call_back, rectification) was found past its time, the first
                           time only, and escalated to the department of the tier above
    rectification.reported the department reported what it changed: the citizen is invited to
                           rate the result (her account's id goes with it, for her inbox)
    rectification.closed   the citizen's follow-up rating closed it, or her time to give one
                           ended

The data are ids and codes, never personal data: no comment, no note. Only
``rectification.reported`` names the citizen's account (an id, as case-svc's events do), since
it is told to her.
"""

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Appeal, Rating, Rectification
from servicekit.events import Outbox

RATING_CREATED = "rating.created"
RECTIFICATION_OPENED = "rectification.opened"
RECTIFICATION_OVERDUE = "rectification.overdue"
RECTIFICATION_REPORTED = "rectification.reported"
RECTIFICATION_CLOSED = "rectification.closed"
APPEAL_FILED = "appeal.filed"
APPEAL_DECIDED = "appeal.decided"
EVENT_TYPES = (
    RATING_CREATED,
    RECTIFICATION_OPENED,
    RECTIFICATION_OVERDUE,
    RECTIFICATION_REPORTED,
    RECTIFICATION_CLOSED,
    APPEAL_FILED,
    APPEAL_DECIDED,
)


def _where(thing: Rating | Rectification | Appeal) -> dict[str, Any]:
    return {
        "case_no": thing.case_no,
        "item_code": thing.item_code,
        "department_id": thing.department_id,
        "region_code": thing.region_code,
    }


async def report_rating(
    outbox: Outbox, session: AsyncSession, rating: Rating, rectification: Rectification | None
) -> None:
    await outbox.emit(
        session,
        type=RATING_CREATED,
        subject=str(rating.id),
        data={
            "rating_id": str(rating.id),
            **_where(rating),
            "kind": rating.kind,
            "level": rating.level,
            "bad_review": rating.bad_review,
            "tags": list(rating.tags),
            "channel": rating.channel,
            "rectification_id": str(rectification.id) if rectification is not None else None,
        },
        time=rating.created_at,
    )


async def report_opened(
    outbox: Outbox, session: AsyncSession, rectification: Rectification
) -> None:
    await outbox.emit(
        session,
        type=RECTIFICATION_OPENED,
        subject=str(rectification.id),
        data={
            "rectification_id": str(rectification.id),
            "rating_id": str(rectification.rating_id),
            **_where(rectification),
            "call_back_due_at": rectification.call_back_due_at.isoformat(),
            "rectification_due_at": rectification.rectification_due_at.isoformat(),
        },
        time=rectification.opened_at,
    )


async def report_overdue(
    outbox: Outbox,
    session: AsyncSession,
    rectification: Rectification,
    *,
    step: str,
    due_at: str,
) -> None:
    await outbox.emit(
        session,
        type=RECTIFICATION_OVERDUE,
        subject=str(rectification.id),
        data={
            "rectification_id": str(rectification.id),
            **_where(rectification),
            "step": step,
            "due_at": due_at,
            "status": rectification.status,
            "escalated_to_department_id": rectification.escalated_to_department_id,
        },
    )


async def report_rectified(
    outbox: Outbox, session: AsyncSession, rectification: Rectification
) -> None:
    await outbox.emit(
        session,
        type=RECTIFICATION_REPORTED,
        subject=str(rectification.id),
        data={
            "rectification_id": str(rectification.id),
            **_where(rectification),
            "applicant_id": rectification.applicant_id,
            "status": rectification.status,
        },
    )


async def report_closed(
    outbox: Outbox,
    session: AsyncSession,
    rectification: Rectification,
    follow_up: Rating | None,
) -> None:
    await outbox.emit(
        session,
        type=RECTIFICATION_CLOSED,
        subject=str(rectification.id),
        data={
            "rectification_id": str(rectification.id),
            **_where(rectification),
            "follow_up_rating_id": str(follow_up.id) if follow_up is not None else None,
            "follow_up_level": follow_up.level if follow_up is not None else None,
            "called_back_on_time": (
                rectification.called_back_at is not None
                and rectification.called_back_at <= rectification.call_back_due_at
            ),
            "rectified_on_time": (
                rectification.rectified_at is not None
                and rectification.rectified_at <= rectification.rectification_due_at
            ),
        },
        time=rectification.closed_at,
    )


def _appeal(appeal: Appeal) -> dict[str, Any]:
    return {
        "appeal_id": str(appeal.id),
        "rating_id": str(appeal.rating_id),
        **_where(appeal),
        "decider_department_id": appeal.decider_department_id,
        "grounds": appeal.grounds,
        "status": appeal.status,
    }


async def report_appeal_filed(outbox: Outbox, session: AsyncSession, appeal: Appeal) -> None:
    await outbox.emit(
        session,
        type=APPEAL_FILED,
        subject=str(appeal.id),
        data=_appeal(appeal),
        time=appeal.filed_at,
    )


async def report_appeal_decided(
    outbox: Outbox,
    session: AsyncSession,
    appeal: Appeal,
    review: Rating,
    rectification: Rectification | None,
) -> None:
    """The decision, with the level of the review it concerns: an upheld appeal takes that
    review out of the figures, the subscribers' as well as rating-svc's own."""
    await outbox.emit(
        session,
        type=APPEAL_DECIDED,
        subject=str(appeal.id),
        data={
            **_appeal(appeal),
            "level": review.level,
            "bad_review": review.bad_review,
            "rectification_id": str(rectification.id) if rectification is not None else None,
            "rectification_status": rectification.status if rectification is not None else None,
        },
        time=appeal.decided_at,
    )
