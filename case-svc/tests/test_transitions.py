"""Handling a case over HTTP: a handler claims it, asks once for what is missing, the applicant
supplies it, the handler accepts and reviews, a supervisor who did not review approves, the
result is delivered. Each caller names the version they saw (If-Match), the workflow table
decides what may happen and who may do it, the database decides races."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from case_svc.cases import handling
from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

FUND_CENTRE = "330300-housing_provident_fund"
MARKET_LUCHENG = "330302-market_regulation"


class Staff:
    """The fund centre's people, as identity-svc would sign them in."""

    def __init__(self, minter: Any) -> None:
        def mint(sub: str, *roles: str, dept: str = FUND_CENTRE) -> str:
            # A staff number per account, as identity-svc gives them: the region, a sequence.
            staff_no = f"{dept.partition('-')[0]}-{sum(map(ord, sub)):04d}"
            token: str = minter.mint(
                sub, typ="staff", loa=2, dept=dept, roles=roles, staff_no=staff_no
            )
            return token

        self.handler = mint("handler-1", "handler")
        self.other_handler = mint("handler-2", "handler")
        self.supervisor = mint("supervisor-1", "supervisor")
        #: A head of section who handles cases and supervises others.
        self.handler_supervisor = mint("lead-1", "handler", "supervisor")
        self.department_admin = mint("admin-1", "department_admin")
        self.catalog_admin = mint("catalog-1", "catalog_admin")
        self.market_handler = mint("handler-9", "handler", dept=MARKET_LUCHENG)
        system: str = minter.mint(
            "ds-330300-housing_provident_fund-core",
            typ="department_system",
            loa=0,
            dept=FUND_CENTRE,
            scope=("cases:read", "cases:write"),
        )
        self.system = system


@pytest.fixture
def staff(token_minter: Any) -> Staff:
    return Staff(token_minter)


@pytest.fixture
async def case_no(submit: Submit, resident: str, catalog: Any) -> str:
    """A housing-fund withdrawal just filed, at version 1: decided by two people."""
    number: str = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    return number


Step = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def step(client: httpx.AsyncClient, case_no: str) -> Step:
    """One step on the case at the version its last answer gave (or the one named)."""
    versions = {"etag": '"1"'}

    async def post(
        token: str,
        action: str,
        *,
        if_match: str | None = "current",
        case: str | None = None,
        **body: Any,
    ) -> httpx.Response:
        headers = bearer(token)
        if if_match is not None:
            headers["If-Match"] = versions["etag"] if if_match == "current" else if_match
        path = f"/cases/v1/cases/{case or case_no}"
        if action in ("claim", "release"):
            method = "POST" if action == "claim" else "DELETE"
            response = await client.request(method, f"{path}/claim", headers=headers)
        elif action == "reassign":
            response = await client.put(f"{path}/assignee", json=body, headers=headers)
        else:
            response = await client.post(
                f"{path}/transitions", json={"action": action, **body}, headers=headers
            )
        if response.status_code == 200:
            versions["etag"] = response.headers["etag"]
        return response

    return post


