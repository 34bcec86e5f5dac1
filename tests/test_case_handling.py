"""A department's day in case-svc, end to end through the gateway between real processes (the
provincial case-svc and Wenzhou's, tier routing): a housing provident-fund withdrawal filed by a
Lucheng resident is claimed by a handler of Wenzhou's fund centre, sent back once for two
fields, supplied, accepted, reviewed, approved by a supervisor who did not review it and
completed; the history shows each step and the clock paused during the supplement. And each
case lives in the instance of its handling department's region, whatever the caller sends.

The tests in this module run in order and share the people, as the story does.
"""

import asyncio
import datetime as dt
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from case_svc.models import Case
from onevisit_dev.answers import EVENT_WITHIN_SECONDS, bearer, problem
from onevisit_dev.callers import (
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import WENZHOU_CASE, Platform

FUND_CENTRE = "330300-housing_provident_fund"
WITHDRAWAL = "housing_provident_fund.withdrawal"
SOCIAL_CARD_LOSS = "human_resources_social_security.social_card_loss_report"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story:
#: a retired Lucheng resident, and a Hangzhou resident.
RETIREE = ("郑晨国", "33030219500426351X")
HANGZHOU_RESIDENT = ("吴珍露", "330109198008312849")
LUCHENG = "330302"


class Story:
    retiree: str
    handler: str
    other_handler: str
    supervisor: str
    case_no: str
    etag: str


def face_verified(
    gateway: httpx.Client, platform: Platform, face_of: Any, who: tuple[str, str]
) -> str:
    """A citizen registered, real-named and face-verified just now: her level-3 token."""
    name, id_number = who
    person = Person(name, id_number, face_of(id_number))
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    claim_real_name(gateway, token, person)
    return verify_face(gateway, token, person)


def staff_token(gateway: httpx.Client, admin: str, *roles: str) -> str:
    return create_staff(gateway, admin, FUND_CENTRE, roles).sign_in(gateway)


def step(
    gateway: httpx.Client, token: str, action: str, *, expect: int = 200, **body: Any
) -> dict[str, Any]:
    """One step on the story's case at the version last seen."""
    headers = {**bearer(token), "If-Match": Story.etag}
    path = f"/cases/v1/cases/{Story.case_no}"
    if action == "claim":
        response = gateway.post(f"{path}/claim", headers=headers)
    else:
        response = gateway.post(
            f"{path}/transitions", json={"action": action, **body}, headers=headers
        )
    assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    if expect == 200:
        Story.etag = response.headers["etag"]
    return answer


def test_1_a_retiree_files_a_withdrawal_and_it_lands_with_wenzhous_fund_centre(
    gateway: httpx.Client, platform: Platform, platform_admin: str, face_of: Any
) -> None:
    Story.retiree = face_verified(gateway, platform, face_of, RETIREE)
    Story.handler = staff_token(gateway, platform_admin, "handler")
    Story.other_handler = staff_token(gateway, platform_admin, "handler")
    Story.supervisor = staff_token(gateway, platform_admin, "supervisor")

    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": WITHDRAWAL,
            "form": {
                "withdrawal_reason": "rent",
                "amount_cny": "80000",
                "bank_account": "6222020200112233445",
                "contact_phone": "13957700000",
            },
        },
        headers={**bearer(Story.retiree), "Idempotency-Key": "withdrawal-of-the-retiree-1"},
    )

    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert case["department_id"] == FUND_CENTRE
    assert case["decision_approval"] == "second_person"
    Story.case_no, Story.etag = case["case_no"], filed.headers["etag"]
    assert Story.case_no.startswith("330300-")


