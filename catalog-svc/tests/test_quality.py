"""Each item's live quality: case-svc's completed cases and rating-svc's ratings and appeal
decisions, posted by each producer's own client alone, counted once per event, shown on the
item, its handler and search results."""

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog_svc.quality.board import median
from servicekit.events import CLOUDEVENTS_JSON
from servicekit.ids import new_id
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

WITHDRAWAL = "housing_provident_fund.withdrawal"
LUCHENG = "330302"


def event(
    event_type: str, data: dict[str, Any], *, event_id: uuid.UUID | None = None
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(event_id or new_id()),
        "source": "/cases" if event_type.startswith("case.") else "/ratings",
        "type": event_type,
        "subject": str(uuid.uuid4()),
        "time": "2026-12-07T02:00:00Z",
        "datacontenttype": "application/json",
        "data": data,
    }


def completed(department_id: str, working_days: int) -> dict[str, Any]:
    return event(
        "case.completed",
        {
            "case_id": str(uuid.uuid4()),
            "case_no": f"{LUCHENG}-20261207-000001",
            "item_code": WITHDRAWAL,
            "department_id": department_id,
            "region_code": LUCHENG,
            "status": "completed",
            "working_days_taken": working_days,
        },
    )


def rated(department_id: str, level: int, *, kind: str = "case") -> dict[str, Any]:
    return event(
        "rating.created",
        {
            "rating_id": str(uuid.uuid4()),
            "item_code": WITHDRAWAL,
            "department_id": department_id,
            "region_code": LUCHENG,
            "kind": kind,
            "level": level,
            "bad_review": level <= 2,
        },
    )


def decided(department_id: str, rating: dict[str, Any], outcome: str) -> dict[str, Any]:
    return event(
        "appeal.decided",
        {
            "appeal_id": str(uuid.uuid4()),
            "rating_id": rating["data"]["rating_id"],
            "item_code": WITHDRAWAL,
            "department_id": department_id,
            "status": outcome,
            "level": rating["data"]["level"],
            "bad_review": rating["data"]["bad_review"],
        },
    )


@pytest.fixture
def producer(token_minter: TokenMinter) -> Callable[[str], dict[str, str]]:
    def headers(client_id: str) -> dict[str, str]:
        token = token_minter.mint(client_id, typ="service", loa=0, scope=("events:deliver",))
        return {**bearer(token), "content-type": CLOUDEVENTS_JSON}

    return headers


async def _quality(app: FastAPI, client: httpx.AsyncClient) -> tuple[dict[str, Any], ...]:
    """The item's, its Lucheng handler's and its search hit's figures, once this process has
    read what the events changed."""
    await app.state.service.quality.refresh(app.state.service.database)
    item = (await client.get(f"/catalog/v1/items/{WITHDRAWAL}")).json()["quality"]
    handler = (
        await client.get(f"/catalog/v1/items/{WITHDRAWAL}/handler", params={"region": LUCHENG})
    ).json()["quality"]
    hits = (await client.get("/catalog/v1/items", params={"q": "公积金提取"})).json()["items"]
    hit = next(hit["quality"] for hit in hits if hit["code"] == WITHDRAWAL)
    return item, handler, hit


