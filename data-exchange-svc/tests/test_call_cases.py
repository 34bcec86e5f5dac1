"""The case a department names on a call or a match: a real case of the subject's that the
department handles, checked before the attempt is recorded, since the subject's access log
shows it. A case found otherwise is refused with a stable code and recorded without it."""

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from data_exchange_svc.models import SharingGrant
from data_exchange_svc.registry.dataset import PersonRow
from servicekit.testing import TokenMinter, bearer

if TYPE_CHECKING:
    from conftest import CaseService

ConsentGiver = Callable[..., Awaitable[str]]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

DEMO_ACCOUNT = "account-demo"
OTHER_ACCOUNT = "account-other"
DEMO_CREDIT_CODE = "91330302MA1P3D8712"
CASE = "330302-20261126-000101"
PURPOSE = "case_review"


def match_body(id_number: str, *, case_id: str | None = CASE) -> dict[str, Any]:
    return {
        "resource": "population",
        "subject": {"id_number": id_number},
        "claims": {"name": "林秀英"},
        "purpose": PURPOSE,
        **({"case_id": case_id} if case_id is not None else {}),
    }


async def granted_department(app: FastAPI, resource: str, fields: list[str]) -> str:
    """A fresh department holding a grant of ``fields`` of ``resource`` for ``PURPOSE``."""
    department = f"330302-test_{secrets.token_hex(4)}"
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            SharingGrant(
                consumer=department, resource_code=resource, fields=fields, purposes=[PURPOSE]
            )
        )
    return department


@pytest.fixture
async def department(app: FastAPI) -> str:
    return await granted_department(app, "population", ["name"])


@pytest.fixture
async def linked(
    client: httpx.AsyncClient, identity_svc: Headers, population: list[PersonRow]
) -> None:
    """identity-svc has linked the demo citizen's account and another citizen's."""
    for account, person in ((DEMO_ACCOUNT, population[0]), (OTHER_ACCOUNT, population[1])):
        response = await client.put(
            f"/exchange/v1/citizen-links/{account}",
            json={"id_number": person.id_number},
            headers=identity_svc,
        )
        assert response.status_code == 200, response.text


def system_of(token_minter: TokenMinter, department: str) -> Headers:
    return bearer(
        token_minter.mint(
            f"system-{secrets.token_hex(4)}", typ="department_system", loa=0, dept=department
        )
    )


async def newest_log_entry(client: httpx.AsyncClient, citizen: Headers) -> dict[str, Any]:
    log = await client.get("/exchange/v1/me/access-log", headers=citizen)
    assert log.status_code == 200, log.text
    newest: dict[str, Any] = log.json()["items"][0]
    return newest


@pytest.mark.parametrize(
    ("applicant", "handled_by_caller", "status", "code"),
    [
        (DEMO_ACCOUNT, True, 200, None),
        (OTHER_ACCOUNT, True, 422, "case_not_of_subject"),
        (DEMO_ACCOUNT, False, 422, "unknown_case"),
        ("account-unlinked", True, 422, "case_not_of_subject"),
        (None, True, 422, "unknown_case"),
    ],
    ids=[
        "hers-and-the-callers",
        "another-citizens",
        "another-departments",
        "an-unverified-applicants",
        "no-such-case",
    ],
)
async def test_a_match_keeps_its_case_only_if_the_case_is_the_subjects_and_the_callers(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: "CaseService",
    department: str,
    linked: None,
    demo_citizen: PersonRow,
    demo_citizen_token: Headers,
    problem: Problem,
    applicant: str | None,
    handled_by_caller: bool,
    status: int,
    code: str | None,
) -> None:
    if applicant is not None:
        handler = department if handled_by_caller else "330302-civil_affairs"
        case_svc.open(CASE, applicant=applicant, department=handler)
    answer = await client.post(
        "/exchange/v1/matches",
        json=match_body(demo_citizen.id_number),
        headers=system_of(token_minter, department),
    )
    newest = await newest_log_entry(client, demo_citizen_token)
    assert newest["call_id"] == answer.json()["call_id"]
    if code is None:
        assert answer.status_code == 200, answer.text
        assert answer.json()["match"] is True
        assert (newest["outcome"], newest["case_id"]) == ("allowed", CASE)
    else:
        problem(answer, status, code)
        # Refused, and the number the caller chose is not written into her log.
        assert (newest["outcome"], newest["code"], newest["case_id"]) == ("refused", code, None)
    # case-svc was asked as the caller: it shows a department only the cases it handles.
    ((asked_case, authorization),) = case_svc.asked
    assert asked_case == CASE
    assert authorization.startswith("Bearer ")