def test_2_a_handler_claims_it_and_asks_once_for_two_fields(gateway: httpx.Client) -> None:
    step(gateway, Story.handler, "claim")
    problem(
        gateway.post(
            f"/cases/v1/cases/{Story.case_no}/claim",
            headers={**bearer(Story.other_handler), "If-Match": Story.etag},
        ),
        409,
        "claimed_by_another",
    )

    asked = step(
        gateway,
        Story.handler,
        "request_supplement",
        note="退休提取请选择“离休、退休”；提取金额超出账户余额",
        notice={"fields": ["withdrawal_reason", "amount_cny"]},
    )

    assert (asked["status"], asked["clock"]) == ("supplement_requested", "paused")


def waiting_on_her(gateway: httpx.Client) -> dict[str, Any] | None:
    """The message of her inbox saying the case waits on her, once case-svc's event reached
    identity-svc; None if it did not, for the assert."""
    deadline = time.monotonic() + EVENT_WITHIN_SECONDS
    while True:
        inbox = gateway.get("/identity/v1/me/inbox", headers=bearer(Story.retiree)).json()
        for message in inbox["items"]:
            if (message["case_no"], message["kind"]) == (Story.case_no, "action_needed"):
                found: dict[str, Any] = message
                return found
        if time.monotonic() > deadline:
            return None
        time.sleep(0.2)


def test_3_she_supplies_both_and_sees_the_notice_in_her_history(gateway: httpx.Client) -> None:
    # Her inbox says it waits on her, and her phone was texted so.
    message = waiting_on_her(gateway)
    assert message is not None, "the supplement asked for never reached her inbox"
    assert (message["case_status"], message["texted"]) == ("supplement_requested", True)
    mine = gateway.get(f"/cases/v1/cases/{Story.case_no}", headers=bearer(Story.retiree)).json()
    notice = mine["history"][-1]
    assert notice["detail"] == {"fields": ["amount_cny", "withdrawal_reason"], "materials": []}
    assert (notice["actor"], notice["actor_role"]) == (None, "handler")
    # The handler by their staff number (工号), Wenzhou's, as identity-svc gave it.
    assert re.fullmatch(r"330300-\d{4}", notice["staff_no"])
    assert mine["available_actions"] == ["supplement", "withdraw"]

    supplied = step(
        gateway,
        Story.retiree,
        "supplement",
        form={"withdrawal_reason": "retirement", "amount_cny": "52000"},
    )

    assert (supplied["status"], supplied["clock"]) == ("submitted", "running")
    assert supplied["form"]["amount_cny"] == "52000"


def test_4_accepted_reviewed_and_approved_by_a_second_person_then_completed(
    gateway: httpx.Client,
) -> None:
    step(gateway, Story.handler, "accept")
    step(gateway, Story.handler, "start_review")
    step(gateway, Story.handler, "approve", expect=409)  # two people decide this item
    step(gateway, Story.handler, "propose_approval", note="符合退休提取条件")
    step(gateway, Story.supervisor, "confirm")
    done = step(gateway, Story.handler, "deliver", note="已转入本人银行账户")

    assert done["status"] == "completed"
    assert [(h["action"], h["actor_role"], h["clock"]) for h in done["history"]] == [
        ("submit", "applicant", "running"),
        ("claim", "handler", "running"),
        ("request_supplement", "handler", "paused"),
        ("supplement", "applicant", "running"),
        ("accept", "handler", "running"),
        ("start_review", "handler", "running"),
        ("propose_approval", "handler", "running"),
        ("confirm", "supervisor", "running"),
        ("deliver", "handler", "stopped"),
    ]
    reviewer, approver = done["history"][5]["actor"], done["history"][7]["actor"]
    assert reviewer is not None
    assert approver not in (None, reviewer)


def test_5_roles_decide_who_moves_a_case(gateway: httpx.Client, platform_admin: str) -> None:
    catalog_admin = create_staff(gateway, platform_admin, FUND_CENTRE, ["catalog_admin"])
    token = catalog_admin.sign_in(gateway)
    problem(
        gateway.get(f"/cases/v1/cases/{Story.case_no}", headers=bearer(token)),
        404,
        "case_not_found",
    )
    problem(gateway.get("/cases/v1/cases", headers=bearer(token)), 403, "no_case_role")


