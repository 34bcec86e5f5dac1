"""The public statistics, kept by incremental roll-ups: every review counts, in the transaction
that records it, for its department, its item and its region up the tree, by day and by month;
its rectification and follow-up count in its period; an upheld appeal takes it all out again.
Public, cacheable, and nothing about a person."""

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from rating_svc.statistics import repository, rollups
from servicekit.testing import TokenMinter, bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Clock = Any
CaseSvc = Callable[..., None]
ACase = Callable[..., dict[str, Any]]
Staff = Callable[..., dict[str, str]]

BUREAU = "330302-public_security"
CITY_BUREAU = "330300-public_security"
CIVIL_AFFAIRS = "330302-civil_affairs"
LOSS_REPORT = "public_security.id_card_loss_report"
DECEMBER = {"from": "2026-12-01", "to": "2026-12-31"}
MONDAY = {"from": "2026-12-07", "to": "2026-12-07", "granularity": "day"}


@pytest.fixture
def staff(token_minter: TokenMinter) -> Staff:
    def token(*roles: str, dept: str = BUREAU) -> dict[str, str]:
        who = f"{dept}-{'-'.join(roles)}"
        return bearer(token_minter.mint(who, typ="staff", loa=2, roles=roles, dept=dept))

    return token


def case_no(n: int) -> str:
    return f"330302-20261207-{n:06d}"


async def rate(
    client: httpx.AsyncClient, token_minter: TokenMinter, n: int, level: int, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        "/ratings/v1/ratings",
        json={"case_no": case_no(n), "level": level, **body},
        headers=bearer(token_minter.mint(f"citizen-{n}")),
    )
    assert response.status_code == 201, response.text
    rating: dict[str, Any] = response.json()
    return rating


async def figures(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"/ratings/v1/statistics/{path}", params=params or DECEMBER)
    assert response.status_code == 200, response.text
    shown: dict[str, Any] = response.json()["figures"]
    return shown


@pytest.fixture
def cases(case_svc: CaseSvc, a_case: ACase, clock: Clock) -> None:
    """Five completed cases of the bureau (1–4) and of civil affairs (5), one per citizen."""
    case_svc(
        *(a_case(case_no(n), f"citizen-{n}") for n in range(1, 5)),
        a_case(case_no(5), "citizen-5", department_id=CIVIL_AFFAIRS, item_code="civil.marriage"),
    )


