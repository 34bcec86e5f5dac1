import csv
import datetime as dt
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from data_exchange_svc.main import create_app
from data_exchange_svc.models import Base, SharingGrant
from data_exchange_svc.registry.dataset import PersonRow, read_population
from data_exchange_svc.seed import seed
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import utcnow
from servicekit.testing import ServedApp, ServiceUnderTest, TokenMinter, bearer

SERVICE_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = SERVICE_DIR / "data"

Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]


class CaseService:
    """case-svc as the exchange asks it (``GET /cases/v1/cases/{case_no}``, through the gateway,
    with the caller's token), on a real port: the cases a test opens, each shown only to its
    applicant (the token's ``sub``) and, as case-svc shows them, to the handling department's
    systems and its staff who handle cases (the token's ``dept``, ``typ`` and ``roles``; its
    signature is the exchange's to check, not this double's). What was asked is kept."""

    def __init__(self) -> None:
        self.cases: dict[str, dict[str, str]] = {}
        self.asked: list[tuple[str, str]] = []
        #: While set, every answer is this status (a case-svc in trouble).
        self.failing_with: int | None = None
        app = FastAPI()

        @app.get("/cases/v1/cases/{case_no}")
        async def case(case_no: str, request: Request) -> Response:
            authorization = request.headers.get("authorization", "")
            self.asked.append((case_no, authorization))
            if self.failing_with is not None:
                return JSONResponse({"code": "failing"}, status_code=self.failing_with)
            claims = jwt.decode(
                authorization.removeprefix("Bearer "), options={"verify_signature": False}
            )
            found = self.cases.get(case_no)
            if found is None or not _shown_to(found, claims):
                return JSONResponse({"code": "case_not_found"}, status_code=404)
            return JSONResponse({"case_no": case_no, **found})

        @app.get("/cases/v1/drafts/{draft_no}")
        async def draft(draft_no: str, request: Request) -> Response:
            authorization = request.headers.get("authorization", "")
            self.asked.append((draft_no, authorization))
            claims = jwt.decode(
                authorization.removeprefix("Bearer "), options={"verify_signature": False}
            )
            found = self.cases.get(draft_no)
            if found is None or not _shown_to(found, claims):
                return JSONResponse({"code": "draft_application_not_found"}, status_code=404)
            return JSONResponse({"draft_no": draft_no, **found})

        self.served = ServedApp(app)

    def open(
        self,
        case_no: str,
        *,
        applicant: str,
        department: str,
        status: str = "submitted",
        applicant_type: str = "citizen",
    ) -> None:
        self.cases[case_no] = {
            "applicant_id": applicant,
            "applicant_type": applicant_type,
            "department_id": department,
            "status": status,
        }


def _shown_to(case: dict[str, str], claims: dict[str, Any]) -> bool:
    typ = claims.get("typ", "citizen")
    if typ == case["applicant_type"] and claims["sub"] == case["applicant_id"]:
        return True
    if claims.get("dept") != case["department_id"]:
        return False
    return typ == "department_system" or (
        typ == "staff" and bool({"handler", "supervisor"} & set(claims.get("roles", ())))
    )


@pytest_asyncio.fixture(scope="session")
async def case_svc() -> AsyncIterator[CaseService]:
    service = CaseService()
    await service.served.start()
    try:
        yield service
    finally:
        await service.served.stop()


@pytest.fixture(autouse=True)
def _no_cases_left(case_svc: CaseService) -> Iterator[None]:
    yield
    case_svc.cases.clear()
    case_svc.asked.clear()
    case_svc.failing_with = None


@pytest.fixture(scope="session")
def service_under_test(case_svc: CaseService) -> ServiceUnderTest:
    return ServiceUnderTest(
        name="exchange",
        service_dir=SERVICE_DIR,
        metadata=Base.metadata,
        settings_class=ExchangeSettings,
        create_app=create_app,
        # Seeded once per database; the ledger is emptied after every test.
        reference_tables=frozenset(
            {
                "data_resource",
                "resource_field",
                "sharing_grant",
                "population_record",
                "hosted_record",
            }
        ),
        seed=seed,
        # The exchange asks other services through the gateway: here, case-svc's double.
        # Departments' life-event endpoints are plain http on this machine, and a push that
        # failed is retried within a fraction of a second. The platform is told of births (an
        # offer) and of accesses, held in the outbox: no client secret, no relay to it. Tests
        # tell accesses themselves, a round at a time (citizens.access_notices).
        settings_overrides={
            "gateway_url": case_svc.served.url,
            # The issuer would follow the gateway's URL: the test minter's is the platform's.
            "token_issuer": TokenMinter().issuer,
            "subscription_http_allowed": True,
            # The tests sweep for dates come due themselves, on the day they choose.
            "life_event_sweep_seconds": 0,
            "outbox_poll_seconds": 0.05,
            "outbox_backoff_base_seconds": 0.05,
            "outbox_backoff_cap_seconds": 0.2,
            "event_subscribers": {
                "life.birth_registered": ["/identity/v1/events"],
                "life.death_registered": ["/identity/v1/events"],
                "life.id_card_expiring": ["/identity/v1/events"],
                "life.retirement_age_reached": ["/identity/v1/events"],
                "data.accessed": ["/identity/v1/events"],
            },
            "access_notice_seconds": 0,
        },
    )


@pytest.fixture(scope="session")
def population() -> list[PersonRow]:
    return read_population(DATA_DIR / "population.csv")


@pytest.fixture(scope="session")
def demo_citizen(population: list[PersonRow]) -> PersonRow:
    return population[0]


DatasetRows = Callable[[str], list[dict[str, Any]]]