def cases_in(platform: Platform, instance: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(platform.config.database_url(instance))
        try:
            async with engine.connect() as connection:
                return set((await connection.execute(select(Case.case_no))).scalars())
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture(scope="module")
def hangzhou_resident(platform: Platform, face_of: Any) -> str:
    """The Hangzhou resident of this platform (one per backend), face-verified once."""
    with platform.client() as gateway:
        return face_verified(gateway, platform, face_of, HANGZHOU_RESIDENT)


@pytest.mark.parametrize("region_header", [None, "3301", "33"])
def test_6_a_case_lives_in_the_instance_of_its_departments_region_whatever_is_sent(
    gateway: httpx.Client, platform: Platform, hangzhou_resident: str, region_header: str | None
) -> None:
    """A Hangzhou resident applies with a Lucheng office: her case is Lucheng's, kept by
    Wenzhou's instance, wherever the gateway first sent it."""
    her = hangzhou_resident
    headers = {**bearer(her), "Idempotency-Key": f"lucheng-card-{region_header}"}
    if region_header is not None:
        headers["X-Region-Code"] = region_header

    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": SOCIAL_CARD_LOSS,
            "form": {"contact_phone": "13957700000"},
            "applicant_region": LUCHENG,
        },
        headers=headers,
    )
    again = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": SOCIAL_CARD_LOSS,
            "form": {"contact_phone": "13957700000"},
            "applicant_region": LUCHENG,
        },
        headers=headers,
    )

    assert filed.status_code == 201, filed.text
    case_no = filed.json()["case_no"]
    assert case_no.startswith(f"{LUCHENG}-")
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json()["case_no"] == case_no
    assert case_no in cases_in(platform, WENZHOU_CASE.name)
    assert case_no not in cases_in(platform, "case")
    read = gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(her))
    assert read.status_code == 200, read.text
    listed = [
        item["case_no"]
        for item in gateway.get("/cases/v1/cases", headers=bearer(her)).json()["items"]
    ]
    assert case_no in listed
    assert len(listed) == len(set(listed))


def file_withdrawal(gateway: httpx.Client, key: str) -> tuple[str, str]:
    """Another withdrawal by the retiree: its number and ETag."""
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": WITHDRAWAL,
            "form": {
                "withdrawal_reason": "retirement",
                "amount_cny": "30000",
                "bank_account": "6222020200112233445",
                "contact_phone": "13957700000",
            },
        },
        headers={**bearer(Story.retiree), "Idempotency-Key": key},
    )
    assert filed.status_code == 201, filed.text
    return filed.json()["case_no"], filed.headers["etag"]


def act(
    gateway: httpx.Client, token: str, case_no: str, etag: str, action: str, **body: Any
) -> httpx.Response:
    path = f"/cases/v1/cases/{case_no}"
    headers = {**bearer(token), "If-Match": etag}
    if action == "claim":
        return gateway.post(f"{path}/claim", headers=headers)
    return gateway.post(f"{path}/transitions", json={"action": action, **body}, headers=headers)


def test_7_two_handlers_claim_one_case_at_once_and_one_wins(platform: Platform) -> None:
    with platform.client() as first, platform.client() as second:
        case_no, etag = file_withdrawal(first, "withdrawal-of-the-retiree-2")
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(
                    lambda caller: act(caller[0], caller[1], case_no, etag, "claim"),
                    [(first, Story.handler), (second, Story.other_handler)],
                )
            )

        assert sorted(answer.status_code for answer in answers) == [200, 412]
        [won] = [answer for answer in answers if answer.status_code == 200]
        [lost] = [answer for answer in answers if answer.status_code == 412]
        problem(lost, 412, "precondition_failed")
        case = first.get(f"/cases/v1/cases/{case_no}", headers=bearer(Story.handler)).json()
        assert case["assignee_id"] == won.json()["assignee_id"]
        assert [h["action"] for h in case["history"]] == ["submit", "claim"]


