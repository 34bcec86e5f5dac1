"""Every query rating-svc makes about invitations and the events that bring them."""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.models import Invitation
from servicekit.db import insert_for


async def add_unless_present(session: AsyncSession, values: dict[str, Any]) -> None:
    """The invitation, unless the case already has one of its kind (a redelivery, or a rating
    that came before the event)."""
    statement = (
        insert_for(session, Invitation)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Invitation.case_no, Invitation.kind])
    )
    await session.execute(statement)


_INVITATION = Invitation.metadata.tables[Invitation.__tablename__]
#: Built once: every rating runs it.
_ANSWER = (
    update(_INVITATION)
    .where(
        _INVITATION.c.case_no == bindparam("answered_case_no"),
        _INVITATION.c.kind == bindparam("answered_kind"),
    )
    .values(rating_id=bindparam("answering_rating_id"))
)


async def mark_answered(
    session: AsyncSession, *, case_no: str, kind: str, rating_id: uuid.UUID
) -> bool:
    """Whether an invitation of the case was there to answer."""
    result = await session.execute(
        _ANSWER,
        {"answered_case_no": case_no, "answered_kind": kind, "answering_rating_id": rating_id},
    )
    return bool(getattr(result, "rowcount", 0))


async def open_for(
    session: AsyncSession,
    *,
    applicant_id: str,
    applicant_type: str,
    item_codes: Sequence[str] | None,
    now: dt.datetime,
    after: tuple[dt.datetime, uuid.UUID] | None,
    limit: int,
) -> Sequence[Invitation]:
    """The applicant's invitations still to rate, newest first."""
    query = select(Invitation).where(
        Invitation.applicant_id == applicant_id,
        Invitation.applicant_type == applicant_type,
        Invitation.rating_id.is_(None),
        Invitation.expires_at > now,
    )
    if item_codes is not None:
        query = query.where(Invitation.item_code.in_(item_codes))
    if after is not None:
        at, last_id = after
        query = query.where(
            or_(
                Invitation.invited_at < at,
                and_(Invitation.invited_at == at, Invitation.id < last_id),
            )
        )
    query = query.order_by(Invitation.invited_at.desc(), Invitation.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
