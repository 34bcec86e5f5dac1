"""A bad review followed through, end to end through the gateway between real processes: a
Lucheng resident's loss report is completed (an instant item), case-svc tells rating-svc, she
finds it on her list to rate and gives it a very dissatisfied review; Lucheng's public security
bureau finds the rectification in its queue, calls her back and reports what it changed; she
rates the rectification and that closes it. The public figures count each step, and so does
the item's live quality in the catalogue (its Lucheng handler's ratings, bad reviews and
completed cases); a review the bureau appeals, upheld by Wenzhou's bureau (the tier above),
leaves both; a call-back left past its time is escalated to Wenzhou's supervisors.

The tests in this module run in order and share the people, as the story does.
"""

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from onevisit_dev.answers import EVENT_WITHIN_SECONDS, bearer, invitation_to_rate, problem
from onevisit_dev.callers import (
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import Platform
from rating_svc.models import Rectification
from servicekit.working_days import local_date

pytestmark = pytest.mark.e2e

BUREAU = "330302-public_security"
CITY_BUREAU = "330300-public_security"
LOSS_REPORT = "public_security.id_card_loss_report"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story.
RESIDENT = ("田明晨", "330302193501215114")


class Story:
    resident: str
    handler: str
    supervisor: str
    case_no: str
    rectification_id: str
    city_supervisor: str
    before: dict[str, Any]
    #: The loss report's live quality for Lucheng in the catalogue before the story.
    quality: dict[str, int]


def figures(gateway: httpx.Client, path: str) -> dict[str, Any]:
    """The published figures (no token) of the days around today, in Asia/Shanghai: a story
    that runs across midnight stays in them."""
    today = local_date(dt.datetime.now(dt.UTC))
    days = {
        "from": (today - dt.timedelta(days=1)).isoformat(),
        "to": (today + dt.timedelta(days=1)).isoformat(),
        "granularity": "day",
    }
    response = gateway.get(f"/ratings/v1/statistics/{path}", params=days)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("public, max-age=")
    shown: dict[str, Any] = response.json()["figures"]
    return shown


def quality(gateway: httpx.Client) -> dict[str, int]:
    """The counts behind the loss report's live quality for Lucheng (public, no token)."""
    answer = gateway.get(
        f"/catalog/v1/items/{LOSS_REPORT}/handler",
        params={"region": "330302"},
        headers={"cache-control": "no-cache"},
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()["quality"]
    assert shown["promised_working_days"] == 0
    return {
        "ratings": shown["ratings"],
        "bad_reviews": round((shown["bad_review_rate"] or 0) * shown["ratings"]),
        "completed_cases": shown["completed_cases"],
    }


def settled_quality(gateway: httpx.Client) -> dict[str, int]:
    """The live quality once the events of earlier stories have all been counted: two reads
    more than the catalogue's refresh apart that agree."""
    deadline = time.monotonic() + EVENT_WITHIN_SECONDS
    shown = quality(gateway)
    while time.monotonic() < deadline:
        time.sleep(1.5)
        again = quality(gateway)
        if again == shown:
            break
        shown = again
    return shown


def quality_moves_by(gateway: httpx.Client, **expected: int) -> None:
    """Wait until the live quality has moved by ``expected`` since the story began (the
    events reach the catalogue after the change commits, and each process reads them within a
    second here)."""
    wanted = {name: Story.quality[name] + expected.get(name, 0) for name in Story.quality}
    deadline = time.monotonic() + EVENT_WITHIN_SECONDS
    while (shown := quality(gateway)) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert shown == wanted


def moved(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    return {
        name: after[name] - before[name]
        for name in ("ratings", "bad_reviews", "rectifications_closed", "follow_ups")
    }


def file_loss_report(gateway: httpx.Client, loss_date: str) -> str:
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": LOSS_REPORT,
            "form": {"loss_reason": "lost", "loss_date": loss_date, "contact_phone": "13957700001"},
        },
        headers={**bearer(Story.resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    case_no: str = filed.json()["case_no"]
    assert invitation_to_rate(gateway, Story.resident, case_no) is not None
    return case_no


def rate_badly(gateway: httpx.Client, case_no: str) -> dict[str, Any]:
    rated = gateway.post(
        "/ratings/v1/ratings",
        json={"case_no": case_no, "level": 2},
        headers=bearer(Story.resident),
    )
    assert rated.status_code == 201, rated.text
    body: dict[str, Any] = rated.json()
    return body


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
    Story.city_supervisor = create_staff(
        gateway, platform_admin, CITY_BUREAU, ["supervisor"]
    ).sign_in(gateway)
    Story.quality = settled_quality(gateway)

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
    # The catalogue counted the completed case (an instant item: 0 working days).
    quality_moves_by(gateway, completed_cases=1)


def test_2_her_bad_review_opens_a_rectification_in_the_bureaus_queue(
    gateway: httpx.Client,
) -> None:
    Story.before = figures(gateway, f"departments/{BUREAU}")
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
    # The public figures count it at once, for the bureau and up the region tree.
    assert moved(Story.before, figures(gateway, f"departments/{BUREAU}")) == {
        "ratings": 1,
        "bad_reviews": 1,
        "rectifications_closed": 0,
        "follow_ups": 0,
    }
    quality_moves_by(gateway, completed_cases=1, ratings=1, bad_reviews=1)

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
    # Her inbox tells her the bureau answered, and that the result is hers to rate.
    deadline = time.monotonic() + EVENT_WITHIN_SECONDS
    while True:
        inbox = gateway.get("/identity/v1/me/inbox", headers=bearer(Story.resident)).json()
        kinds = {(m["kind"], m["case_no"]) for m in inbox["items"]}
        if ("rectification_reported", Story.case_no) in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ("rectification_reported", Story.case_no) in kinds


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
    # Published: the rectification closed and its follow-up rating.
    assert moved(Story.before, figures(gateway, f"departments/{BUREAU}")) == {
        "ratings": 1,
        "bad_reviews": 1,
        "rectifications_closed": 1,
        "follow_ups": 1,
    }


def test_5_an_upheld_appeal_takes_a_review_out_of_the_figures(gateway: httpx.Client) -> None:
    case_no = file_loss_report(gateway, "2026-12-01")
    before = figures(gateway, "regions/330300")
    review = rate_badly(gateway, case_no)
    assert moved(before, figures(gateway, "regions/330300"))["bad_reviews"] == 1
    # Her follow-up rating of the first rectification (test 4) counted for nothing here.
    quality_moves_by(gateway, completed_cases=2, ratings=2, bad_reviews=2)

    appealed = gateway.post(
        f"/ratings/v1/ratings/{review['id']}/appeal",
        json={
            "grounds": "mistaken",
            "reasons": "挂失已当场办结，评价所述跑腿发生在其他部门",
            "evidence": ["受理回执编号 " + case_no],
        },
        headers=bearer(Story.handler),
    )
    assert appealed.status_code == 201, appealed.text
    assert appealed.json()["decider_department_id"] == CITY_BUREAU
    appeal_path = f"/ratings/v1/appeals/{appealed.json()['id']}"
    # The bureau does not decide its own appeal.
    problem(
        gateway.post(
            f"{appeal_path}/decision",
            json={"outcome": "upheld", "note": "本局自查"},
            headers=bearer(Story.supervisor),
        ),
        403,
        "appeal_decided_by_tier_above",
    )
    decided = gateway.post(
        f"{appeal_path}/decision",
        json={"outcome": "upheld", "note": "核实回执，评价对象有误"},
        headers=bearer(Story.city_supervisor),
    )
    assert decided.status_code == 200, decided.text

    assert moved(before, figures(gateway, "regions/330300")) == {
        "ratings": 0,
        "bad_reviews": 0,
        "rectifications_closed": 0,
        "follow_ups": 0,
    }
    hers = gateway.get(f"/ratings/v1/ratings/{review['id']}", headers=bearer(Story.resident))
    assert hers.json()["appeal"]["status"] == "upheld"
    assert hers.json()["appeal"]["excluded_from_figures"] is True
    # The catalogue takes it out too; the completed case stays counted.
    quality_moves_by(gateway, completed_cases=2, ratings=1, bad_reviews=1)
    rectification = gateway.get(
        f"/ratings/v1/rectifications/{review['rectification_id']}", headers=bearer(Story.handler)
    )
    assert rectification.json()["status"] == "appealed"


def test_6_a_call_back_left_past_its_time_is_escalated_to_the_tier_above(
    gateway: httpx.Client, platform: Platform
) -> None:
    case_no = file_loss_report(gateway, "2026-12-02")
    rectification_id = rate_badly(gateway, case_no)["rectification_id"]
    path = f"/ratings/v1/rectifications/{rectification_id}"
    # Before it is overdue, Wenzhou's supervisors do not see it.
    problem(
        gateway.get(path, headers=bearer(Story.city_supervisor)), 404, "rectification_not_found"
    )

    # The clock moved by hand: the working day of the call-back has passed.
    async def move_clock() -> None:
        engine = create_async_engine(platform.config.database_url("rating"))
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(Rectification)
                    .where(Rectification.id == uuid.UUID(rectification_id))
                    .values(call_back_due_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
                )
        finally:
            await engine.dispose()

    asyncio.run(move_clock())
    deadline = time.monotonic() + 60
    while True:
        seen = gateway.get(path, headers=bearer(Story.city_supervisor))
        if seen.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    assert seen.status_code == 200, seen.text
    body = seen.json()
    assert body["escalated_to_department_id"] == CITY_BUREAU
    assert body["call_back_overdue_at"] is not None
    assert body["status"] == "awaiting_call_back"  # the bureau still owes it
    assert body["history"][-1]["action"] == "call_back_overdue"