@pytest.mark.usefixtures("cases")
async def test_each_review_counts_for_its_department_item_and_every_region_above_it(
    client: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    for n, level in ((1, 5), (2, 4), (3, 1)):
        await rate(client, token_minter, n, level)
    for path in (
        f"departments/{BUREAU}",
        f"items/{LOSS_REPORT}",
        "regions/330302",
        "regions/330300",
        "regions/330000",
    ):
        for params in (DECEMBER, MONDAY):
            shown = await figures(client, path, **params)
            assert shown["ratings"] == 3, path
            assert shown["levels"] == {"5": 1, "4": 1, "3": 0, "2": 0, "1": 1}
            assert (shown["bad_reviews"], shown["rectifications_opened"]) == (1, 1)
            assert shown["satisfaction_rate"] == pytest.approx(0.6667)
            assert shown["bad_review_rate"] == pytest.approx(0.3333)
            assert shown["rectification_rate"] == 0.0
            assert shown["follow_up_satisfaction_rate"] is None
    # Another region, another day: nothing.
    assert (await figures(client, "regions/330303"))["ratings"] == 0
    tuesday = {"from": "2026-12-08", "to": "2026-12-31", "granularity": "day"}
    assert (await figures(client, f"departments/{BUREAU}", **tuesday))["satisfaction_rate"] is None


@pytest.mark.usefixtures("cases")
async def test_the_figures_are_public_and_cacheable(
    client: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    await rate(client, token_minter, 1, 5)
    path = f"/ratings/v1/statistics/departments/{BUREAU}"
    first = await client.get(path, params=DECEMBER)
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=300"
    etag = first.headers["etag"]
    again = await client.get(path, params=DECEMBER, headers={"if-none-match": etag})
    assert again.status_code == 304
    await rate(client, token_minter, 2, 4)
    changed = await client.get(path, params=DECEMBER, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


@pytest.mark.usefixtures("cases")
async def test_the_rectification_and_its_follow_up_count_and_an_upheld_appeal_takes_all_out(
    client: httpx.AsyncClient, token_minter: TokenMinter, staff: Staff, clock: Clock
) -> None:
    await rate(client, token_minter, 1, 5)
    bad = await rate(client, token_minter, 2, 1)
    rectification = f"/ratings/v1/rectifications/{bad['rectification_id']}"
    clock.now += dt.timedelta(hours=1)
    called = await client.post(
        f"{rectification}/call-back",
        json={"called_back_at": clock.now.isoformat(), "channel": "phone", "note": "已致歉"},
        headers=staff("handler"),
    )
    assert called.status_code == 200, called.text
    reported = await client.post(
        f"{rectification}/rectification", json={"note": "增开窗口"}, headers=staff("handler")
    )
    assert reported.status_code == 200, reported.text
    await rate(client, token_minter, 2, 4, kind="follow_up")
    shown = await figures(client, "regions/330300")
    assert (shown["ratings"], shown["bad_reviews"]) == (2, 1)
    assert (shown["rectifications_closed"], shown["rectifications_on_time"]) == (1, 1)
    assert (shown["follow_ups"], shown["follow_ups_satisfied"]) == (1, 1)
    assert shown["rectification_rate"] == 1.0
    assert shown["on_time_rectification_rate"] == 1.0
    assert shown["follow_up_satisfaction_rate"] == 1.0

    appealed = await client.post(
        f"/ratings/v1/ratings/{bad['id']}/appeal",
        json={"grounds": "malicious", "reasons": "评价与办理事实明显不符", "evidence": ["录像"]},
        headers=staff("handler"),
    )
    assert appealed.status_code == 201, appealed.text
    decided = await client.post(
        f"/ratings/v1/appeals/{appealed.json()['id']}/decision",
        json={"outcome": "upheld", "note": "录像为证"},
        headers=staff("supervisor", dept=CITY_BUREAU),
    )
    assert decided.status_code == 200, decided.text
    for path in (f"departments/{BUREAU}", f"items/{LOSS_REPORT}", "regions/330000"):
        shown = await figures(client, path)
        assert shown["ratings"] == 1
        assert shown["levels"]["1"] == 0
        assert shown["bad_reviews"] == shown["rectifications_opened"] == 0
        assert shown["rectifications_closed"] == shown["follow_ups"] == 0
        assert shown["satisfaction_rate"] == 1.0


@pytest.mark.usefixtures("cases")
async def test_departments_are_ranked_within_a_region_by_satisfaction_once_rated_enough(
    client: httpx.AsyncClient, token_minter: TokenMinter
) -> None:
    for n, level in ((1, 5), (2, 3), (3, 2), (5, 4)):
        await rate(client, token_minter, n, level)
    ranking = await client.get(
        "/ratings/v1/statistics/regions/330300/rankings", params={**DECEMBER, "min_ratings": "1"}
    )
    assert ranking.status_code == 200, ranking.text
    body = ranking.json()
    assert [(item["rank"], item["department_id"]) for item in body["items"]] == [
        (1, CIVIL_AFFAIRS),
        (2, BUREAU),
    ]
    assert body["items"][1]["figures"]["satisfaction_rate"] == pytest.approx(0.6667)
    assert body["unranked"] == 0
    strict = await client.get(
        "/ratings/v1/statistics/regions/330302/rankings", params={**DECEMBER, "min_ratings": "2"}
    )
    assert [item["department_id"] for item in strict.json()["items"]] == [BUREAU]
    assert strict.json()["unranked"] == 1
    elsewhere = await client.get("/ratings/v1/statistics/regions/330303/rankings", params=DECEMBER)
    assert elsewhere.json()["items"] == []


async def test_departments_equally_satisfied_rank_by_more_ratings_then_by_their_id(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    at = dt.datetime(2026, 12, 7, 2, tzinfo=dt.UTC)
    # Ratings, of them satisfied: three at 75 %, one rated too few times to be ranked.
    counted = {"330302-c": (4, 3), "330302-a": (4, 3), "330302-b": (8, 6), "330302-d": (1, 1)}
    async with app.state.service.database.sessionmaker.begin() as session:
        for department, (ratings, satisfied) in counted.items():
            keys = rollups.keys_of(
                department_id=department, item_code=LOSS_REPORT, region_code="330302", at=at
            )
            deltas = {"ratings": ratings, "level_5": satisfied, "level_1": ratings - satisfied}
            await repository.add(session, rollups.rows(keys, deltas))
    ranking = await client.get(
        "/ratings/v1/statistics/regions/330300/rankings", params={**DECEMBER, "min_ratings": "2"}
    )
    assert ranking.status_code == 200, ranking.text
    body = ranking.json()
    assert [(item["rank"], item["department_id"]) for item in body["items"]] == [
        (1, "330302-b"),
        (2, "330302-a"),
        (3, "330302-c"),
    ]
    assert {item["figures"]["satisfaction_rate"] for item in body["items"]} == {0.75}
    assert body["unranked"] == 1


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("regions/330302", {"from": "2026-12-31", "to": "2026-12-01"}, "statistics_range_invalid"),
        (
            f"departments/{BUREAU}",
            {"from": "2025-01-01", "to": "2026-12-31", "granularity": "day"},
            "statistics_range_invalid",
        ),
        ("regions/99x", DECEMBER, "region_code_invalid"),
    ],
)
async def test_a_range_or_region_it_cannot_count_is_refused(
    client: httpx.AsyncClient, problem: Problem, path: str, params: dict[str, str], code: str
) -> None:
    problem(await client.get(f"/ratings/v1/statistics/{path}", params=params), 422, code)


async def test_writers_adding_to_the_same_rows_at_once_lose_no_count(app: FastAPI) -> None:
    sessionmaker = app.state.service.database.sessionmaker
    keys = rollups.keys_of(
        department_id=BUREAU,
        item_code=LOSS_REPORT,
        region_code="330302",
        at=dt.datetime(2026, 12, 7, 2, tzinfo=dt.UTC),
    )

    async def one_rating() -> None:
        async with sessionmaker.begin() as session:
            await repository.add(session, rollups.rows(keys, rollups.rating_deltas(5, False)))

    await asyncio.gather(*(one_rating() for _ in range(20)))
    async with sessionmaker() as session:
        counts = await repository.totals(
            session,
            dimension="region",
            scope="",
            key="330000",
            granularity="month",
            start=dt.date(2026, 12, 1),
            end=dt.date(2026, 12, 1),
        )
    assert dict(zip(rollups.COUNTERS, counts, strict=True))["ratings"] == 20
