"""Filing an application: the catalog's rules enforced, the case numbered and timed, and a retry
that files nothing twice. The catalog here is the contract double in conftest.py."""

import asyncio
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import chinese_calendar
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from case_svc.models import Case, CaseEvent, IdempotencyRecord
from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

#: The demo resident's registered community in Songtai sub-district, Lucheng District.
SONGTAI_COMMUNITY = "330302026003"


async def count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.service.database.sessionmaker() as session:
        total: int = await session.scalar(select(func.count()).select_from(model))
        return total


async def test_an_instant_item_is_completed_at_once_under_the_bureaus_region_code(
    submit: Submit, resident: str, catalog: Any
) -> None:
    response = await submit(resident, catalog.loss_report)

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["case_no"] == "330302-20261126-000001"
    assert case["status"] == "completed"
    assert case["department_id"] == "330302-public_security"
    assert case["department_name"] == "温州市公安局鹿城区分局"
    assert case["region_code"] == "330302"
    assert case["applicant_region"] == SONGTAI_COMMUNITY
    assert case["applicant_id"] == "citizen-lin"
    assert case["actor_id"] is None
    assert case["completed_at"] == case["submitted_at"] == "2026-11-26T02:00:00Z"
    assert case["due_at"] is None
    assert [(h["status"], h["action"], h["actor"]) for h in case["history"]] == [
        ("submitted", "submit", "citizen-lin"),
        ("accepted", "accept", "system"),
        ("completed", "complete", "system"),
    ]
    assert case["available_actions"] == []
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/cases/v1/cases/{case['case_no']}"
    assert "idempotency-replayed" not in response.headers


async def test_a_review_item_waits_for_the_department_with_a_promised_due_date(
    submit: Submit, resident: str, catalog: Any
) -> None:
    response = await submit(resident, catalog.fund_withdrawal)

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["case_no"] == "330300-20261126-000001"
    assert case["department_id"] == "330300-housing_provident_fund"
    assert case["status"] == "submitted"
    assert case["completed_at"] is None
    # Thursday 26 November + 3 working days: Friday 27, Monday 30, Tuesday 1 December.
    assert case["due_at"] == "2026-12-01T15:59:59Z"
    assert case["due_at_provisional"] is False
    assert case["available_actions"] == ["withdraw"]


async def test_the_due_date_skips_the_national_day_week_and_counts_its_working_saturday(
    submit: Submit, resident: str, catalog: Any, clock: Any
) -> None:
    clock.now = dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC)  # Wednesday, the eve of the week

    response = await submit(resident, catalog.fund_withdrawal)

    assert response.status_code == 201, response.text
    due = dt.datetime.fromisoformat(response.json()["due_at"])
    local_due = due.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert local_due.date() == dt.date(2026, 10, 10)  # Thursday 8, Friday 9, Saturday 10
    assert local_due.time() == dt.time(23, 59, 59)
    working_days = chinese_calendar.get_workdays(dt.date(2026, 10, 1), local_due.date())
    assert len(working_days) == 3
    assert all(chinese_calendar.is_holiday(dt.date(2026, 10, day)) for day in range(1, 8))


async def test_case_numbers_count_per_region_and_day(
    submit: Submit, resident: str, catalog: Any, clock: Any
) -> None:
    first = await submit(resident, catalog.loss_report)
    second = await submit(resident, catalog.loss_report)
    elsewhere = await submit(resident, catalog.fund_withdrawal)
    clock.now += dt.timedelta(days=1)
    next_day = await submit(resident, catalog.loss_report)

    assert [r.json()["case_no"] for r in (first, second, elsewhere, next_day)] == [
        "330302-20261126-000001",
        "330302-20261126-000002",
        "330300-20261126-000001",
        "330302-20261127-000001",
    ]


async def test_the_number_takes_the_date_in_shanghai_not_in_utc(
    submit: Submit, resident: str, catalog: Any, clock: Any
) -> None:
    clock.now = dt.datetime(2026, 11, 26, 17, 30, tzinfo=dt.UTC)  # 01:30 on the 27th in Wenzhou

    response = await submit(resident, catalog.loss_report)

    assert response.json()["case_no"] == "330302-20261127-000001"


