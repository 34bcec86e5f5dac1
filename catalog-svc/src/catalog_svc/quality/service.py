"""What each event adds to an item's live quality. Services never commit: the request's
session does, with the event's inbox row."""

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.quality import repository
from catalog_svc.quality.schemas import AppealDecided, CaseCompleted, RatingCreated

#: A rating at this level or above is satisfied (basically satisfied or better), as rating-svc
#: publishes it; whether it is a bad review the event says.
SATISFIED_FROM = 3
UPHELD = "upheld"
FIRST_RATING = "case"


def rating_deltas(level: int, bad_review: bool, sign: int = 1) -> dict[str, int]:
    return {
        "ratings": sign,
        "satisfied": sign * int(level >= SATISFIED_FROM),
        "bad_reviews": sign * int(bad_review),
    }


async def count_completed(session: AsyncSession, case: CaseCompleted, *, now: dt.datetime) -> None:
    await repository.add_counts(
        session,
        item_code=case.item_code,
        department_id=case.department_id,
        deltas={"completed": 1},
        now=now,
    )
    if case.working_days_taken is not None:
        await repository.add_working_days(
            session,
            item_code=case.item_code,
            department_id=case.department_id,
            working_days=case.working_days_taken,
            now=now,
        )


async def count_rating(session: AsyncSession, rating: RatingCreated, *, now: dt.datetime) -> None:
    """A first rating counts; a follow-up rates the rectification, not the service."""
    if rating.kind != FIRST_RATING:
        return
    await repository.add_counts(
        session,
        item_code=rating.item_code,
        department_id=rating.department_id,
        deltas=rating_deltas(rating.level, rating.bad_review),
        now=now,
    )


async def count_appeal(session: AsyncSession, appeal: AppealDecided, *, now: dt.datetime) -> None:
    """An upheld appeal takes its review out of the figures; a rejected one leaves it."""
    if appeal.status != UPHELD or appeal.level is None or appeal.bad_review is None:
        return
    await repository.add_counts(
        session,
        item_code=appeal.item_code,
        department_id=appeal.department_id,
        deltas=rating_deltas(appeal.level, appeal.bad_review, sign=-1),
        now=now,
    )
