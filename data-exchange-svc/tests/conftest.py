import datetime as dt
import json
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from data_exchange_svc.main import create_app
from data_exchange_svc.models import Base, SharingGrant
from data_exchange_svc.registry.dataset import PersonRow, read_population
from data_exchange_svc.seed import seed
from data_exchange_svc.settings import ExchangeSettings
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
            {"data_resource", "resource_field", "sharing_grant", "population_record"}
        ),
        seed=seed,
    )


@pytest.fixture(scope="session")
def population() -> list[PersonRow]:
    return read_population(DATA_DIR / "population.csv")


@pytest.fixture(scope="session")
def demo_citizen(population: list[PersonRow]) -> PersonRow:
    return population[0]


@pytest.fixture(scope="session")
def demo_capture() -> dict[str, Any]:
    capture: dict[str, Any] = json.loads((DATA_DIR / "demo_face_capture.json").read_text())
    return capture


@pytest.fixture
def identity_svc(token_minter: TokenMinter) -> Headers:
    """identity-svc's own service token, as it calls the exchange through the gateway."""
    return bearer(token_minter.mint("identity-svc", typ="service", loa=0))


@pytest.fixture
def department_with_grant(app: FastAPI, token_minter: TokenMinter) -> GrantMaker:
    """A department system of a fresh department holding the grant described; its token.

    Grants are reference data (kept between tests), so each test's department is new.
    """

    async def make(
        *,
        fields: list[str],
        purposes: list[str],
        expires_at: dt.datetime | None = None,
        revoked_at: dt.datetime | None = None,
        extra: Sequence[tuple[list[str], list[str]]] = (),
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
        token = token_minter.mint(
            f"system-{secrets.token_hex(4)}", typ="department_system", loa=0, dept=department
        )
        return bearer(token)

    return make