async def read(client: httpx.AsyncClient, case_no: str, token: str) -> dict[str, Any]:
    response = await client.get(f"/cases/v1/cases/{case_no}", headers=bearer(token))
    assert response.status_code == 200, response.text
    case: dict[str, Any] = response.json()
    return case


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_withdrawal_is_supplemented_reviewed_and_approved_by_a_second_person(
    step: Step, staff: Staff, resident: str, client: httpx.AsyncClient, case_no: str, clock: Any
) -> None:
    ok(await step(staff.handler, "claim"))
    notice = ok(
        await step(
            staff.handler,
            "request_supplement",
            note="提取原因与材料不符，提取金额超出可提取余额",
            notice={"fields": ["reason", "amount"]},
        )
    )
    assert (notice["status"], notice["clock"]) == ("supplement_requested", "paused")
    promised = notice["due_at"]

    # Two working days later (Thursday to Monday) she supplies both.
    clock.now += dt.timedelta(days=4)
    supplied = ok(await step(resident, "supplement", form={"reason": "retirement", "amount": 5000}))
    assert (supplied["status"], supplied["clock"]) == ("submitted", "running")
    assert supplied["form"]["reason"] == "retirement"
    assert supplied["form"]["amount"] == 5000
    # The clock stood still meanwhile: the promise moved on by the two working days.
    assert dt.datetime.fromisoformat(supplied["due_at"]) > dt.datetime.fromisoformat(promised)

    ok(await step(staff.handler, "accept"))
    reviewing = ok(await step(staff.handler, "start_review"))
    assert reviewing["statutory_due_at"] is not None
    pending = ok(await step(staff.handler, "propose_approval", note="符合退休提取条件"))
    assert pending["status"] == "approval_pending"
    approved = ok(await step(staff.supervisor, "confirm"))
    assert approved["status"] == "approved"
    completed = ok(await step(staff.handler, "deliver", note="已转账至本人账户"))
    assert completed["status"] == "completed"
    assert completed["assignee_id"] is None

    history = completed["history"]
    assert [
        (h["action"], h["status"], h["actor"], h["actor_role"], h["clock"]) for h in history
    ] == [
        ("submit", "submitted", "citizen-lin", "applicant", "running"),
        ("claim", "submitted", "handler-1", "handler", "running"),
        ("request_supplement", "supplement_requested", "handler-1", "handler", "paused"),
        ("supplement", "submitted", "citizen-lin", "applicant", "running"),
        ("accept", "accepted", "handler-1", "handler", "running"),
        ("start_review", "in_review", "handler-1", "handler", "running"),
        ("propose_approval", "approval_pending", "handler-1", "handler", "running"),
        ("confirm", "approved", "supervisor-1", "supervisor", "running"),
        ("deliver", "completed", "handler-1", "handler", "stopped"),
    ]
    assert history[2]["detail"] == {"fields": ["amount", "reason"], "materials": []}
    assert history[3]["detail"] == {"fields": ["amount", "reason"], "materials": []}

    # She sees every step, staff by their part and staff number only.
    mine = await read(client, case_no, resident)
    assert [h["actor"] for h in mine["history"]] == ["citizen-lin", *[None] * 2, "citizen-lin"] + [
        None
    ] * 5
    handler_no, supervisor_no = (
        f"330300-{sum(map(ord, sub)):04d}" for sub in ("handler-1", "supervisor-1")
    )
    assert [h["staff_no"] for h in mine["history"]] == [
        None,
        handler_no,
        handler_no,
        None,
        *[handler_no] * 3,
        supervisor_no,
        handler_no,
    ]
    assert [h["staff_no"] for h in history] == [h["staff_no"] for h in mine["history"]]
    assert mine["assignee_id"] is None


async def test_the_reviewer_cannot_approve_the_decision_they_proposed(
    step: Step, staff: Staff, problem: Problem
) -> None:
    for action in ("claim", "accept", "start_review", "propose_approval"):
        ok(await step(staff.handler_supervisor, action))

    problem(await step(staff.handler_supervisor, "confirm"), 403, "four_eyes_required")
    ok(await step(staff.supervisor, "confirm"))


async def test_a_supervisor_sends_a_proposed_denial_back_with_a_reason(
    step: Step, staff: Staff, problem: Problem
) -> None:
    for action in ("claim", "accept", "start_review"):
        ok(await step(staff.handler, action))
    ok(await step(staff.handler, "propose_denial", note="不符合提取条件"))

    problem(await step(staff.supervisor, "send_back"), 422, "reason_required")
    back = ok(await step(staff.supervisor, "send_back", note="请核实退休证明"))
    assert back["status"] == "in_review"


async def test_an_item_decided_by_two_cannot_be_approved_by_its_handler_alone(
    step: Step, staff: Staff, problem: Problem
) -> None:
    for action in ("claim", "accept", "start_review"):
        ok(await step(staff.handler, action))

    body = problem(await step(staff.handler, "approve"), 409, "decision_takes_another_action")
    assert body["decision_approval"] == "second_person"


async def test_an_item_decided_by_one_is_approved_by_the_handler_who_reviewed_it(
    submit: Submit, catalog: Any, identity: Any, token_minter: Any, step: Step, staff: Staff
) -> None:
    company = token_minter.mint(
        identity.haoyu.credit_code, typ="enterprise", act="citizen-son", loa=2
    )
    filed = await submit(company, catalog.licence_change, region="330302")
    assert filed.status_code == 201, filed.text
    number = filed.json()["case_no"]

    etag = '"1"'
    for action in ("claim", "accept", "start_review", "approve", "deliver"):
        body = await step(staff.market_handler, action, case=number, if_match=etag)
        etag = ok(body) and body.headers["etag"]
    assert body.json()["status"] == "completed"


