"""A completed case publishes the certificate it issues: for an item that issues one, the
handler's deliver step carries the certificate's number and validity; the step writes it
pending (number and holder sealed), and case-svc's publisher sends it to the exchange's
certificate library as case-svc, for the department that decided the case, with backoff while
the exchange is away, once however many publishers run. The case shows the certificate and
where its publication stands. The exchange and identity-svc are the contract doubles of
conftest."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from case_svc.publications import service as publisher
from case_svc.publications.service import PublishPolicy
from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]
Step = Callable[..., Awaitable[httpx.Response]]

TRAFFIC_POLICE = "330300-traffic_police"
NUMBER = "330300261234567"
LICENCE = {"number": NUMBER, "valid_from": "2026-11-26", "valid_until": "2032-11-26"}


@pytest.fixture
def handler(token_minter: Any) -> str:
    token: str = token_minter.mint(
        "handler-7", typ="staff", loa=2, dept=TRAFFIC_POLICE, roles=["handler"]
    )
    return token


@pytest.fixture
async def case_no(submit: Submit, resident: str, catalog: Any) -> str:
    """Lin's driving-licence replacement, filed with Wenzhou's traffic police."""
    filed = await submit(resident, catalog.licence_replacement)
    assert filed.status_code == 201, filed.text
    number: str = filed.json()["case_no"]
    return number


@pytest.fixture
def step(client: httpx.AsyncClient) -> Step:
    """One step on a case at the version its last answer gave."""
    etags: dict[str, str] = {}

    async def post(token: str, case_no: str, action: str, **body: Any) -> httpx.Response:
        headers = {**bearer(token), "If-Match": etags.get(case_no, '"1"')}
        path = f"/cases/v1/cases/{case_no}"
        if action == "claim":
            response = await client.post(f"{path}/claim", headers=headers)
        else:
            response = await client.post(
                f"{path}/transitions", json={"action": action, **body}, headers=headers
            )
        if response.status_code == 200:
            etags[case_no] = response.headers["etag"]
        return response

    return post


async def approved(step: Step, handler: str, case_no: str) -> None:
    for action in ("claim", "accept", "start_review", "approve"):
        answer = await step(handler, case_no, action)
        assert answer.status_code == 200, answer.text


async def read(client: httpx.AsyncClient, token: str, case_no: str) -> dict[str, Any]:
    answer = await client.get(f"/cases/v1/cases/{case_no}", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    case: dict[str, Any] = answer.json()
    return case


def publish(app: FastAPI) -> Awaitable[int]:
    """One round of the publisher, as the running app's loop makes it."""
    state = app.state.service
    return publisher.publish_due(
        state.database.sessionmaker, state.http, state.service_token, state.clock
    )


async def test_the_delivered_licence_is_published_for_the_department_and_then_attachable(
    app: FastAPI,
    client: httpx.AsyncClient,
    step: Step,
    handler: str,
    resident: str,
    case_no: str,
    submit: Submit,
    catalog: Any,
    exchange: Any,
    identity: Any,
) -> None:
    await approved(step, handler, case_no)

    delivered = await step(
        handler, case_no, "deliver", note="电子驾驶证已签发", certificate=LICENCE
    )

    assert delivered.status_code == 200, delivered.text
    case = delivered.json()
    assert case["status"] == "completed"
    assert case["issues_certificate"] == "driving_licence"
    certificate = case["certificate"]
    assert {key: certificate[key] for key in ("type", "number", "issuing_department")} == {
        "type": "driving_licence",
        "number": NUMBER,
        "issuing_department": TRAFFIC_POLICE,
    }
    assert certificate["publication"]["status"] == "pending"
    assert case["history"][-1]["detail"] == {"certificate_type": "driving_licence"}
    assert exchange.publications == []  # not in the step: the publisher sends it

    assert await publish(app) == 1

    [(body, token)] = exchange.publications
    assert body == {
        "subject": {"id_number": identity.lin.id_number},
        "certificate_type": "driving_licence",
        "certificate_number": NUMBER,
        "valid_from": "2026-11-26",
        "valid_until": "2032-11-26",
        "issuing_department": TRAFFIC_POLICE,
        "case_id": case_no,
    }
    assert token in identity.service_tokens
    shown = (await read(client, resident, case_no))["certificate"]["publication"]
    assert shown["status"] == "published"
    assert shown["attempts"] == 1
    assert shown["receipt"]["entry"]["consumer"] == TRAFFIC_POLICE
    assert shown["receipt"]["entry"]["case_id"] == case_no
    assert shown["call_id"] == shown["receipt"]["entry"]["call_id"]
    assert await publish(app) == 0  # nothing left to publish

    # Her next application takes the licence from the library instead of an upload.
    other = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    attached = await client.post(
        f"/cases/v1/cases/{other}/certificates",
        json={"certificate_number": NUMBER},
        headers=bearer(resident),
    )
    assert attached.status_code == 201, attached.text
    assert attached.json()["certificate"]["issuing_department"] == TRAFFIC_POLICE


async def test_the_number_and_the_holder_are_sealed_at_rest(
    app: FastAPI, step: Step, handler: str, case_no: str, identity: Any
) -> None:
    await approved(step, handler, case_no)
    assert (await step(handler, case_no, "deliver", certificate=LICENCE)).status_code == 200

    async with app.state.service.database.sessionmaker() as session:
        stored = (
            await session.execute(
                text(
                    "SELECT p.certificate_number, p.holder, c.certificate_holder "
                    'FROM certificate_publication p JOIN "case" c ON c.id = p.case_id '
                    "WHERE c.case_no = :case_no"
                ),
                {"case_no": case_no},
            )
        ).one()
    raw = " ".join(str(column) for column in stored)
    assert NUMBER not in raw
    assert identity.lin.id_number not in raw


