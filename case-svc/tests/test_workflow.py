"""The workflow's pure rules: the transition table, working-day deadlines, and the headers that
guard writes. No database, no HTTP."""

import datetime as dt
import itertools
from pathlib import Path

import pytest

from case_svc.models import OPEN_STATUSES_CONDITION
from case_svc.workflow import deadlines
from case_svc.workflow.state_machine import (
    CLOCK,
    TABLE,
    Action,
    CaseStatus,
    Clock,
    DecisionApproval,
    DecisionTakesAnother,
    NotYourTransition,
    Role,
    TransitionNotAllowed,
    actions_available,
    load,
    next_status,
)

S, A, R = CaseStatus, Action, Role
SINGLE, TWO = DecisionApproval.SINGLE, DecisionApproval.SECOND_PERSON
H, SUP, APP, SYS = R.HANDLER, R.SUPERVISOR, R.APPLICANT, R.SYSTEM

#: The whole workflow, written out independently of the table it checks:
#: (status, action, role, decision) → status; decision None for both kinds of item.
ALLOWED: dict[tuple[CaseStatus, Action, Role, DecisionApproval | None], CaseStatus] = {
    (S.SUBMITTED, A.ACCEPT, H, None): S.ACCEPTED,
    (S.SUBMITTED, A.ACCEPT, SYS, None): S.ACCEPTED,
    (S.SUBMITTED, A.NOT_ACCEPT, H, None): S.NOT_ACCEPTED,
    (S.SUBMITTED, A.REQUEST_SUPPLEMENT, H, None): S.SUPPLEMENT_REQUESTED,
    (S.SUPPLEMENT_REQUESTED, A.SUPPLEMENT, APP, None): S.SUBMITTED,
    (S.ACCEPTED, A.START_REVIEW, H, None): S.IN_REVIEW,
    (S.IN_REVIEW, A.APPROVE, H, SINGLE): S.APPROVED,
    (S.IN_REVIEW, A.APPROVE, SYS, SINGLE): S.APPROVED,
    (S.IN_REVIEW, A.DENY, H, SINGLE): S.DENIED,
    (S.IN_REVIEW, A.PROPOSE_APPROVAL, H, TWO): S.APPROVAL_PENDING,
    (S.IN_REVIEW, A.PROPOSE_DENIAL, H, TWO): S.DENIAL_PENDING,
    (S.APPROVAL_PENDING, A.CONFIRM, SUP, None): S.APPROVED,
    (S.DENIAL_PENDING, A.CONFIRM, SUP, None): S.DENIED,
    (S.APPROVAL_PENDING, A.SEND_BACK, SUP, None): S.IN_REVIEW,
    (S.DENIAL_PENDING, A.SEND_BACK, SUP, None): S.IN_REVIEW,
    (S.APPROVED, A.DELIVER, H, None): S.COMPLETED,
    (S.APPROVED, A.DELIVER, SYS, None): S.COMPLETED,
    (S.ACCEPTED, A.COMPLETE, SYS, None): S.COMPLETED,
    (S.SUBMITTED, A.TRANSFER, SUP, None): S.SUBMITTED,
    (S.ACCEPTED, A.TRANSFER, SUP, None): S.ACCEPTED,
    (S.IN_REVIEW, A.SUSPEND, H, None): S.SUSPENDED,
    (S.SUSPENDED, A.RESUME, H, None): S.IN_REVIEW,
    **{
        (status, A.EXTEND, SUP, None): status
        for status in (
            S.ACCEPTED,
            S.IN_REVIEW,
            S.SUSPENDED,
            S.APPROVAL_PENDING,
            S.DENIAL_PENDING,
        )
    },
    **{
        (status, A.WITHDRAW, APP, None): S.WITHDRAWN
        for status in (
            S.SUBMITTED,
            S.SUPPLEMENT_REQUESTED,
            S.ACCEPTED,
            S.IN_REVIEW,
            S.SUSPENDED,
        )
    },
}
ROLE_MAY = {(action, role) for (_, action, role, _) in ALLOWED}
DECIDED_BY = {action: decision for (_, action, _, decision) in ALLOWED}


def expected(
    status: CaseStatus, action: Action, role: Role, decision: DecisionApproval
) -> CaseStatus | None:
    return ALLOWED.get((status, action, role, None)) or ALLOWED.get(
        (status, action, role, decision)
    )


@pytest.mark.parametrize(
    ("status", "action", "role", "decision"),
    list(itertools.product(CaseStatus, Action, Role, DecisionApproval)),
)
def test_the_transition_table_allows_exactly_the_workflow(
    status: CaseStatus, action: Action, role: Role, decision: DecisionApproval
) -> None:
    target = expected(status, action, role, decision)
    if target is not None:
        assert next_status(status, action, role, decision_approval=decision) is target
    elif (action, role) not in ROLE_MAY:
        with pytest.raises(NotYourTransition):
            next_status(status, action, role, decision_approval=decision)
    elif DECIDED_BY[action] not in (None, decision):
        with pytest.raises(DecisionTakesAnother):
            next_status(status, action, role, decision_approval=decision)
    else:
        with pytest.raises(TransitionNotAllowed):
            next_status(status, action, role, decision_approval=decision)