async def test_only_the_handler_holding_the_case_acts_on_it(
    step: Step, staff: Staff, problem: Problem
) -> None:
    body = problem(await step(staff.handler, "accept"), 409, "claim_required")
    assert body["claimed"] is False

    ok(await step(staff.handler, "claim"))

    problem(await step(staff.other_handler, "claim"), 409, "claimed_by_another")
    body = problem(await step(staff.other_handler, "accept"), 409, "claim_required")
    assert body["claimed"] is True
    problem(await step(staff.other_handler, "release"), 409, "not_the_assignee")


async def test_a_claim_left_idle_lapses_and_another_handler_takes_the_case(
    step: Step, staff: Staff, clock: Any
) -> None:
    ok(await step(staff.handler, "claim"))
    clock.now += dt.timedelta(hours=5)  # the default idle time is four hours

    taken = ok(await step(staff.other_handler, "claim"))

    assert taken["assignee_id"] == "handler-2"


async def test_a_supervisor_reassigns_and_a_handler_releases(step: Step, staff: Staff) -> None:
    ok(await step(staff.handler, "claim"))

    moved = ok(await step(staff.supervisor, "reassign", assignee_id="handler-2"))
    assert moved["assignee_id"] == "handler-2"
    ok(await step(staff.other_handler, "accept"))
    released = ok(await step(staff.other_handler, "release"))
    assert released["assignee_id"] is None
    assert [h["action"] for h in released["history"]][-4:] == [
        "claim",
        "reassign",
        "accept",
        "release",
    ]


async def test_of_two_handlers_claiming_at_once_one_wins(
    step: Step, staff: Staff, client: httpx.AsyncClient, case_no: str, resident: str
) -> None:
    first, second = await asyncio.gather(
        step(staff.handler, "claim", if_match='"1"'),
        step(staff.other_handler, "claim", if_match='"1"'),
    )

    assert sorted([first.status_code, second.status_code]) == [200, 412]
    case = await read(client, case_no, resident)
    assert [h["action"] for h in case["history"]] == ["submit", "claim"]


async def test_the_supplement_notice_is_given_once_and_says_everything(
    step: Step, staff: Staff, resident: str, problem: Problem
) -> None:
    ok(await step(staff.handler, "claim"))
    body = problem(
        await step(staff.handler, "request_supplement", note="缺材料"), 422, "step_part_required"
    )
    assert body["part"] == "notice"
    body = problem(
        await step(
            staff.handler, "request_supplement", notice={"fields": ["amount", "name", "colour"]}
        ),
        422,
        "notice_invalid",
    )
    assert body["fields"] == ["colour", "name"]
    ok(await step(staff.handler, "request_supplement", notice={"fields": ["amount"]}))
    body = problem(
        await step(resident, "supplement", form={"amount": 100, "reason": "rent"}),
        422,
        "supplement_mismatch",
    )
    assert (body["missing"], body["unexpected"]) == ([], ["reason"])
    problem(await step(resident, "supplement", form={"amount": -1}), 422, "form_invalid")
    ok(await step(resident, "supplement", form={"amount": 100}))

    body = problem(
        await step(staff.handler, "request_supplement", notice={"fields": ["reason"]}),
        409,
        "action_taken_once",
    )
    assert body["action"] == "request_supplement"


async def test_not_accepting_a_case_needs_its_legal_reason(
    step: Step, staff: Staff, problem: Problem
) -> None:
    ok(await step(staff.handler, "claim"))
    problem(await step(staff.handler, "not_accept", note="  "), 422, "reason_required")

    refused = ok(
        await step(
            staff.handler, "not_accept", note="申请事项不属于本机关职权范围（行政许可法第三十二条）"
        )
    )

    assert (refused["status"], refused["clock"]) == ("not_accepted", "stopped")


@pytest.mark.parametrize(
    ("who", "action", "status", "code"),
    [
        # Roles decide, whatever department the token names.
        ("department_admin", "claim", 404, "case_not_found"),
        ("catalog_admin", "accept", 404, "case_not_found"),
        ("system", "accept", 403, "not_your_transition"),
        ("system", "claim", 403, "not_your_transition"),
        ("supervisor", "accept", 403, "not_your_transition"),
        ("supervisor", "claim", 403, "not_your_transition"),
        ("handler", "confirm", 403, "not_your_transition"),
        ("handler", "reassign", 403, "not_your_transition"),
        ("handler", "withdraw", 403, "not_your_transition"),
        ("resident", "accept", 403, "not_your_transition"),
        ("resident", "claim", 403, "not_your_transition"),
        # The table: nothing is decided before it is reviewed.
        ("handler", "deliver", 409, "transition_not_allowed"),
        ("handler", "supplement", 403, "not_your_transition"),
        ("resident", "supplement", 409, "transition_not_allowed"),
    ],
)
async def test_each_refusal_is_a_problem_with_a_stable_code(
    step: Step,
    staff: Staff,
    resident: str,
    problem: Problem,
    who: str,
    action: str,
    status: int,
    code: str,
) -> None:
    token = resident if who == "resident" else getattr(staff, who)
    body: dict[str, Any] = {"assignee_id": "handler-2"} if action == "reassign" else {}
    problem(await step(token, action, **body), status, code)