def _read_dataset_rows(code: str) -> list[dict[str, Any]]:
    csv_path, jsonl_path = DATA_DIR / f"{code}.csv", DATA_DIR / f"{code}.jsonl"
    if jsonl_path.exists():
        with jsonl_path.open(encoding="utf-8") as source:
            return [json.loads(line) for line in source]
    with csv_path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


@pytest.fixture(scope="session")
def dataset_rows() -> DatasetRows:
    """The committed file of a hosted dataset, as its rows (CSV cells as text)."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def rows(code: str) -> list[dict[str, Any]]:
        if code not in cache:
            cache[code] = _read_dataset_rows(code)
        return cache[code]

    return rows


#: What a client's token minted here holds unless a test names its scopes: every scope of the
#: exchange, so that grants, purposes and consents decide (test_scopes.py checks the scopes).
EXCHANGE_SCOPES = ("exchange:calls", "exchange:matches", "exchange:loads", "exchange:grants")


class ExchangeTokenMinter(TokenMinter):
    """The kit's minter, whose client tokens hold ``EXCHANGE_SCOPES`` unless told otherwise."""

    def mint(self, sub: str, *, scope: tuple[str, ...] | None = None, **claims: Any) -> str:
        if scope is None:
            client = claims.get("typ") in ("department_system", "service")
            scope = EXCHANGE_SCOPES if client else ()
        return super().mint(sub, scope=scope, **claims)


@pytest.fixture(scope="session")
def token_minter() -> TokenMinter:
    return ExchangeTokenMinter()


@pytest.fixture
def service_with_grant(app: FastAPI, token_minter: TokenMinter) -> GrantMaker:
    """A platform service of its own (no consent asked of services) holding a grant on the
    resource; its token. Grants are reference data, so each test's service is new."""

    async def make(*, resource: str, fields: list[str], purposes: list[str]) -> Headers:
        service = f"test-svc-{secrets.token_hex(4)}"
        async with app.state.service.database.sessionmaker.begin() as session:
            session.add(
                SharingGrant(
                    consumer=service, resource_code=resource, fields=fields, purposes=purposes
                )
            )
        return bearer(token_minter.mint(service, typ="service", loa=0))

    return make


@pytest.fixture(scope="session")
def demo_capture() -> dict[str, Any]:
    capture: dict[str, Any] = json.loads((DATA_DIR / "demo_face_capture.json").read_text())
    return capture


@pytest.fixture
def identity_svc(token_minter: TokenMinter) -> Headers:
    """identity-svc's own service token, as it calls the exchange through the gateway."""
    return bearer(token_minter.mint("identity-svc", typ="service", loa=0))


DEMO_REGION = "330302026003"
ConsentGiver = Callable[..., Awaitable[str]]


@pytest.fixture
def demo_citizen_token(token_minter: TokenMinter, demo_citizen: PersonRow) -> Headers:
    """The demo citizen's own token after her real-name check (loa 2, her registered region)."""
    return bearer(token_minter.mint("account-demo", typ="citizen", loa=2, region=DEMO_REGION))


@pytest.fixture
def demo_consent(
    client: httpx.AsyncClient,
    demo_citizen: PersonRow,
    demo_citizen_token: Headers,
    identity_svc: Headers,
    case_svc: CaseService,
) -> ConsentGiver:
    """identity-svc links the demo citizen's account, she has the case open with the consumer
    (case-svc's double), and she consents through the API; the consent's id."""

    async def give(
        *, consumer: str, fields: list[str], purpose: str, case_id: str, days: float = 30
    ) -> str:
        case_svc.open(case_id, applicant="account-demo", department=consumer)
        # What identity-svc does at her real-name verification.
        linked = await client.put(
            "/exchange/v1/citizen-links/account-demo",
            json={"id_number": demo_citizen.id_number},
            headers=identity_svc,
        )
        assert linked.status_code == 200, linked.text
        given = await client.post(
            "/exchange/v1/me/consents",
            json={
                "consumer": consumer,
                "resource": "population",
                "fields": fields,
                "purpose": purpose,
                "case_id": case_id,
                "expires_at": (utcnow() + dt.timedelta(days=days)).isoformat(),
            },
            headers=demo_citizen_token,
        )
        assert given.status_code == 201, given.text
        consent_id: str = given.json()["id"]
        return consent_id

    return give


@pytest.fixture
def department_with_grant(
    app: FastAPI, token_minter: TokenMinter, demo_consent: ConsentGiver
) -> GrantMaker:
    """A department system of a fresh department holding the grant described; its token.
    With ``consented_case``, the demo citizen also consents to the grant's fields and purposes
    for that case.

    Grants are reference data (kept between tests), so each test's department is new.
    """

    async def make(
        *,
        fields: list[str],
        purposes: list[str],
        expires_at: dt.datetime | None = None,
        revoked_at: dt.datetime | None = None,
        extra: Sequence[tuple[list[str], list[str]]] = (),
        consented_case: str | None = None,
    ) -> Headers:
        department = f"330302-test_{secrets.token_hex(4)}"
        async with app.state.service.database.sessionmaker.begin() as session:
            session.add(
                SharingGrant(
                    consumer=department,
                    resource_code="population",
                    fields=fields,
                    purposes=purposes,
                    expires_at=expires_at,
                    revoked_at=revoked_at,
                )
            )
            for more_fields, more_purposes in extra:
                session.add(
                    SharingGrant(
                        consumer=department,
                        resource_code="population",
                        fields=more_fields,
                        purposes=more_purposes,
                    )
                )
        if consented_case is not None:
            for purpose in purposes:
                await demo_consent(
                    consumer=department, fields=fields, purpose=purpose, case_id=consented_case
                )
        token = token_minter.mint(
            f"system-{secrets.token_hex(4)}", typ="department_system", loa=0, dept=department
        )
        return bearer(token)

    return make