async def test_staff_who_handle_no_cases_cannot_name_one(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: "CaseService",
    department: str,
    linked: None,
    demo_citizen: PersonRow,
    problem: Problem,
) -> None:
    case_svc.open(CASE, applicant=DEMO_ACCOUNT, department=department)
    steward = bearer(
        token_minter.mint("steward-1", typ="staff", dept=department, roles=("data_steward",))
    )
    handler = bearer(
        token_minter.mint("handler-1", typ="staff", dept=department, roles=("handler",))
    )
    body = match_body(demo_citizen.id_number)
    problem(
        await client.post("/exchange/v1/matches", json=body, headers=steward), 422, "unknown_case"
    )
    handled = await client.post("/exchange/v1/matches", json=body, headers=handler)
    assert handled.status_code == 200, handled.text
    # Without a case, the steward's match is the grant's business alone.
    plain = await client.post(
        "/exchange/v1/matches",
        json=match_body(demo_citizen.id_number, case_id=None),
        headers=steward,
    )
    assert plain.status_code == 200, plain.text


async def test_her_consent_for_the_case_vouches_for_it_without_asking_case_svc_again(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: "CaseService",
    department: str,
    demo_consent: ConsentGiver,
    demo_citizen: PersonRow,
) -> None:
    await demo_consent(consumer=department, fields=["name"], purpose=PURPOSE, case_id=CASE)
    case_svc.asked.clear()  # her consent asked it, as her
    # The case is then transferred away: her consent still says whose case it was for.
    case_svc.cases.clear()
    for _ in range(2):
        answer = await client.post(
            "/exchange/v1/matches",
            json=match_body(demo_citizen.id_number),
            headers=system_of(token_minter, department),
        )
        assert answer.status_code == 200, answer.text
    assert case_svc.asked == []


async def test_a_case_found_once_is_not_asked_about_again_for_a_while(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: "CaseService",
    department: str,
    linked: None,
    demo_citizen: PersonRow,
) -> None:
    case_svc.open(CASE, applicant=DEMO_ACCOUNT, department=department)
    system = system_of(token_minter, department)
    for _ in range(3):
        answer = await client.post(
            "/exchange/v1/matches", json=match_body(demo_citizen.id_number), headers=system
        )
        assert answer.status_code == 200, answer.text
    assert [case for case, _ in case_svc.asked] == [CASE]


async def test_a_call_about_an_enterprise_names_only_a_case_the_enterprise_applied_for(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: "CaseService",
    problem: Problem,
) -> None:
    # No consent is asked for an enterprise's records: the case is checked all the same.
    department = await granted_department(app, "business_registration", ["enterprise_name"])
    system = system_of(token_minter, department)
    body = {
        "resource": "business_registration",
        "subject": {"credit_code": DEMO_CREDIT_CODE},
        "fields": ["enterprise_name"],
        "purpose": PURPOSE,
        "case_id": CASE,
    }
    case_svc.open(
        CASE, applicant="91330302MA2H0QXU5W", applicant_type="enterprise", department=department
    )
    problem(
        await client.post("/exchange/v1/calls", json=body, headers=system),
        422,
        "case_not_of_subject",
    )
    case_svc.open(
        CASE, applicant=DEMO_CREDIT_CODE, applicant_type="enterprise", department=department
    )
    allowed = await client.post("/exchange/v1/calls", json=body, headers=system)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["receipt"]["entry"]["case_id"] == CASE


async def test_a_case_that_cannot_be_checked_is_refused_and_not_recorded(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    case_svc: "CaseService",
    department: str,
    linked: None,
    demo_citizen: PersonRow,
    demo_citizen_token: Headers,
    problem: Problem,
) -> None:
    case_svc.open(CASE, applicant=DEMO_ACCOUNT, department=department)
    case_svc.failing_with = 503
    answer = await client.post(
        "/exchange/v1/matches",
        json=match_body(demo_citizen.id_number),
        headers=system_of(token_minter, department),
    )
    problem(answer, 503, "upstream_unavailable")
    newest = await newest_log_entry(client, demo_citizen_token)
    assert (newest["code"], newest["case_id"]) == ("upstream_unavailable", None)
