"""Electronic certificates as materials: the applicant (or her delegate) attaches one of her own
certificates by its number; case-svc reads it from the exchange's certificate registry about her
verified identity, under its own service token, for the case, and keeps what it is, its issuer,
its validity and the ledger receipt of the read, its number sealed. The exchange and identity-svc
are the contract doubles of conftest."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from case_svc.clients.exchange import FIELDS
from case_svc.deps import CaseState
from servicekit.state import app_state
from servicekit.testing import bearer

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]
Attach = Callable[..., Awaitable[httpx.Response]]

FUND_CENTRE = "330300-housing_provident_fund"


def _path(case_no: str) -> str:
    return f"/cases/v1/cases/{case_no}/certificates"


@pytest.fixture
def attach(client: httpx.AsyncClient) -> Attach:
    async def post(
        token: str, case_no: str, number: str, *, key: str | None = None
    ) -> httpx.Response:
        headers = bearer(token)
        if key is not None:
            headers["Idempotency-Key"] = key
        return await client.post(
            _path(case_no), json={"certificate_number": number}, headers=headers
        )

    return post


@dataclass(frozen=True)
class People:
    applicant: str
    delegate: str
    neighbour: str
    handler: str
    supervisor: str
    system: str


@pytest.fixture
def people(resident: str, token_minter: Any) -> People:
    def staff(sub: str, *roles: str) -> str:
        token: str = token_minter.mint(sub, typ="staff", loa=2, dept=FUND_CENTRE, roles=roles)
        return token

    return People(
        applicant=resident,
        delegate=token_minter.mint("citizen-lin", act="citizen-son", loa=2),
        neighbour=token_minter.mint("citizen-chen", loa=3, region="330302026003"),
        handler=staff("handler-1", "handler"),
        supervisor=staff("supervisor-1", "supervisor"),
        system=token_minter.mint(
            "ds-fund-core",
            typ="department_system",
            loa=0,
            dept=FUND_CENTRE,
            scope=("cases:read", "cases:write"),
        ),
    )


@pytest.fixture
async def case_no(submit: Submit, resident: str, catalog: Any) -> str:
    """Lin's housing-fund withdrawal, just filed: open, with the Wenzhou fund centre."""
    number: str = (await submit(resident, catalog.fund_withdrawal)).json()["case_no"]
    return number


