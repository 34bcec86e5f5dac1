"""What case-svc tells other services about cases, through the kit's outbox
(``servicekit.events``): each event written in the transaction of the change it reports,
delivered to the subscribers ``CASE_EVENT_SUBSCRIBERS`` names (the paths, through the gateway,
of the services that want each type) by the relay, with case-svc's own client credentials.

    case.submitted       a case was filed (an instant item's too)
    case.status_changed  a step moved it to another status (claims and reassignments do not)
    case.completed       its result was delivered (an instant item: on filing), with the
                         working days it took on the clock (pauses left out)
    case.overdue         it was found past its promised time, the first time only

The data are ids and codes, never personal data: the case number and id, the item, the
handling department and its region, the applicant's account id, the statuses.
"""

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.models import Case
from servicekit.events import Emission, Outbox
from servicekit.working_days import local_date, working_days_between

SUBMITTED = "case.submitted"
STATUS_CHANGED = "case.status_changed"
COMPLETED = "case.completed"
OVERDUE = "case.overdue"
EVENT_TYPES = (SUBMITTED, STATUS_CHANGED, COMPLETED, OVERDUE)


def _about(case: Case) -> dict[str, Any]:
    return {
        "case_id": str(case.id),
        "case_no": case.case_no,
        "item_code": case.item_code,
        "department_id": case.department_id,
        "region_code": case.region_code,
        "applicant_id": case.applicant_id,
        "applicant_type": case.applicant_type,
    }


async def report_filed(outbox: Outbox, session: AsyncSession, case: Case) -> None:
    """A new case, and its completion when an instant item was completed on filing (one insert
    for both)."""
    emissions = [
        Emission(
            SUBMITTED,
            str(case.id),
            {**_about(case), "status": case.status},
            time=case.submitted_at,
        )
    ]
    if case.completed_at is not None:
        emissions.append(_completed(case, case.completed_at))
    await outbox.emit_all(session, emissions)


async def report_step(
    outbox: Outbox,
    session: AsyncSession,
    case: Case,
    *,
    action: str,
    from_status: str,
    status: str,
    at: dt.datetime,
) -> None:
    """A step that changed the case's status at ``at`` (and its completion, when it completed
    it). ``case`` is the case as the step read it."""
    if status == from_status:
        return
    emissions = [
        Emission(
            STATUS_CHANGED,
            str(case.id),
            {**_about(case), "action": action, "from_status": from_status, "status": status},
        )
    ]
    if status == "completed":
        emissions.append(_completed(case, at))
    await outbox.emit_all(session, emissions)


def _completed(case: Case, completed_at: dt.datetime) -> Emission:
    data = {
        **_about(case),
        "status": "completed",
        "submitted_at": case.submitted_at.isoformat(),
        "completed_at": completed_at.isoformat(),
        "working_days_taken": working_days_taken(case, completed_at),
    }
    return Emission(COMPLETED, str(case.id), data, time=completed_at)


def working_days_taken(case: Case, completed_at: dt.datetime) -> int:
    """The working days after the day it was filed up to the day it was completed, less those
    its clock stood paused (waiting on the applicant's supplement, a special procedure): 0 for
    a case completed the day it was filed."""
    paused = case.paused_working_days or 0  # None on a case being inserted
    if case.clock_paused_at is not None:  # completed straight from a pause
        paused += working_days_between(local_date(case.clock_paused_at), local_date(completed_at))
    elapsed = working_days_between(local_date(case.submitted_at), local_date(completed_at))
    return max(0, elapsed - paused)


async def report_overdue(outbox: Outbox, session: AsyncSession, case: Case) -> None:
    due_at = case.due_at.isoformat() if case.due_at is not None else None
    await outbox.emit(
        session,
        type=OVERDUE,
        subject=str(case.id),
        data={**_about(case), "status": case.status, "due_at": due_at},
    )