async def test_a_notice_or_a_form_belongs_to_its_own_action(
    step: Step, staff: Staff, problem: Problem
) -> None:
    ok(await step(staff.handler, "claim"))

    problem(
        await step(staff.handler, "accept", notice={"fields": ["amount"]}),
        422,
        "not_for_this_action",
    )
    problem(await step(staff.handler, "accept", form={"amount": 1}), 422, "not_for_this_action")


async def test_a_department_system_reads_the_queue_but_moves_nothing(
    client: httpx.AsyncClient, staff: Staff, case_no: str
) -> None:
    queue = await client.get("/cases/v1/cases", headers=bearer(staff.system))
    assert queue.status_code == 200
    assert [case["case_no"] for case in queue.json()["items"]] == [case_no]
    case = await read(client, case_no, staff.system)
    assert case["available_actions"] == []


async def test_staff_without_a_case_role_have_no_queue(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    response = await client.get("/cases/v1/cases", headers=bearer(staff.department_admin))
    problem(response, 403, "no_case_role")


async def test_the_actions_offered_are_the_callers_own_now(
    client: httpx.AsyncClient, step: Step, staff: Staff, case_no: str, resident: str
) -> None:
    assert (await read(client, case_no, staff.handler))["available_actions"] == []
    ok(await step(staff.handler, "claim"))

    assert (await read(client, case_no, staff.handler))["available_actions"] == [
        "accept",
        "not_accept",
        "request_supplement",
    ]
    assert (await read(client, case_no, staff.other_handler))["available_actions"] == []
    assert (await read(client, case_no, resident))["available_actions"] == ["withdraw"]


async def test_a_weak_etag_never_matches(step: Step, staff: Staff, problem: Problem) -> None:
    problem(await step(staff.handler, "claim", if_match='W/"1"'), 412, "precondition_failed")


@pytest.mark.parametrize(
    ("if_match", "status", "code"),
    [
        (None, 428, "precondition_required"),
        ("*", 428, "precondition_required"),
        ('"2"', 412, "precondition_failed"),
        ('W/"zero"', 412, "precondition_failed"),
    ],
)
async def test_every_step_must_name_the_current_version(
    step: Step, staff: Staff, problem: Problem, if_match: str | None, status: int, code: str
) -> None:
    problem(await step(staff.handler, "claim", if_match=if_match), status, code)


async def test_a_stale_version_is_refused_and_changes_nothing(
    step: Step,
    staff: Staff,
    resident: str,
    client: httpx.AsyncClient,
    case_no: str,
    problem: Problem,
) -> None:
    ok(await step(staff.handler, "claim"))

    body = problem(await step(resident, "withdraw", if_match='"1"'), 412, "precondition_failed")

    assert body["current_etag"] == '"2"'
    assert (await read(client, case_no, resident))["status"] == "submitted"


async def test_the_applicant_withdraws_before_the_decision(
    step: Step, resident: str, staff: Staff, problem: Problem
) -> None:
    for action in ("claim", "accept", "start_review", "propose_approval"):
        ok(await step(staff.handler, action))

    problem(await step(resident, "withdraw"), 409, "transition_not_allowed")


async def test_staff_of_another_department_cannot_see_the_case_to_move_it(
    step: Step, staff: Staff, problem: Problem
) -> None:
    problem(await step(staff.market_handler, "claim"), 404, "case_not_found")
    problem(await step(staff.market_handler, "accept", if_match=None), 404, "case_not_found")


@pytest.mark.parametrize("if_match", [None, '"1"'])
async def test_a_case_that_does_not_exist_is_not_found_whatever_if_match_says(
    client: httpx.AsyncClient, staff: Staff, problem: Problem, if_match: str | None
) -> None:
    headers = {**bearer(staff.handler), **({"If-Match": if_match} if if_match else {})}
    response = await client.post(
        "/cases/v1/cases/0/transitions", json={"action": "accept"}, headers=headers
    )
    problem(response, 404, "case_not_found")


async def test_an_unknown_action_is_a_validation_error(
    step: Step, staff: Staff, problem: Problem
) -> None:
    problem(await step(staff.handler, "escalate"), 422, "validation_failed")


async def test_of_two_racing_steps_at_one_version_exactly_one_wins(
    step: Step, staff: Staff, resident: str, client: httpx.AsyncClient, case_no: str
) -> None:
    claim, withdraw = await asyncio.gather(
        step(staff.handler, "claim", if_match='"1"'), step(resident, "withdraw", if_match='"1"')
    )

    assert sorted([claim.status_code, withdraw.status_code]) == [200, 412]
    case = await read(client, case_no, resident)
    assert case["version"] == 2
    assert len(case["history"]) == 2


async def test_an_intake_left_undecided_for_five_working_days_is_deemed_accepted_once(
    app: Any, client: httpx.AsyncClient, case_no: str, resident: str, clock: Any
) -> None:
    sessionmaker = app.state.service.database.sessionmaker
    # Filed on Thursday 26 November: the fifth working day after is Thursday 3 December.
    clock.now = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)  # 23:00 in Wenzhou, still in time
    assert (
        await handling.accept_undecided_intakes(
            sessionmaker, app.state.service.outbox, now=clock.now
        )
        == 0
    )

    clock.now = dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)  # midnight in Wenzhou
    accepted = await asyncio.gather(
        *(
            handling.accept_undecided_intakes(sessionmaker, app.state.service.outbox, now=clock.now)
            for _ in range(3)
        )
    )

    assert sum(accepted) == 1
    case = await read(client, case_no, resident)
    assert case["status"] == "accepted"
    deemed = case["history"][-1]
    assert (deemed["action"], deemed["actor"], deemed["actor_role"]) == (
        "accept",
        "system",
        "system",
    )
    assert deemed["detail"] == {"deemed": True}
    assert "第三十二条" in deemed["note"]
    assert case["statutory_due_at"] is not None