def test_8_a_supervisor_extends_once_and_she_sees_why(gateway: httpx.Client) -> None:
    case_no, etag = file_withdrawal(gateway, "withdrawal-of-the-retiree-3")
    for token, action in (
        (Story.handler, "claim"),
        (Story.handler, "accept"),
        (Story.handler, "start_review"),
    ):
        answer = act(gateway, token, case_no, etag, action)
        assert answer.status_code == 200, answer.text
        etag, before = answer.headers["etag"], answer.json()
    problem(
        act(
            gateway,
            Story.handler,
            case_no,
            etag,
            "extend",
            note="需核查",
            extension={"working_days": 5},
        ),
        403,
        "not_your_transition",
    )

    extended = act(
        gateway,
        Story.supervisor,
        case_no,
        etag,
        "extend",
        note="需向原单位核实退休信息",
        extension={"working_days": 10},
    )

    assert extended.status_code == 200, extended.text
    assert extended.json()["statutory_due_at"] > before["statutory_due_at"]
    problem(
        act(
            gateway,
            Story.supervisor,
            case_no,
            extended.headers["etag"],
            "extend",
            note="再延",
            extension={"working_days": 1},
        ),
        409,
        "action_taken_once",
    )
    mine = gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(Story.retiree)).json()
    last = mine["history"][-1]
    assert (last["action"], last["note"], last["detail"]) == (
        "extend",
        "需向原单位核实退休信息",
        {"working_days": 10},
    )
    assert (last["actor"], last["actor_role"]) == (None, "supervisor")


def test_9_a_supervisor_transfers_a_case_to_the_right_department(
    gateway: httpx.Client, platform_admin: str
) -> None:
    case_no, etag = file_withdrawal(gateway, "withdrawal-of-the-retiree-4")
    problem(
        act(
            gateway,
            Story.supervisor,
            case_no,
            etag,
            "transfer",
            note="非本机关职责",
            transfer={"department_id": "330302-natural_resources"},
        ),
        422,
        "transfer_refused",
    )

    moved = act(
        gateway,
        Story.supervisor,
        case_no,
        etag,
        "transfer",
        note="属不动产登记事项",
        transfer={"department_id": "330300-natural_resources"},
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["department_id"] == "330300-natural_resources"
    # The fund centre's handler no longer finds it; the registry's handler claims it.
    problem(
        gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(Story.handler)),
        404,
        "case_not_found",
    )
    registry = create_staff(
        gateway, platform_admin, "330300-natural_resources", ["handler"]
    ).sign_in(gateway)
    taken = act(gateway, registry, case_no, moved.headers["etag"], "claim")
    assert taken.status_code == 200, taken.text
    mine = gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(Story.retiree)).json()
    assert mine["department_name"] == "温州市自然资源和规划局"


def test_10_an_intake_left_undecided_past_its_time_is_deemed_accepted(
    gateway: httpx.Client, platform: Platform
) -> None:
    case_no, _ = file_withdrawal(gateway, "withdrawal-of-the-retiree-5")

    # The clock moved by hand: the five working days of the intake have passed.
    async def move_clock() -> None:
        engine = create_async_engine(platform.config.database_url(WENZHOU_CASE.name))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(Case)
                    .where(Case.case_no == case_no)
                    .values(intake_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
                )
        finally:
            await engine.dispose()

    asyncio.run(move_clock())
    deadline = time.monotonic() + 60
    while True:
        case = gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(Story.retiree)).json()
        if case["status"] != "submitted" or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    assert case["status"] == "accepted"
    deemed = case["history"][-1]
    assert (deemed["action"], deemed["actor"], deemed["actor_role"], deemed["detail"]) == (
        "accept",
        "system",
        "system",
        {"deemed": True},
    )
