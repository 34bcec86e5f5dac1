"""What rating-svc tells other services: each change's event written in its transaction to the
outbox, for the subscribers the settings name; ids and codes only, never personal data."""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from rating_svc.models import OutboxEvent
from rating_svc.rectifications import service as rectifications
from rating_svc.settings import RatingSettings
from servicekit.settings import ServiceSettings
from servicekit.testing import ServiceUnderTest, TokenMinter, bearer

Clock = Any
CaseSvc = Callable[..., None]
ACase = Callable[..., dict[str, Any]]

STATISTICS = "/statistics/v1/events"
CATALOG = "/catalog/v1/events"
CASE_NO = "330302-20261207-000001"
BUREAU = "330302-public_security"
COMMENT = "窗口的王师傅让我跑了三趟，电话13957700000"


@pytest.fixture
def settings(
    service_under_test: ServiceUnderTest, database_url: str, tmp_path: Path
) -> ServiceSettings:
    """Two subscribers, and no client secret: the relay does not run, the events wait."""
    base = service_under_test.settings_for(database_url, tmp_path)
    subscribers = {
        "rating.created": [STATISTICS, CATALOG],
        "rectification.opened": [STATISTICS],
        "rectification.overdue": [STATISTICS],
        "rectification.closed": [STATISTICS],
    }
    return base.model_copy(update={"event_subscribers": subscribers})


async def outbox(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.service.database.sessionmaker() as session:
        rows = await session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq))
        return [{"subscriber": row.subscriber, **json.loads(row.envelope)} for row in rows]


def staff(token_minter: TokenMinter, role: str = "handler") -> dict[str, str]:
    return bearer(token_minter.mint(f"{role}-1", typ="staff", roles=(role,), dept=BUREAU))


async def test_a_bad_review_is_reported_rated_and_its_rectification_opened_without_its_words(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    rated = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": 1, "tags": ["repeated_visits"], "comment": COMMENT},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert rated.status_code == 201, rated.text
    events = await outbox(app)
    assert [(event["type"], event["subscriber"]) for event in events] == [
        ("rectification.opened", STATISTICS),
        ("rating.created", STATISTICS),
        ("rating.created", CATALOG),
    ]
    opened, created = events[0], events[1]
    assert created["source"] == "/ratings"
    assert created["subject"] == rated.json()["id"]
    assert created["data"] == {
        "rating_id": rated.json()["id"],
        "case_no": CASE_NO,
        "item_code": "public_security.id_card_loss_report",
        "department_id": BUREAU,
        "region_code": "330302",
        "kind": "case",
        "level": 1,
        "bad_review": True,
        "tags": ["repeated_visits"],
        "channel": "app",
        "rectification_id": rated.json()["rectification_id"],
    }
    assert opened["subject"] == rated.json()["rectification_id"]
    assert opened["data"]["rating_id"] == rated.json()["id"]
    assert dt.datetime.fromisoformat(opened["data"]["call_back_due_at"]) == dt.datetime(
        2026, 12, 8, 15, 59, 59, tzinfo=dt.UTC
    )
    # Her words, her account: in no event.
    text = json.dumps(events, ensure_ascii=False)
    for personal in ("13957700000", "王师傅", "citizen-1"):
        assert personal not in text


async def test_an_overdue_step_and_the_follow_up_that_closes_it_are_reported(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    rated = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": 2},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    rectification_id = rated.json()["rectification_id"]
    late = dt.datetime(2026, 12, 9, 1, 0, tzinfo=dt.UTC)
    state = app.state.service
    assert (
        await rectifications.escalate_overdue(state.database.sessionmaker, state.outbox, now=late)
        == 1
    )
    clock.now = late
    path = f"/ratings/v1/rectifications/{rectification_id}"
    called = await client.post(
        f"{path}/call-back",
        json={"called_back_at": late.isoformat(), "channel": "visit", "note": "上门致歉"},
        headers=staff(token_minter),
    )
    assert called.status_code == 200, called.text
    rectified = await client.post(
        f"{path}/rectification", json={"note": "流程已优化"}, headers=staff(token_minter)
    )
    assert rectified.status_code == 200, rectified.text
    follow_up = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "kind": "follow_up", "level": 5},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    assert follow_up.status_code == 201, follow_up.text

    events = [event for event in await outbox(app) if event["subscriber"] == STATISTICS]
    assert [event["type"] for event in events] == [
        "rectification.opened",
        "rating.created",
        "rectification.overdue",
        "rectification.closed",
        "rating.created",
    ]
    overdue, closed, rerated = events[2], events[3], events[4]
    assert overdue["data"]["step"] == "call_back"
    assert overdue["data"]["escalated_to_department_id"] == "330300-public_security"
    assert closed["subject"] == rectification_id
    assert closed["data"]["follow_up_rating_id"] == follow_up.json()["id"]
    assert closed["data"]["follow_up_level"] == 5
    assert closed["data"]["called_back_on_time"] is False
    assert closed["data"]["rectified_on_time"] is True
    assert (rerated["data"]["kind"], rerated["data"]["rectification_id"]) == (
        "follow_up",
        rectification_id,
    )
    text = json.dumps(events, ensure_ascii=False)
    assert "上门致歉" not in text
    assert "流程已优化" not in text


async def test_a_good_review_is_reported_rated_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: CaseSvc,
    a_case: ACase,
    clock: Clock,
) -> None:
    case_svc(a_case(CASE_NO, "citizen-1"))
    await client.post(
        "/ratings/v1/ratings",
        json={"case_no": CASE_NO, "level": 5},
        headers=bearer(token_minter.mint("citizen-1")),
    )
    events = await outbox(app)
    assert {event["type"] for event in events} == {"rating.created"}
    assert events[0]["data"]["rectification_id"] is None


def test_a_subscription_to_an_event_rating_svc_does_not_emit_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"rating-svc emits no rating\.deleted"):
        RatingSettings(event_subscribers={"rating.deleted": ["/x/v1/events"]})