async def _listed(client: httpx.AsyncClient, token: str, case_no: str) -> list[dict[str, Any]]:
    listed = await client.get(f"/cases/v1/cases/{case_no}/materials", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


# --- attaching ------------------------------------------------------------------------------------


async def test_the_applicant_attaches_her_licence_with_the_receipt_of_its_read(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    identity: Any,
) -> None:
    licence = exchange.lin_licence

    attached = await attach(people.applicant, case_no, licence.certificate_number)

    assert attached.status_code == 201, attached.text
    material = attached.json()
    assert material == {
        "id": material["id"],
        "kind": "certificate",
        "name": "机动车驾驶证",
        "certificate": {
            "type": "driving_licence",
            "name": "机动车驾驶证",
            "number": licence.certificate_number,
            "issuing_department": "330300-traffic_police",
            "valid_from": "2022-03-14",
            "valid_until": "2032-03-14",
            "status": "valid",
        },
        "call_id": material["receipt"]["entry"]["call_id"],
        "receipt": material["receipt"],
        "uploaded_by": "citizen-lin",
        "uploader_role": "applicant",
        "acting_for": None,
        "uploaded_at": "2026-11-26T02:00:00Z",
    }
    assert attached.headers["location"] == f"/cases/v1/cases/{case_no}/materials/{material['id']}"
    # Read once, as case-svc itself, about her verified identity, for this case and its review,
    # and never her name.
    [(call, token)] = exchange.calls
    assert call == {
        "resource": "electronic_certificate",
        "subject": {"id_number": identity.lin.id_number},
        "fields": list(FIELDS),
        "purpose": "case_review",
        "case_id": case_no,
    }
    assert "holder_name" not in call["fields"]
    assert token in identity.service_tokens
    entry = material["receipt"]["entry"]
    assert (entry["consumer"], entry["case_id"], entry["outcome"]) == (
        "case-svc",
        case_no,
        "allowed",
    )
    assert await _listed(client, people.applicant, case_no) == [material]
    assert await _listed(client, people.handler, case_no) == [material]


async def test_certificates_are_listed_beside_uploads_in_the_order_they_came(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    clock: Any,
) -> None:
    scan = await client.post(
        f"/cases/v1/cases/{case_no}/materials",
        data={"name": "租房合同"},
        files={"file": ("lease.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")},
        headers=bearer(people.applicant),
    )
    assert scan.status_code == 201, scan.text
    clock.now = clock.now.replace(minute=5)
    card = await attach(people.applicant, case_no, exchange.lin_senior_card.certificate_number)
    assert card.status_code == 201, card.text

    listed = await _listed(client, people.supervisor, case_no)

    assert [(item["kind"], item["name"]) for item in listed] == [
        ("upload", "租房合同"),
        ("certificate", "老年人优待证"),
    ]
    # A long-term certificate has no end.
    assert listed[1]["certificate"]["valid_until"] is None


async def test_a_number_is_taken_as_people_write_it(
    attach: Attach, people: People, case_no: str, exchange: Any
) -> None:
    attached = await attach(people.applicant, case_no, " 330319242996 ")
    assert attached.status_code == 201, attached.text
    assert attached.json()["certificate"]["number"] == exchange.lin_licence.certificate_number


async def test_a_delegate_attaches_the_principals_certificate_never_his_own(
    attach: Attach, people: People, case_no: str, exchange: Any, identity: Any
) -> None:
    attached = await attach(people.delegate, case_no, exchange.lin_licence.certificate_number)

    assert attached.status_code == 201, attached.text
    assert (attached.json()["uploaded_by"], attached.json()["acting_for"]) == (
        "citizen-son",
        "citizen-lin",
    )
    [(call, _token)] = exchange.calls
    assert call["subject"] == {"id_number": identity.lin.id_number}


async def test_an_enterprise_attaches_its_business_licence_by_its_credit_code(
    attach: Attach, submit: Submit, token_minter: Any, catalog: Any, exchange: Any
) -> None:
    # The grandson, acting for his company.
    company = token_minter.mint(
        exchange.haoyu_licence.certificate_number, typ="enterprise", act="citizen-son", loa=2
    )
    filed = await submit(company, catalog.licence_change, region="330302")
    assert filed.status_code == 201, filed.text

    attached = await attach(
        company, filed.json()["case_no"], exchange.haoyu_licence.certificate_number
    )

    assert attached.status_code == 201, attached.text
    assert attached.json()["certificate"]["type"] == "business_licence"
    [(call, _token)] = exchange.calls
    assert call["subject"] == {"credit_code": exchange.haoyu_licence.certificate_number}


# --- refusals -------------------------------------------------------------------------------------


async def test_a_certificate_not_hers_is_not_held_whoever_holds_it(
    attach: Attach,
    submit: Submit,
    people: People,
    case_no: str,
    exchange: Any,
    token_minter: Any,
    catalog: Any,
    problem: Problem,
) -> None:
    # Chen's licence, and a number nobody holds: the same answer.
    problem(
        await attach(people.applicant, case_no, exchange.chen_licence.certificate_number),
        422,
        "certificate_not_held",
    )
    problem(await attach(people.applicant, case_no, "330300000000"), 422, "certificate_not_held")
    # The grandson holds no certificate at all (the exchange: subject_not_found).
    grandson = token_minter.mint("citizen-son", loa=3, region="330302026003")
    his = (await submit(grandson, catalog.fund_withdrawal)).json()["case_no"]
    problem(
        await attach(grandson, his, exchange.lin_licence.certificate_number),
        422,
        "certificate_not_held",
    )


@pytest.mark.parametrize(
    ("certificate", "status", "valid_until"),
    [("lin_expired", "valid", "2024-08-31"), ("lin_revoked", "revoked", "2029-05-19")],
)
async def test_a_certificate_not_valid_today_is_refused(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    problem: Problem,
    certificate: str,
    status: str,
    valid_until: str,
) -> None:
    number = getattr(exchange, certificate).certificate_number

    refused = problem(await attach(people.applicant, case_no, number), 422, "certificate_not_valid")

    assert (refused["certificate_status"], refused["valid_until"]) == (status, valid_until)
    assert await _listed(client, people.applicant, case_no) == []


async def test_a_certificate_not_yet_valid_is_refused(
    attach: Attach, people: People, case_no: str, exchange: Any, clock: Any, problem: Problem
) -> None:
    # The day before the licence's period began, in China's time (UTC+8).
    clock.now = clock.now.replace(year=2022, month=3, day=13, hour=15)
    problem(
        await attach(people.applicant, case_no, exchange.lin_licence.certificate_number),
        422,
        "certificate_not_valid",
    )


@pytest.mark.parametrize("down", ["unreachable", "failing"])
async def test_while_the_exchange_is_down_nothing_is_attached(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    problem: Problem,
    down: str,
) -> None:
    exchange.down = down

    problem(
        await attach(people.applicant, case_no, exchange.lin_licence.certificate_number),
        503,
        "upstream_unavailable",
    )

    assert await _listed(client, people.applicant, case_no) == []
    exchange.down = None
    attached = await attach(people.applicant, case_no, exchange.lin_licence.certificate_number)
    assert attached.status_code == 201


async def test_a_service_token_the_exchange_refuses_is_renewed_and_the_read_made_once_more(
    attach: Attach,
    people: People,
    case_no: str,
    exchange: Any,
    identity: Any,
) -> None:
    first = await attach(people.applicant, case_no, exchange.lin_licence.certificate_number)
    assert first.status_code == 201, first.text
    # Revoked (or expired early) at the exchange, while case-svc still keeps it.
    exchange.refused_tokens.add(identity.service_tokens[0])

    again = await attach(people.applicant, case_no, exchange.lin_senior_card.certificate_number)

    assert again.status_code == 201, again.text
    assert [token for _, token in exchange.calls] == [
        "service-token-1",
        "service-token-1",
        "service-token-2",
    ]
    assert identity.service_tokens == ["service-token-1", "service-token-2"]


async def test_a_new_service_token_refused_too_is_the_platforms_failure_and_not_retried(
    attach: Attach,
    people: People,
    case_no: str,
    exchange: Any,
    identity: Any,
    problem: Problem,
) -> None:
    exchange.refused_tokens.update({"service-token-1", "service-token-2", "service-token-3"})

    refused = problem(
        await attach(people.applicant, case_no, exchange.lin_licence.certificate_number),
        503,
        "upstream_unavailable",
    )

    assert refused["upstream_status"] == 401
    assert [token for _, token in exchange.calls] == ["service-token-1", "service-token-2"]


async def test_without_a_client_secret_case_svc_reads_nothing(
    attach: Attach, app: FastAPI, people: People, case_no: str, exchange: Any, problem: Problem
) -> None:
    app_state(app, CaseState).service_token = None

    problem(
        await attach(people.applicant, case_no, exchange.lin_licence.certificate_number),
        503,
        "upstream_unavailable",
    )
    assert exchange.calls == []


async def test_staff_and_systems_attach_no_certificate_and_strangers_find_no_case(
    attach: Attach,
    people: People,
    case_no: str,
    exchange: Any,
    identity: Any,
    problem: Problem,
) -> None:
    number = exchange.lin_licence.certificate_number
    for caller in (people.handler, people.supervisor, people.system):
        problem(await attach(caller, case_no, number), 403, "certificate_attach_not_allowed")
    problem(await attach(people.neighbour, case_no, number), 404, "case_not_found")
    assert exchange.calls == []
    # Nobody's identity was asked for either: the caller's part in the case is settled first.
    assert identity.asked == []


async def test_after_the_case_ended_she_attaches_nothing(
    attach: Attach,
    submit: Submit,
    people: People,
    catalog: Any,
    exchange: Any,
    problem: Problem,
) -> None:
    # A loss report is an instant item: completed the moment it is filed.
    filed = (await submit(people.applicant, catalog.loss_report)).json()

    refused = await attach(
        people.applicant, filed["case_no"], exchange.lin_licence.certificate_number
    )

    assert problem(refused, 409, "materials_closed")["case_status"] == "completed"
    assert exchange.calls == []


async def test_a_certificate_is_attached_once_and_counts_among_the_materials(
    attach: Attach, app: FastAPI, people: People, case_no: str, exchange: Any, problem: Problem
) -> None:
    first = (
        await attach(people.applicant, case_no, exchange.lin_licence.certificate_number)
    ).json()

    again = await attach(people.applicant, case_no, exchange.lin_licence.certificate_number.lower())

    assert problem(again, 409, "certificate_already_attached")["material_id"] == first["id"]
    assert len(exchange.calls) == 1
    state = app_state(app, CaseState)
    state.settings = state.settings.model_copy(update={"materials_per_case": 1})
    problem(
        await attach(people.applicant, case_no, exchange.lin_senior_card.certificate_number),
        409,
        "too_many_materials",
    )


# --- no read for a refusal -------------------------------------------------------------------
# Each read of the registry is an entry in the exchange's ledger and in the applicant's access
# log: what the case alone refuses is refused before the exchange is called.


@pytest.mark.parametrize(
    "refusal", ["materials_closed", "certificate_already_attached", "too_many_materials"]
)
async def test_what_the_case_refuses_is_refused_before_the_registry_is_read(
    attach: Attach,
    submit: Submit,
    client: httpx.AsyncClient,
    app: FastAPI,
    people: People,
    case_no: str,
    catalog: Any,
    exchange: Any,
    problem: Problem,
    refusal: str,
) -> None:
    number = exchange.lin_licence.certificate_number
    if refusal == "materials_closed":
        # A loss report is an instant item: completed the moment it is filed.
        case_no = (await submit(people.applicant, catalog.loss_report)).json()["case_no"]
    elif refusal == "certificate_already_attached":
        assert (await attach(people.applicant, case_no, number)).status_code == 201
        exchange.calls.clear()
    else:
        state = app_state(app, CaseState)
        state.settings = state.settings.model_copy(update={"materials_per_case": 1})
        scan = await client.post(
            f"/cases/v1/cases/{case_no}/materials",
            data={"name": "租房合同"},
            files={"file": ("lease.pdf", b"%PDF-1.7\n%%EOF\n", "application/pdf")},
            headers=bearer(people.applicant),
        )
        assert scan.status_code == 201, scan.text

    problem(await attach(people.applicant, case_no, number), 409, refusal)

    assert exchange.calls == []


async def test_two_attachments_of_one_certificate_at_once_read_twice_and_keep_one(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    problem: Problem,
) -> None:
    # Both pass the checks made before the read, and meet at the exchange: the race the checks
    # made again after the read settle, with the read already in the ledger.
    exchange.barrier = asyncio.Barrier(2)
    number = exchange.lin_licence.certificate_number

    answers = await asyncio.gather(*(attach(people.applicant, case_no, number) for _ in range(2)))

    assert sorted(answer.status_code for answer in answers) == [201, 409]
    refused = next(answer for answer in answers if answer.status_code == 409)
    kept = next(answer for answer in answers if answer.status_code == 201)
    assert problem(refused, 409, "certificate_already_attached")["material_id"] == kept.json()["id"]
    assert len(exchange.calls) == 2
    assert len(await _listed(client, people.applicant, case_no)) == 1


async def test_a_certificate_has_no_file_to_download(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    problem: Problem,
) -> None:
    location = (
        await attach(people.applicant, case_no, exchange.lin_licence.certificate_number)
    ).headers["location"]

    problem(
        await client.get(location, headers=bearer(people.applicant)), 409, "material_has_no_file"
    )


# --- retries and storage --------------------------------------------------------------------------


async def test_a_retry_with_its_idempotency_key_answers_the_same_material_and_reads_nothing(
    attach: Attach,
    client: httpx.AsyncClient,
    people: People,
    case_no: str,
    exchange: Any,
    problem: Problem,
) -> None:
    key = str(uuid.uuid4())
    number = exchange.lin_licence.certificate_number

    first = await attach(people.applicant, case_no, number, key=key)
    retry = await attach(people.applicant, case_no, number, key=key)
    other = await attach(
        people.applicant, case_no, exchange.lin_senior_card.certificate_number, key=key
    )

    assert first.status_code == 201, first.text
    assert retry.status_code == 201
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    problem(other, 422, "idempotency_key_reused")
    assert len(exchange.calls) == 1
    assert len(await _listed(client, people.applicant, case_no)) == 1


async def test_the_number_and_the_receipt_are_sealed_at_rest(
    attach: Attach, app: FastAPI, people: People, case_no: str, exchange: Any
) -> None:
    number = exchange.lin_licence.certificate_number
    attached = (await attach(people.applicant, case_no, number)).json()

    async with app_state(app, CaseState).database.sessionmaker() as session:
        row = (
            await session.execute(
                text("SELECT certificate_number, receipt, certificate_type FROM case_certificate")
            )
        ).one()

    assert number not in str(row.certificate_number)
    assert attached["call_id"] not in str(row.receipt)
    assert case_no not in str(row.receipt)
    # What a certificate is, is no one's personal data: kept as read.
    assert row.certificate_type == "driving_licence"