async def test_completions_ratings_and_an_upheld_appeal_move_the_figures(
    app: FastAPI, client: httpx.AsyncClient, producer: Callable[[str], dict[str, str]]
) -> None:
    handler = (
        await client.get(f"/catalog/v1/items/{WITHDRAWAL}/handler", params={"region": LUCHENG})
    ).json()
    department = handler["department"]["id"]
    promised = (await client.get(f"/catalog/v1/items/{WITHDRAWAL}")).json()["promised_working_days"]
    cases, ratings = producer("case-svc"), producer("rating-svc")
    for working_days in (1, 2, 2, 6):
        answer = await client.post(
            "/catalog/v1/events", json=completed(department, working_days), headers=cases
        )
        assert answer.status_code == 204, answer.text
    very_bad = rated(department, 1)
    for posted in (rated(department, 5), rated(department, 3), very_bad, rated(department, 2)):
        assert (
            await client.post("/catalog/v1/events", json=posted, headers=ratings)
        ).status_code == 204
    # A follow-up rates the rectification, not the service: not counted.
    follow_up = rated(department, 5, kind="follow_up")
    assert (
        await client.post("/catalog/v1/events", json=follow_up, headers=ratings)
    ).status_code == 204

    item, by_department, hit = await _quality(app, client)
    assert by_department == {
        "ratings": 4,
        "satisfaction_rate": 0.5,
        "bad_review_rate": 0.5,
        "completed_cases": 4,
        "median_working_days": 2.0,
        "promised_working_days": promised,
    }
    assert item == by_department == hit  # no other department has served it here

    # A rejected appeal leaves the review; an upheld one takes it out, once.
    rejected = decided(department, very_bad, "rejected")
    assert (
        await client.post("/catalog/v1/events", json=rejected, headers=ratings)
    ).status_code == 204
    upheld = decided(department, very_bad, "upheld")
    for _ in range(2):  # the relay's redelivery is answered alike and not counted again
        assert (
            await client.post("/catalog/v1/events", json=upheld, headers=ratings)
        ).status_code == 204
    item, by_department, _ = await _quality(app, client)
    assert by_department["ratings"] == 3
    assert by_department["satisfaction_rate"] == round(2 / 3, 4)
    assert by_department["bad_review_rate"] == round(1 / 3, 4)


async def test_another_department_counts_for_the_item_and_not_for_the_handler(
    app: FastAPI, client: httpx.AsyncClient, producer: Callable[[str], dict[str, str]]
) -> None:
    cases = producer("case-svc")
    elsewhere = "330106-housing_provident_fund"
    for working_days in (0, 4):
        posted = completed(elsewhere, working_days)
        assert (
            await client.post("/catalog/v1/events", json=posted, headers=cases)
        ).status_code == 204
    item, by_department, _ = await _quality(app, client)
    assert item["completed_cases"] == by_department["completed_cases"] + 2
    assert by_department["completed_cases"] == 0
    assert item["median_working_days"] == 2.0


async def test_each_event_type_comes_from_its_producer_alone(
    client: httpx.AsyncClient,
    producer: Callable[[str], dict[str, str]],
    token_minter: TokenMinter,
    problem: Problem,
) -> None:
    department = "330302-housing_provident_fund"
    forged = await client.post(
        "/catalog/v1/events", json=completed(department, 1), headers=producer("rating-svc")
    )
    assert problem(forged, 403, "not_the_event_producer")["event_type"] == "case.completed"
    forged = await client.post(
        "/catalog/v1/events", json=rated(department, 1), headers=producer("case-svc")
    )
    problem(forged, 403, "not_the_event_producer")
    citizen = {**bearer(token_minter.mint("citizen-1", loa=3)), "content-type": CLOUDEVENTS_JSON}
    answer = await client.post("/catalog/v1/events", json=rated(department, 1), headers=citizen)
    assert answer.status_code == 403
    unsigned = await client.post("/catalog/v1/events", json=rated(department, 1))
    assert unsigned.status_code == 401
    other_type = event("case.submitted", completed(department, 1)["data"])
    answer = await client.post("/catalog/v1/events", json=other_type, headers=producer("case-svc"))
    problem(answer, 422, "validation_failed")
    too_long = completed(department, 4000)
    answer = await client.post("/catalog/v1/events", json=too_long, headers=producer("case-svc"))
    problem(answer, 422, "validation_failed")


@pytest.mark.parametrize(
    ("histogram", "expected"),
    [({}, None), ({3: 1}, 3.0), ({1: 2, 3: 2}, 2.0), ({0: 1, 2: 1, 9: 1}, 2.0), ({5: 10}, 5.0)],
)
def test_the_median_of_a_histogram(histogram: dict[int, int], expected: float | None) -> None:
    assert median(histogram) == expected