async def test_a_supplement_request_in_time_restarts_the_intakes_time_on_resubmission(
    app: Any, step: Step, staff: Staff, resident: str, clock: Any
) -> None:
    sessionmaker = app.state.service.database.sessionmaker
    ok(await step(staff.handler, "claim"))
    ok(await step(staff.handler, "request_supplement", notice={"fields": ["amount"]}))
    clock.now = dt.datetime(2026, 12, 7, 2, 0, tzinfo=dt.UTC)  # Monday, past the first five days
    assert (
        await handling.accept_undecided_intakes(
            sessionmaker, app.state.service.outbox, now=clock.now
        )
        == 0
    )
    ok(await step(resident, "supplement", form={"amount": 100}))

    assert (
        await handling.accept_undecided_intakes(
            sessionmaker, app.state.service.outbox, now=clock.now
        )
        == 0
    )
    later = clock.now + dt.timedelta(days=8)
    assert (
        await handling.accept_undecided_intakes(sessionmaker, app.state.service.outbox, now=later)
        == 1
    )


async def test_a_supervisor_extends_the_decisions_time_once_with_a_reason_she_sees(
    step: Step,
    staff: Staff,
    resident: str,
    client: httpx.AsyncClient,
    case_no: str,
    problem: Problem,
) -> None:
    for action in ("claim", "accept", "start_review"):
        before = ok(await step(staff.handler, action))
    problem(
        await step(staff.supervisor, "extend", note="需现场核查", extension={"working_days": 11}),
        422,
        "validation_failed",
    )
    problem(await step(staff.supervisor, "extend", note="需现场核查"), 422, "step_part_required")
    problem(
        await step(staff.handler, "extend", note="需现场核查", extension={"working_days": 5}),
        403,
        "not_your_transition",
    )

    extended = ok(
        await step(staff.supervisor, "extend", note="需现场核查", extension={"working_days": 10})
    )

    assert extended["status"] == "in_review"
    assert extended["statutory_due_at"] > before["statutory_due_at"]
    assert extended["due_at"] > before["due_at"]
    problem(
        await step(staff.supervisor, "extend", note="再延", extension={"working_days": 1}),
        409,
        "action_taken_once",
    )
    mine = await read(client, case_no, resident)
    assert (mine["history"][-1]["note"], mine["history"][-1]["detail"]) == (
        "需现场核查",
        {"working_days": 10},
    )