async def test_a_case_that_issues_a_certificate_is_delivered_with_it_and_no_other_case_is(
    client: httpx.AsyncClient,
    step: Step,
    handler: str,
    case_no: str,
    submit: Submit,
    resident: str,
    catalog: Any,
    token_minter: Any,
    problem: Problem,
) -> None:
    await approved(step, handler, case_no)
    required = problem(await step(handler, case_no, "deliver"), 422, "step_part_required")
    assert required["part"] == "certificate"
    backwards = {**LICENCE, "valid_until": "2020-01-01"}
    problem(
        await step(handler, case_no, "deliver", certificate=backwards), 422, "validation_failed"
    )

    # An item that issues none takes none: the fund centre pays out, it licenses nothing.
    fund = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    fund_handler = token_minter.mint(
        "handler-1", typ="staff", loa=2, dept="330300-housing_provident_fund", roles=["handler"]
    )
    for action in ("claim", "accept", "start_review", "propose_approval"):
        assert (await step(fund_handler, fund, action)).status_code == 200
    supervisor = token_minter.mint(
        "supervisor-1",
        typ="staff",
        loa=2,
        dept="330300-housing_provident_fund",
        roles=["supervisor"],
    )
    assert (await step(supervisor, fund, "confirm")).status_code == 200
    refused = problem(
        await step(fund_handler, fund, "deliver", certificate=LICENCE), 422, "not_for_this_action"
    )
    assert refused["parts"] == ["certificate"]
    delivered = await step(fund_handler, fund, "deliver")
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["certificate"] is None


async def test_while_the_exchange_is_down_the_publisher_backs_off_and_publishes_later(
    app: FastAPI,
    client: httpx.AsyncClient,
    step: Step,
    handler: str,
    resident: str,
    case_no: str,
    exchange: Any,
    clock: Any,
) -> None:
    await approved(step, handler, case_no)
    assert (await step(handler, case_no, "deliver", certificate=LICENCE)).status_code == 200
    exchange.down = "failing"

    assert await publish(app) == 0
    assert await publish(app) == 0  # backing off: not tried again at once
    shown = (await read(client, resident, case_no))["certificate"]["publication"]
    assert (shown["status"], shown["attempts"]) == ("pending", 1)

    exchange.down = None
    clock.now += PublishPolicy().first_backoff
    assert await publish(app) == 1
    assert len(exchange.publications) == 1
    shown = (await read(client, resident, case_no))["certificate"]["publication"]
    assert (shown["status"], shown["attempts"]) == ("published", 2)


def test_the_backoff_doubles_up_to_its_limit() -> None:
    policy = PublishPolicy(
        first_backoff=dt.timedelta(seconds=10), max_backoff=dt.timedelta(minutes=1)
    )
    assert [policy.backoff(n).total_seconds() for n in (1, 2, 3, 4, 99)] == [
        10,
        20,
        40,
        60,
        60,
    ]


async def test_a_refusal_for_good_is_kept_and_not_tried_again(
    app: FastAPI,
    client: httpx.AsyncClient,
    step: Step,
    handler: str,
    resident: str,
    case_no: str,
    exchange: Any,
    clock: Any,
) -> None:
    # The number is already another holder's in the library.
    exchange.published[("driving_licence", NUMBER)] = ("330302199001010011", {})
    await approved(step, handler, case_no)
    assert (await step(handler, case_no, "deliver", certificate=LICENCE)).status_code == 200

    assert await publish(app) == 0
    clock.now += dt.timedelta(days=1)
    assert await publish(app) == 0

    assert len(exchange.publications) == 1
    shown = (await read(client, resident, case_no))["certificate"]["publication"]
    assert (shown["status"], shown["refusal_code"]) == ("refused", "certificate_number_taken")


async def test_publishers_running_at_once_publish_each_certificate_once(
    app: FastAPI, step: Step, handler: str, case_no: str, exchange: Any
) -> None:
    await approved(step, handler, case_no)
    assert (await step(handler, case_no, "deliver", certificate=LICENCE)).status_code == 200

    rounds = await asyncio.gather(*(publish(app) for _ in range(3)))

    assert sum(rounds) == 1
    assert len(exchange.publications) == 1


async def test_what_a_publisher_took_and_never_answered_is_published_once_its_lease_lapses(
    app: FastAPI,
    client: httpx.AsyncClient,
    step: Step,
    handler: str,
    resident: str,
    case_no: str,
    exchange: Any,
    clock: Any,
) -> None:
    await approved(step, handler, case_no)
    assert (await step(handler, case_no, "deliver", certificate=LICENCE)).status_code == 200
    # A publisher takes it and dies before it calls the exchange.
    state = app.state.service
    async with state.database.sessionmaker() as session:
        [publication_id] = await publisher.repository.due(session, now=clock.now, limit=5)
    async with state.database.sessionmaker.begin() as session:
        assert await publisher._take(
            session, publication_id, now=clock.now, lease=PublishPolicy().lease
        )

    assert await publish(app) == 0  # held by the one that took it
    clock.now += PublishPolicy().lease
    assert await publish(app) == 1
    assert len(exchange.publications) == 1
    shown = (await read(client, resident, case_no))["certificate"]["publication"]
    assert (shown["status"], shown["attempts"]) == ("published", 2)
