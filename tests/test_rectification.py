"""A bad review followed through, end to end through the gateway between real processes: a
Lucheng resident's loss report is completed (an instant item), case-svc tells rating-svc, she
finds it on her list to rate and gives it a very dissatisfied review; Lucheng's public security
bureau finds the rectification in its queue, calls her back and reports what it changed; she
rates the rectification and that closes it.

The tests in this module run in order and share the people, as the story does.
"""

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from onevisit_dev.answers import bearer, invitation_to_rate, problem
from onevisit_dev.callers import (
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

BUREAU = "330302-public_security"
LOSS_REPORT = "public_security.id_card_loss_report"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story.
RESIDENT = ("田明晨", "330302193501215114")


class Story:
    resident: str
    handler: str
    supervisor: str
    case_no: str
    rectification_id: str


def test_1_her_completed_case_is_on_her_list_to_rate(
    gateway: httpx.Client, platform: Platform, platform_admin: str, face_of: Any
) -> None:
    name, id_number = RESIDENT
    person = Person(name, id_number, face_of(id_number))
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    claim_real_name(gateway, token, person)
    Story.resident = verify_face(gateway, token, person)
    Story.handler = create_staff(gateway, platform_admin, BUREAU, ["handler"]).sign_in(gateway)
    Story.supervisor = create_staff(gateway, platform_admin, BUREAU, ["supervisor"]).sign_in(
        gateway
    )

    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": LOSS_REPORT,
            "form": {
                "loss_reason": "stolen",
                "loss_date": "2026-11-30",
                "contact_phone": "13957700001",
            },
        },
        headers={**bearer(Story.resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    assert filed.json()["status"] == "completed"
    Story.case_no = filed.json()["case_no"]

    invitation = invitation_to_rate(gateway, Story.resident, Story.case_no)
    assert invitation is not None, "case.completed never became an invitation to rate"
    assert invitation["department_id"] == BUREAU


def test_2_her_bad_review_opens_a_rectification_in_the_bureaus_queue(
    gateway: httpx.Client,
) -> None:
    rated = gateway.post(
        "/ratings/v1/ratings",
        json={
            "case_no": Story.case_no,
            "level": 1,
            "tags": ["repeated_visits"],
            "comment": "网上说能办，结果还是让我去窗口跑了两趟",
            "channel": "app",
        },
        headers=bearer(Story.resident),
    )
    assert rated.status_code == 201, rated.text
    assert rated.json()["bad_review"] is True
    Story.rectification_id = rated.json()["rectification_id"]
    assert Story.rectification_id is not None

    queue = gateway.get("/ratings/v1/rectifications", headers=bearer(Story.handler))
    assert queue.status_code == 200, queue.text
    mine = [item for item in queue.json()["items"] if item["id"] == Story.rectification_id]
    assert [(item["status"], item["case_no"]) for item in mine] == [
        ("awaiting_call_back", Story.case_no)
    ]
    # Nothing to rate again before the bureau reports its rectification.
    problem(
        gateway.post(
            "/ratings/v1/ratings",
            json={"case_no": Story.case_no, "kind": "follow_up", "level": 5},
            headers=bearer(Story.resident),
        ),
        409,
        "follow_up_not_due",
    )


def test_3_the_bureau_calls_her_back_and_reports_what_it_changed(gateway: httpx.Client) -> None:
    path = f"/ratings/v1/rectifications/{Story.rectification_id}"
    detail = gateway.get(path, headers=bearer(Story.handler))
    assert detail.json()["review"]["comment"] == "网上说能办，结果还是让我去窗口跑了两趟"
    called = gateway.post(
        f"{path}/call-back",
        json={
            "called_back_at": dt.datetime.now(dt.UTC).isoformat(),
            "channel": "phone",
            "note": "已电话回访致歉，说明挂失可全程网办，窗口指引有误",
        },
        headers=bearer(Story.handler),
    )
    assert called.status_code == 200, called.text
    assert called.json()["status"] == "rectifying"
    rectified = gateway.post(
        f"{path}/rectification",
        json={"note": "更正窗口办事指南，挂失业务引导至网上办理，并对窗口人员培训"},
        headers=bearer(Story.supervisor),
    )
    assert rectified.status_code == 200, rectified.text
    assert rectified.json()["status"] == "awaiting_follow_up"


def test_4_her_follow_up_rating_closes_it(gateway: httpx.Client) -> None:
    invitation = invitation_to_rate(gateway, Story.resident, Story.case_no, kind="follow_up")
    assert invitation is not None
    assert invitation["rectification_id"] == Story.rectification_id
    follow_up = gateway.post(
        "/ratings/v1/ratings",
        json={"case_no": Story.case_no, "kind": "follow_up", "level": 4, "tags": ["fast"]},
        headers=bearer(Story.resident),
    )
    assert follow_up.status_code == 201, follow_up.text

    closed = gateway.get(
        f"/ratings/v1/rectifications/{Story.rectification_id}", headers=bearer(Story.resident)
    )
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed"
    assert body["follow_up_rating_id"] == follow_up.json()["id"]
    assert [entry["action"] for entry in body["history"]] == [
        "opened",
        "call_back",
        "rectify",
        "follow_up",
    ]
    # She is not shown who in the bureau acted.
    assert [entry["actor_id"] is None for entry in body["history"]] == [False, True, True, False]
