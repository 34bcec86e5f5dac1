"""The rules of invitations: one per case and kind, made from case-svc's ``case.completed``
(once per event: the inbox), answered by the rating, listed to the applicant while open."""

import datetime as dt
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from rating_svc.invitations import repository
from rating_svc.invitations.schemas import CaseCompleted, InvitationPage, InvitationRead
from rating_svc.models import CASE, FOLLOW_UP, Invitation, Rating, Rectification
from rating_svc.ratings.schemas import as_kind
from servicekit.auth import Principal
from servicekit.pagination import Cursors
from servicekit.problems import Forbidden


class NotTheCaseService(Forbidden):
    code = "not_the_case_service"
    title = "Only case-svc reports completed cases"


async def invite_to_rate(
    session: AsyncSession,
    case: CaseCompleted,
    *,
    event_id: uuid.UUID,
    completed_at: dt.datetime,
    window: dt.timedelta,
) -> None:
    """The applicant is invited to rate her completed case, until the window closes. A case
    rated before the event arrived keeps the answered invitation its rating made."""
    await repository.add_unless_present(
        session,
        {
            "case_no": case.case_no,
            "kind": CASE,
            "applicant_id": case.applicant_id,
            "applicant_type": case.applicant_type,
            "department_id": case.department_id,
            "item_code": case.item_code,
            "region_code": case.region_code,
            "invited_at": completed_at,
            "expires_at": completed_at + window,
            "event_id": event_id,
        },
    )


async def answered(session: AsyncSession, rating: Rating, *, expires_at: dt.datetime) -> None:
    """The rating answers the case's invitation of its kind; one is recorded answered if the
    event that brings it has not arrived yet (it then finds it there)."""
    if await repository.mark_answered(
        session, case_no=rating.case_no, kind=rating.kind, rating_id=rating.id
    ):
        return
    await repository.add_unless_present(
        session,
        {
            "case_no": rating.case_no,
            "kind": rating.kind,
            "applicant_id": rating.applicant_id,
            "applicant_type": rating.applicant_type,
            "department_id": rating.department_id,
            "item_code": rating.item_code,
            "region_code": rating.region_code,
            "invited_at": rating.case_completed_at or rating.created_at,
            "expires_at": expires_at,
            "rating_id": rating.id,
        },
    )


def _list_context(principal: Principal, items: list[str] | None) -> str:
    """A cursor holds for the one list it was given for: this applicant's, with this scope."""
    scope = ",".join(sorted(items)) if items is not None else "*"
    return f"invitations:{principal.typ}:{principal.sub}:{scope}"


async def open_invitations(
    *,
    session: AsyncSession,
    principal: Principal,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
    now: dt.datetime,
) -> InvitationPage:
    """The caller's invitations still to rate, newest first; a delegate sees those of the
    delegated items only."""
    items = list(principal.scope) if principal.act is not None and principal.scope else None
    context = _list_context(principal, items)
    position = cursors.decode_optional(context, cursor)
    after = None
    if position is not None:
        after = (dt.datetime.fromisoformat(position["at"]), uuid.UUID(hex=position["id"]))
    rows = await repository.open_for(
        session,
        applicant_id=principal.sub,
        applicant_type=principal.typ,
        item_codes=items,
        now=now,
        after=after,
        limit=limit + 1,
    )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = cursors.encode(
            context, {"at": last.invited_at.isoformat(), "id": last.id.hex}
        )
    return InvitationPage(items=[invitation_view(row) for row in page], next_cursor=next_cursor)


def invitation_view(invitation: Invitation) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        case_no=invitation.case_no,
        kind=as_kind(invitation.kind),
        item_code=invitation.item_code,
        department_id=invitation.department_id,
        region_code=invitation.region_code,
        invited_at=invitation.invited_at,
        expires_at=invitation.expires_at,
        rectification_id=invitation.rectification_id,
    )


async def invite_to_follow_up(
    session: AsyncSession,
    rectification: Rectification,
    *,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> None:
    """The applicant is invited to rate how her bad review was rectified."""
    original = await session.get(Rating, rectification.rating_id)
    if original is None:  # pragma: no cover - the foreign key keeps it
        raise RuntimeError("a rectification without its rating")
    await repository.add_unless_present(
        session,
        {
            "case_no": rectification.case_no,
            "kind": FOLLOW_UP,
            "applicant_id": original.applicant_id,
            "applicant_type": original.applicant_type,
            "department_id": rectification.department_id,
            "item_code": rectification.item_code,
            "region_code": rectification.region_code,
            "invited_at": now,
            "expires_at": expires_at,
            "rectification_id": rectification.id,
        },
    )
