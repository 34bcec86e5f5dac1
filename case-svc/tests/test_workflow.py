"""The workflow's pure rules: the transition table, working-day deadlines, and the headers that
guard writes. No database, no HTTP."""

import datetime as dt
import itertools

import pytest

from case_svc.workflow import deadlines
from case_svc.workflow.state_machine import (
    Action,
    CaseStatus,
    NotYourTransition,
    Role,
    TransitionNotAllowed,
    actions_available,
    next_status,
)

S, A, R = CaseStatus, Action, Role

#: The whole state machine, written out independently of the table it checks.
ALLOWED = {
    (S.SUBMITTED, A.ACCEPT, R.DEPARTMENT): S.ACCEPTED,
    (S.SUBMITTED, A.ACCEPT, R.SYSTEM): S.ACCEPTED,
    (S.ACCEPTED, A.APPROVE, R.DEPARTMENT): S.COMPLETED,
    (S.ACCEPTED, A.APPROVE, R.SYSTEM): S.COMPLETED,
    (S.SUBMITTED, A.REJECT, R.DEPARTMENT): S.REJECTED,
    (S.ACCEPTED, A.REJECT, R.DEPARTMENT): S.REJECTED,
    (S.SUBMITTED, A.WITHDRAW, R.APPLICANT): S.WITHDRAWN,
    (S.ACCEPTED, A.WITHDRAW, R.APPLICANT): S.WITHDRAWN,
}
ROLE_MAY = {(action, role) for (_, action, role) in ALLOWED}


@pytest.mark.parametrize(
    ("status", "action", "role"), list(itertools.product(CaseStatus, Action, Role))
)
def test_the_transition_table_allows_exactly_the_workflow(
    status: CaseStatus, action: Action, role: Role
) -> None:
    if (status, action, role) in ALLOWED:
        assert next_status(status, action, role) is ALLOWED[status, action, role]
    elif (action, role) not in ROLE_MAY:
        with pytest.raises(NotYourTransition):
            next_status(status, action, role)
    else:
        with pytest.raises(TransitionNotAllowed):
            next_status(status, action, role)


@pytest.mark.parametrize(
    ("status", "role", "actions"),
    [
        (S.SUBMITTED, R.DEPARTMENT, [A.ACCEPT, A.REJECT]),
        (S.ACCEPTED, R.DEPARTMENT, [A.APPROVE, A.REJECT]),
        (S.SUBMITTED, R.APPLICANT, [A.WITHDRAW]),
        (S.COMPLETED, R.DEPARTMENT, []),
        (S.WITHDRAWN, R.APPLICANT, []),
    ],
)
def test_the_actions_offered_are_those_the_table_allows(
    status: CaseStatus, role: Role, actions: list[Action]
) -> None:
    assert actions_available(status, role) == actions


SHANGHAI = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.parametrize(
    ("submitted_local", "working_days", "due_date", "provisional"),
    [
        # Thursday → Friday, then over the weekend to Monday.
        (dt.datetime(2026, 11, 26, 10), 1, dt.date(2026, 11, 27), False),
        (dt.datetime(2026, 11, 26, 10), 2, dt.date(2026, 11, 30), False),
        # Filed on a Saturday: the count starts on Monday.
        (dt.datetime(2026, 11, 28, 10), 1, dt.date(2026, 11, 30), False),
        # National Day week is skipped, its adjusted working Saturday (10 October) counts.
        (dt.datetime(2026, 9, 30, 10), 3, dt.date(2026, 10, 10), False),
        # Spring Festival 2026: 15-23 February off, Saturdays 14 and 28 February worked.
        (dt.datetime(2026, 2, 13, 10), 1, dt.date(2026, 2, 14), False),
        (dt.datetime(2026, 2, 14, 10), 1, dt.date(2026, 2, 24), False),
        # Late at night in Shanghai is already the next day there.
        (dt.datetime(2026, 11, 26, 23, 30), 1, dt.date(2026, 11, 27), False),
        # Zero days: the close of the day of filing.
        (dt.datetime(2026, 11, 26, 10), 0, dt.date(2026, 11, 26), False),
        # Into a year whose schedule is not published yet: weekdays only, and said so.
        (dt.datetime(2026, 12, 28, 10), 5, dt.date(2027, 1, 4), True),
    ],
)
def test_deadlines_count_official_working_days_in_shanghai(
    submitted_local: dt.datetime, working_days: int, due_date: dt.date, provisional: bool
) -> None:
    submitted = submitted_local.replace(tzinfo=SHANGHAI).astimezone(dt.UTC)

    deadline = deadlines.deadline_after(submitted, working_days)

    assert deadline.due_at.tzinfo is not None
    assert deadline.due_at.astimezone(SHANGHAI).replace(tzinfo=None) == dt.datetime.combine(
        due_date, dt.time(23, 59, 59)
    )
    assert deadline.provisional is provisional