async def test_concurrent_submissions_get_distinct_consecutive_numbers(
    submit: Submit, resident: str, catalog: Any, app: FastAPI
) -> None:
    catalog.handler_barrier = asyncio.Barrier(5)  # all five pass the catalog before any writes

    responses = await asyncio.gather(*(submit(resident, catalog.loss_report) for _ in range(5)))

    assert [r.status_code for r in responses] == [201] * 5
    numbers = sorted(r.json()["case_no"] for r in responses)
    assert numbers == [f"330302-20261126-{n:06d}" for n in range(1, 6)]
    assert await count(app, Case) == 5


# --- idempotency ------------------------------------------------------------------------------


async def test_a_retry_with_the_same_key_returns_the_same_case_and_files_nothing(
    submit: Submit, resident: str, catalog: Any, app: FastAPI
) -> None:
    key = str(uuid.uuid4())
    first = await submit(resident, catalog.loss_report, key=key)
    asked_before_retry = len(catalog.requested)

    retry = await submit(resident, catalog.loss_report, key=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["location"] == first.headers["location"]
    assert len(catalog.requested) == asked_before_retry
    assert await count(app, Case) == 1
    assert await count(app, CaseEvent) == 3


async def test_a_retry_after_the_face_window_lapsed_still_gets_its_case(
    submit: Submit, resident: str, catalog: Any, token_minter: Any
) -> None:
    key = str(uuid.uuid4())
    first = await submit(resident, catalog.loss_report, key=key)
    lapsed = token_minter.mint("citizen-lin", loa=2, region=SONGTAI_COMMUNITY)

    retry = await submit(lapsed, catalog.loss_report, key=key)

    assert retry.status_code == 201
    assert retry.json()["case_no"] == first.json()["case_no"]


async def test_the_same_key_with_another_body_is_refused(
    submit: Submit, resident: str, catalog: Any, app: FastAPI, problem: Problem
) -> None:
    key = str(uuid.uuid4())
    await submit(resident, catalog.loss_report, key=key)
    other_form = {**catalog.valid_form(catalog.loss_report), "loss_reason": "stolen"}

    response = await submit(resident, catalog.loss_report, other_form, key=key)

    problem(response, 422, "idempotency_key_reused")
    assert await count(app, Case) == 1


async def test_keys_are_scoped_to_the_applicant(
    submit: Submit, resident: str, catalog: Any, token_minter: Any, app: FastAPI
) -> None:
    key = str(uuid.uuid4())
    neighbour = token_minter.mint("citizen-chen", loa=3, region=SONGTAI_COMMUNITY)

    mine = await submit(resident, catalog.loss_report, key=key)
    theirs = await submit(
        neighbour, catalog.loss_report, catalog.form_without_applicant(catalog.loss_report), key=key
    )

    assert theirs.status_code == 201
    assert "idempotency-replayed" not in theirs.headers
    assert theirs.json()["case_no"] != mine.json()["case_no"]
    assert await count(app, IdempotencyRecord) == 2


async def test_a_retry_while_the_first_request_runs_is_asked_to_wait_then_gets_the_case(
    submit: Submit, resident: str, catalog: Any, app: FastAPI, problem: Problem
) -> None:
    key = str(uuid.uuid4())
    catalog.handler_gate = asyncio.Event()  # the first request stays in flight until opened
    handler = f"/catalog/v1/items/{catalog.loss_report}/handler"
    first = asyncio.create_task(submit(resident, catalog.loss_report, key=key))
    async with asyncio.timeout(5):
        await catalog.handler_entered.wait()

    twin = await submit(resident, catalog.loss_report, key=key)

    problem(twin, 409, "idempotency_request_in_progress")
    assert twin.headers["retry-after"] == "1"
    catalog.handler_gate.set()
    filed = await first
    retry = await submit(resident, catalog.loss_report, key=key)
    assert filed.status_code == retry.status_code == 201
    assert retry.json()["case_no"] == filed.json()["case_no"]
    assert retry.headers["idempotency-replayed"] == "true"
    assert catalog.requested.count(handler) == 1
    assert await count(app, Case) == 1


async def test_many_concurrent_requests_with_one_key_file_one_case(
    submit: Submit, resident: str, catalog: Any, app: FastAPI
) -> None:
    key = str(uuid.uuid4())

    answers = await asyncio.gather(
        *(submit(resident, catalog.loss_report, key=key) for _ in range(10))
    )

    assert {answer.status_code for answer in answers} <= {201, 409}
    filed = {answer.json()["case_no"] for answer in answers if answer.status_code == 201}
    assert len(filed) == 1
    assert await count(app, Case) == 1


async def test_a_refused_request_leaves_its_key_free_for_the_retry_after_step_up(
    submit: Submit, catalog: Any, token_minter: Any, app: FastAPI, problem: Problem
) -> None:
    key = str(uuid.uuid4())
    before_face = token_minter.mint("citizen-lin", loa=2, region=SONGTAI_COMMUNITY)
    after_face = token_minter.mint("citizen-lin", loa=3, region=SONGTAI_COMMUNITY)

    problem(await submit(before_face, catalog.loss_report, key=key), 403, "insufficient_assurance")
    retry = await submit(after_face, catalog.loss_report, key=key)

    assert retry.status_code == 201
    assert "idempotency-replayed" not in retry.headers
    assert await count(app, Case) == 1


async def test_a_request_refused_as_invalid_leaves_its_key_free(
    client: httpx.AsyncClient, submit: Submit, resident: str, catalog: Any, problem: Problem
) -> None:
    key = str(uuid.uuid4())
    invalid = await client.post(
        "/cases/v1/cases",
        json={"item_code": catalog.loss_report, "form": [], "surplus": 1},
        headers={**bearer(resident), "Idempotency-Key": key},
    )
    problem(invalid, 422, "validation_failed")

    assert (await submit(resident, catalog.loss_report, key=key)).status_code == 201


@pytest.mark.parametrize(
    ("header", "status", "code"),
    [
        (None, 400, "idempotency_key_required"),
        ("", 400, "invalid_idempotency_key"),
        ("short", 400, "invalid_idempotency_key"),
        ("has spaces in it", 400, "invalid_idempotency_key"),
        ("x" * 129, 400, "invalid_idempotency_key"),
        ("clé-idempotence", 400, "invalid_idempotency_key"),
    ],
)
async def test_a_submission_needs_a_well_formed_idempotency_key(
    client: httpx.AsyncClient,
    catalog: Any,
    resident: str,
    app: FastAPI,
    problem: Problem,
    header: str | None,
    status: int,
    code: str,
) -> None:
    headers: dict[str, str | bytes] = {**bearer(resident)}
    if header is not None:
        headers["Idempotency-Key"] = header.encode("latin-1")
    body = {"item_code": catalog.loss_report, "form": catalog.valid_form(catalog.loss_report)}

    response = await client.post("/cases/v1/cases", json=body, headers=headers)

    problem(response, status, code)
    assert catalog.requested == []
    assert await count(app, Case) == 0


async def test_a_quoted_structured_field_key_is_the_same_key(
    client: httpx.AsyncClient, catalog: Any, resident: str, clock: Any
) -> None:
    body = {"item_code": catalog.loss_report, "form": catalog.valid_form(catalog.loss_report)}
    plain = {**bearer(resident), "Idempotency-Key": "8e03978e-40d5-43e8-bc93-6894a57f9324"}
    quoted = {**bearer(resident), "Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"'}

    first = await client.post("/cases/v1/cases", json=body, headers=plain)
    again = await client.post("/cases/v1/cases", json=body, headers=quoted)

    assert again.headers["idempotency-replayed"] == "true"
    assert again.json()["case_no"] == first.json()["case_no"]


async def test_an_application_sent_to_another_regions_instance_is_filed_in_its_own(
    submit: Submit, catalog: Any, resident: str, client: httpx.AsyncClient
) -> None:
    key = "5b0d1f7c-placement-0001"
    first = await submit(resident, catalog.fund_withdrawal, key=key, routed=False)
    again = await submit(resident, catalog.fund_withdrawal, key=key, routed=False)

    assert first.status_code == 201, first.text
    assert first.headers["location"] == f"/cases/v1/cases/{first.json()['case_no']}"
    [forwarded] = catalog.forwarded
    assert forwarded["x-region-code"] == "330300"  # Wenzhou's fund centre, a city department
    assert forwarded["idempotency-key"].startswith("placed:")
    assert key not in forwarded["idempotency-key"]
    assert forwarded["authorization"] == f"Bearer {resident}"
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json()["case_no"] == first.json()["case_no"]
    listed = await client.get("/cases/v1/cases", headers=bearer(resident))
    assert [case["case_no"] for case in listed.json()["items"]] == [first.json()["case_no"]]


async def test_an_application_routed_by_its_departments_region_is_filed_at_once(
    submit: Submit, catalog: Any, resident: str
) -> None:
    response = await submit(resident, catalog.fund_withdrawal)

    assert response.status_code == 201
    assert catalog.forwarded == []


# --- the item's rules -------------------------------------------------------------------------


async def test_too_low_an_assurance_tells_the_app_which_step_up_to_do(
    submit: Submit, catalog: Any, token_minter: Any, app: FastAPI, problem: Problem
) -> None:
    # Her real name bound by a face match whose window has passed.
    face_window_passed = token_minter.mint("citizen-lin", loa=2, region=SONGTAI_COMMUNITY)

    response = await submit(face_window_passed, catalog.loss_report)

    body = problem(response, 403, "insufficient_assurance")
    assert body["required_loa"] == 3
    assert body["current_loa"] == 2
    assert body["step"] == "face"
    assert await count(app, Case) == 0


async def test_an_invalid_form_names_every_field_and_echoes_no_value(
    submit: Submit, resident: str, catalog: Any, app: FastAPI, problem: Problem
) -> None:
    form = {
        **catalog.valid_form(catalog.loss_report),
        "loss_place": "松台街道某处" * 40,
        "loss_reason": "misplaced-somewhere",
        "loss_date": "2026-13-45",
        "contact_phone": "0577-8888-secret",
        "favourite_colour": "teal",
    }

    response = await submit(resident, catalog.loss_report, form)

    body = problem(response, 422, "form_invalid")
    errors = {error["field"]: error for error in body["errors"]}
    assert {(field, error["type"]) for field, error in errors.items()} == {
        ("form.loss_place", "maxLength"),
        ("form.loss_reason", "oneOf"),
        ("form.loss_date", "format"),
        ("form.contact_phone", "pattern"),
        ("form.favourite_colour", "additionalProperties"),
    }
    assert errors["form.loss_reason"]["message"] == "must be one of: lost, stolen, other"
    assert errors["form.loss_date"]["message"] == "is not a valid date"
    for value in ("松台街道某处", "misplaced-somewhere", "2026-13-45", "secret", "teal"):
        assert value not in response.text
    assert await count(app, Case) == 0


async def test_each_missing_required_field_is_named_once(
    submit: Submit, resident: str, catalog: Any, problem: Problem
) -> None:
    form = catalog.valid_form(catalog.loss_report)
    del form["contact_phone"], form["loss_reason"]

    response = await submit(resident, catalog.loss_report, form)

    body = problem(response, 422, "form_invalid")
    assert body["errors"] == [
        {"field": "form.contact_phone", "message": "is required", "type": "required"},
        {"field": "form.loss_reason", "message": "is required", "type": "required"},
    ]


@pytest.mark.parametrize(
    ("typ", "item", "status", "code"),
    [
        ("citizen", "licence_change", 403, "wrong_subject"),
        ("enterprise", "fund_withdrawal", 403, "wrong_subject"),
        ("staff", "fund_withdrawal", 403, "wrong_principal_type"),
        ("citizen", "retired_item", 422, "item_not_available"),
    ],
)
async def test_only_the_right_kind_of_applicant_may_apply_for_an_open_item(
    submit: Submit,
    catalog: Any,
    token_minter: Any,
    app: FastAPI,
    problem: Problem,
    typ: str,
    item: str,
    status: int,
    code: str,
) -> None:
    token = token_minter.mint("someone", typ=typ, loa=3, region=SONGTAI_COMMUNITY, dept="x")

    response = await submit(token, getattr(catalog, item))

    problem(response, status, code)
    assert await count(app, Case) == 0


async def test_an_enterprise_files_an_enterprise_item_in_the_region_it_names(
    submit: Submit, catalog: Any, identity: Any, token_minter: Any
) -> None:
    enterprise = token_minter.mint(
        identity.haoyu.credit_code, typ="enterprise", act="citizen-son", loa=2
    )

    response = await submit(enterprise, catalog.licence_change, region="330302")

    assert response.status_code == 201, response.text
    assert response.json()["department_id"] == "330302-market_regulation"
    assert response.json()["applicant_type"] == "enterprise"


async def test_an_unknown_item_is_not_found(
    submit: Submit, resident: str, problem: Problem
) -> None:
    problem(await submit(resident, "public_security.no_such_item", {}), 404, "item_not_found")


async def test_without_a_region_in_token_or_body_the_region_is_asked_for(
    submit: Submit, catalog: Any, token_minter: Any, problem: Problem
) -> None:
    no_region = token_minter.mint("citizen-new", loa=2)

    response = await submit(no_region, catalog.fund_withdrawal)

    problem(response, 422, "applicant_region_required")


@pytest.mark.parametrize(
    ("region", "status", "code"),
    [
        ("110101", 422, "item_not_offered_in_region"),
        ("33", 404, "no_responsible_department"),
    ],
)
async def test_the_catalogs_verdict_on_the_region_is_passed_on(
    submit: Submit,
    resident: str,
    catalog: Any,
    app: FastAPI,
    problem: Problem,
    region: str,
    status: int,
    code: str,
) -> None:
    response = await submit(resident, catalog.loss_report, region=region)

    problem(response, status, code)
    assert await count(app, Case) == 0
    assert await count(app, IdempotencyRecord) == 0


async def test_a_malformed_region_in_the_body_is_a_validation_error(
    submit: Submit, resident: str, catalog: Any, problem: Problem
) -> None:
    body = problem(
        await submit(resident, catalog.loss_report, region="33x"), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "body.applicant_region"


async def test_a_delegate_files_for_the_principal_and_both_are_kept(
    submit: Submit, catalog: Any, token_minter: Any
) -> None:
    acting = token_minter.mint("citizen-lin", act="citizen-son", loa=3, region=SONGTAI_COMMUNITY)

    response = await submit(acting, catalog.loss_report)

    case = response.json()
    assert case["applicant_id"] == "citizen-lin"
    assert case["actor_id"] == "citizen-son"
    assert case["history"][0]["actor"] == "citizen-son"


async def test_a_delegate_may_file_only_the_items_delegated(
    submit: Submit, catalog: Any, token_minter: Any, problem: Problem
) -> None:
    covered = token_minter.mint(
        "citizen-lin",
        act="citizen-son",
        loa=3,
        region=SONGTAI_COMMUNITY,
        scope=(catalog.loss_report,),
    )
    assert (await submit(covered, catalog.loss_report)).status_code == 201

    elsewhere = token_minter.mint(
        "citizen-lin",
        act="citizen-son",
        loa=3,
        region=SONGTAI_COMMUNITY,
        scope=("housing_provident_fund.withdrawal",),
    )
    body = problem(await submit(elsewhere, catalog.loss_report), 403, "outside_delegation")
    assert body["delegated_items"] == ["housing_provident_fund.withdrawal"]


async def test_catalog_unreachable_is_a_503_and_nothing_is_stored(
    app: FastAPI, client: httpx.AsyncClient, resident: str, clock: Any, problem: Problem
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    await app.state.service.http.aclose()
    app.state.service.http = httpx.AsyncClient(
        transport=httpx.MockTransport(refuse), base_url="http://gateway"
    )

    response = await client.post(
        "/cases/v1/cases",
        json={"item_code": "public_security.id_card_loss_report", "form": {}},
        headers={**bearer(resident), "Idempotency-Key": str(uuid.uuid4())},
    )

    problem(response, 503, "upstream_unavailable")
    assert await count(app, Case) == 0
    assert await count(app, IdempotencyRecord) == 0