@pytest.mark.parametrize(
    ("status", "roles", "decision", "actions"),
    [
        (S.SUBMITTED, {H}, SINGLE, [A.ACCEPT, A.NOT_ACCEPT, A.REQUEST_SUPPLEMENT]),
        (S.IN_REVIEW, {H}, SINGLE, [A.APPROVE, A.DENY, A.SUSPEND]),
        (S.IN_REVIEW, {H, SUP}, TWO, [A.PROPOSE_APPROVAL, A.PROPOSE_DENIAL, A.SUSPEND, A.EXTEND]),
        (S.APPROVAL_PENDING, {SUP}, TWO, [A.CONFIRM, A.SEND_BACK, A.EXTEND]),
        (S.APPROVAL_PENDING, {H}, TWO, []),
        (S.SUBMITTED, {APP}, SINGLE, [A.WITHDRAW]),
        (S.SUPPLEMENT_REQUESTED, {APP}, SINGLE, [A.SUPPLEMENT, A.WITHDRAW]),
        (S.COMPLETED, {H, SUP}, SINGLE, []),
        (S.WITHDRAWN, {APP}, SINGLE, []),
        (S.SUBMITTED, set(), SINGLE, []),
    ],
)
def test_the_actions_offered_are_those_the_table_allows(
    status: CaseStatus, roles: set[Role], decision: DecisionApproval, actions: list[Action]
) -> None:
    assert actions_available(status, roles, decision_approval=decision) == actions


def test_the_clock_pauses_for_a_supplement_or_a_procedure_and_stops_when_the_case_ends() -> None:
    paused = {status for status, clock in CLOCK.items() if clock is Clock.PAUSED}
    stopped = {status for status, clock in CLOCK.items() if clock is Clock.STOPPED}
    assert paused == {S.SUPPLEMENT_REQUESTED, S.SUSPENDED}
    assert stopped == {S.COMPLETED, S.DENIED, S.NOT_ACCEPTED, S.WITHDRAWN}


def test_the_partial_index_of_open_cases_keeps_the_tables_ended_statuses() -> None:
    ended = {status for status, clock in CLOCK.items() if clock is Clock.STOPPED}
    listed = OPEN_STATUSES_CONDITION.removeprefix("status NOT IN (").removesuffix(")")
    assert {name.strip(" '") for name in listed.split(",")} == ended


def test_a_table_that_forgets_a_status_does_not_load(tmp_path: Path) -> None:
    table = TABLE.read_text(encoding="utf-8").replace('withdrawn = { clock = "stopped" }', "")
    (tmp_path / "workflow.toml").write_text(table, encoding="utf-8")

    with pytest.raises(ValueError, match="exactly the statuses"):
        load(tmp_path / "workflow.toml")


def test_a_table_whose_targets_miss_a_source_does_not_load(tmp_path: Path) -> None:
    table = TABLE.read_text(encoding="utf-8").replace(
        'to = { approval_pending = "approved", denial_pending = "denied" }',
        'to = { approval_pending = "approved" }',
    )
    (tmp_path / "workflow.toml").write_text(table, encoding="utf-8")

    with pytest.raises(ValueError, match="each of its sources"):
        load(tmp_path / "workflow.toml")


@pytest.mark.parametrize(
    ("paused_local", "resumed_local", "working_days"),
    [
        # Paused and resumed the same day: nothing off the clock.
        (dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 26, 16), 0),
        # Thursday to Monday: Friday and Monday.
        (dt.datetime(2026, 11, 26, 10), dt.datetime(2026, 11, 30, 9), 2),
        # Over National Day: the 8th, the 9th and the adjusted working Saturday, the 10th.
        (dt.datetime(2026, 9, 30, 10), dt.datetime(2026, 10, 10, 9), 3),
    ],
)
def test_a_pause_takes_its_working_days_off_the_clock(
    paused_local: dt.datetime, resumed_local: dt.datetime, working_days: int
) -> None:
    paused, resumed = (
        moment.replace(tzinfo=SHANGHAI).astimezone(dt.UTC)
        for moment in (paused_local, resumed_local)
    )
    days = deadlines.working_days_between(
        deadlines.local_date(paused), deadlines.local_date(resumed)
    )
    assert days == working_days

    due = deadlines.deadline_after(paused, 1)
    moved = deadlines.moved_on(due, days)
    assert (
        deadlines.working_days_between(
            deadlines.local_date(due.due_at), deadlines.local_date(moved.due_at)
        )
        == days
    )


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
