"""Rectifications as the API shows them: to the department's staff in full, to the citizen
without naming the staff who acted."""

from collections.abc import Sequence

from rating_svc.models import Rating, Rectification, RectificationEvent
from rating_svc.rectifications.schemas import (
    CALL_BACK_CHANNELS,
    CallBackChannel,
    CallBackRead,
    HistoryEntry,
    RectificationRead,
    RectificationSummary,
    ReviewRead,
)
from rating_svc.rules.levels import LEVELS
from rating_svc.rules.workflow import Role, Status


def _channel(value: str) -> CallBackChannel:
    for channel in CALL_BACK_CHANNELS:
        if channel == value:
            return channel
    raise ValueError(f"not a call-back channel: {value!r}")


def summary_view(rectification: Rectification, level: int) -> RectificationSummary:
    return RectificationSummary(
        id=rectification.id,
        case_no=rectification.case_no,
        rating_id=rectification.rating_id,
        department_id=rectification.department_id,
        item_code=rectification.item_code,
        region_code=rectification.region_code,
        status=Status(rectification.status),
        level=level,
        opened_at=rectification.opened_at,
        call_back_due_at=rectification.call_back_due_at,
        rectification_due_at=rectification.rectification_due_at,
        due_provisional=rectification.due_provisional,
        call_back_overdue_at=rectification.call_back_overdue_at,
        rectification_overdue_at=rectification.rectification_overdue_at,
        escalated_to_department_id=rectification.escalated_to_department_id,
        closed_at=rectification.closed_at,
    )


def rectification_view(
    rectification: Rectification,
    rating: Rating,
    history: Sequence[RectificationEvent],
    *,
    staff_view: bool,
) -> RectificationRead:
    call_back = None
    if (
        rectification.called_back_at is not None
        and rectification.call_back_channel is not None
        and rectification.call_back_note is not None
        and rectification.call_back_recorded_at is not None
    ):
        call_back = CallBackRead(
            called_back_at=rectification.called_back_at,
            channel=_channel(rectification.call_back_channel),
            note=rectification.call_back_note,
            recorded_at=rectification.call_back_recorded_at,
        )
    summary = summary_view(rectification, rating.level)
    return RectificationRead(
        **summary.model_dump(),
        review=ReviewRead(
            rating_id=rating.id,
            level=rating.level,
            level_key=LEVELS[rating.level].key,
            tags=list(rating.tags),
            comment=rating.comment,
            efficiency=rating.efficiency,
            quality=rating.quality,
            attitude=rating.attitude,
            rated_at=rating.created_at,
        ),
        call_back=call_back,
        rectification_note=rectification.rectification_note,
        rectified_at=rectification.rectified_at,
        follow_up_due_at=rectification.follow_up_due_at,
        follow_up_rating_id=rectification.follow_up_rating_id,
        history=[
            HistoryEntry(
                action=entry.action,
                from_status=Status(entry.from_status) if entry.from_status else None,
                status=Status(entry.status),
                actor_id=(
                    entry.actor_id
                    if staff_view or entry.actor_role in (Role.APPLICANT, Role.SYSTEM)
                    else None
                ),
                actor_role=Role(entry.actor_role),
                acting_for=entry.acting_for,
                note=entry.note,
                at=entry.at,
            )
            for entry in history
        ],
    )
