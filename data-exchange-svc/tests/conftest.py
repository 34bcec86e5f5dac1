import csv
import datetime as dt
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from data_exchange_svc.main import create_app
from data_exchange_svc.models import Base, SharingGrant
from data_exchange_svc.registry.dataset import PersonRow, read_population
from data_exchange_svc.seed import seed
from data_exchange_svc.settings import ExchangeSettings
from servicekit.db import utcnow
from servicekit.testing import ServiceUnderTest, TokenMinter, bearer

SERVICE_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = SERVICE_DIR / "data"

Headers = dict[str, str]
GrantMaker = Callable[..., Awaitable[Headers]]


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
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


@pytest.fixture
def service_with_grant(app: FastAPI, token_minter: TokenMinter) -> GrantMaker:
    """A platform service of its own (no consent asked of services) holding a grant on the
    resource; its token. Grants are reference data, so each test's service is new."""

    async def make(*, resource: str, fields: list[str], purposes: list[str]) -> Headers:
        service = f"test-svc-{secrets.token_hex(4)}"
        async with app.state.database.sessionmaker.begin() as session:
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
) -> ConsentGiver:
    """identity-svc links the demo citizen's account, and she consents through the API; the
    consent's id."""

    async def give(
        *, consumer: str, fields: list[str], purpose: str, case_id: str, days: float = 30
    ) -> str:
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
        async with app.state.database.sessionmaker.begin() as session:
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