async def test_a_special_procedure_suspends_the_case_and_the_clock(
    step: Step, staff: Staff, resident: str, clock: Any, problem: Problem
) -> None:
    for action in ("claim", "accept", "start_review"):
        before = ok(await step(staff.handler, action))
    suspension = {"procedure": "expert_review", "expected_end": "2026-12-04"}
    problem(await step(staff.handler, "suspend", suspension=suspension), 422, "reason_required")
    suspended = ok(await step(staff.handler, "suspend", note="组织专家评审", suspension=suspension))
    assert (suspended["status"], suspended["clock"]) == ("suspended", "paused")
    assert suspended["history"][-1]["detail"] == suspension

    clock.now += dt.timedelta(days=7)  # Thursday to Thursday: five working days
    resumed = ok(await step(staff.handler, "resume"))

    assert (resumed["status"], resumed["clock"]) == ("in_review", "running")
    moved = dt.datetime.fromisoformat(resumed["statutory_due_at"]) - dt.datetime.fromisoformat(
        before["statutory_due_at"]
    )
    assert moved == dt.timedelta(days=7)


async def test_a_supervisor_transfers_a_case_to_the_right_department_of_its_region(
    app: Any,
    step: Step,
    staff: Staff,
    token_minter: Any,
    resident: str,
    problem: Problem,
    client: httpx.AsyncClient,
    case_no: str,
) -> None:
    ok(await step(staff.handler, "claim"))
    problem(
        await step(
            staff.supervisor,
            "transfer",
            note="非本机关职责",
            transfer={"department_id": "330100-housing_provident_fund"},
        ),
        422,
        "transfer_refused",
    )
    problem(
        await step(
            staff.supervisor,
            "transfer",
            note="非本机关职责",
            transfer={"department_id": "330300-nowhere"},
        ),
        404,
        "department_not_found",
    )

    moved = ok(
        await step(
            staff.supervisor,
            "transfer",
            note="属不动产登记事项",
            transfer={"department_id": "330300-natural_resources"},
        )
    )

    assert (moved["department_id"], moved["status"]) == ("330300-natural_resources", "submitted")
    assert moved["history"][-1]["detail"] == {
        "from": FUND_CENTRE,
        "to": "330300-natural_resources",
    }
    problem(await step(staff.handler, "claim"), 404, "case_not_found")
    registry = token_minter.mint(
        "handler-7", typ="staff", loa=2, dept="330300-natural_resources", roles=("handler",)
    )
    taken = ok(await step(registry, "claim"))
    assert taken["assignee_id"] == "handler-7"
    assert (await read(client, case_no, resident))["department_name"] == "温州市自然资源和规划局"


#: A real PNG's first bytes and chunks are what the upload sniffs; this is the smallest one.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x00\x00\x00\x00"
    b":~\x9bU\x00\x00\x00\nIDATx\x9cc\xf8\x0f\x00\x01\x01\x01\x00\x1b\xb6\xee\xa5\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)


async def test_a_notice_naming_a_material_waits_for_its_upload(
    step: Step,
    staff: Staff,
    resident: str,
    client: httpx.AsyncClient,
    case_no: str,
    problem: Problem,
) -> None:
    ok(await step(staff.handler, "claim"))
    asked = ok(
        await step(
            staff.handler,
            "request_supplement",
            note="请上传退休证明",
            notice={"fields": ["reason"], "materials": ["退休证明"]},
        )
    )
    assert asked["history"][-1]["detail"] == {"fields": ["reason"], "materials": ["退休证明"]}

    body = problem(
        await step(resident, "supplement", form={"reason": "retirement"}),
        422,
        "supplement_materials_missing",
    )
    assert body["materials"] == ["退休证明"]
    uploaded = await client.post(
        f"/cases/v1/cases/{case_no}/materials",
        data={"name": "退休证明"},
        files={"file": ("certificate.png", PNG, "image/png")},
        headers=bearer(resident),
    )
    assert uploaded.status_code == 201, uploaded.text

    supplied = ok(await step(resident, "supplement", form={"reason": "retirement"}))

    assert supplied["history"][-1]["detail"] == {"fields": ["reason"], "materials": ["退休证明"]}


async def test_a_notice_names_something(step: Step, staff: Staff, problem: Problem) -> None:
    ok(await step(staff.handler, "claim"))

    problem(
        await step(staff.handler, "request_supplement", notice={"fields": [], "materials": []}),
        422,
        "validation_failed",
    )
