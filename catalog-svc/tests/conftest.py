import copy
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import delete

from catalog_svc.items.repository import PUBLISHED_ITEMS_TOKEN
from catalog_svc.main import create_app
from catalog_svc.models import (
    Base,
    IdempotencyRecord,
    InboxEvent,
    ItemAuditEntry,
    ItemQuality,
    ItemWorkingDays,
    ReferenceDataset,
    ServiceItemDraft,
    ServiceItemVersion,
)
from catalog_svc.reference import repository as reference_repository
from catalog_svc.seed import seed
from catalog_svc.settings import CatalogSettings
from servicekit.testing import ServiceUnderTest, TokenMinter

#: What administrators write, and what events count: emptied after every test.
WRITTEN_TABLES = frozenset(
    model.__tablename__
    for model in (
        ServiceItemDraft,
        ServiceItemVersion,
        ItemAuditEntry,
        IdempotencyRecord,
        ItemQuality,
        ItemWorkingDays,
        InboxEvent,
    )
)


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="catalog",
        service_dir=Path(__file__).resolve().parents[1],
        metadata=Base.metadata,
        settings_class=CatalogSettings,
        create_app=create_app,
        # Everything else catalog-svc stores is reference data: seeded once per database, kept
        # (tests that publish put the items back: ``restore_items``).
        reference_tables=frozenset(Base.metadata.tables) - WRITTEN_TABLES,
        seed=seed,
    )


@pytest_asyncio.fixture(loop_scope="session")
async def restore_items(app: FastAPI) -> AsyncIterator[None]:
    """Puts the items back as the seed left them after a test that publishes or withdraws:
    the items are reference data, kept from test to test."""
    sessionmaker = app.state.service.database.sessionmaker
    async with sessionmaker() as session:
        before = await reference_repository.rows_by_key(session, "service_item")
    yield
    async with sessionmaker.begin() as session:
        after = await reference_repository.rows_by_key(session, "service_item")
        await reference_repository.delete_keys(
            session, "service_item", sorted(set(after) - set(before))
        )
        changed = [row for code, row in before.items() if after.get(code) != row]
        await reference_repository.upsert(session, "service_item", changed)
        await session.execute(
            delete(ReferenceDataset).where(ReferenceDataset.name == PUBLISHED_ITEMS_TOKEN)
        )


Headers = dict[str, str]


@pytest.fixture
def staff(token_minter: TokenMinter) -> Callable[..., Headers]:
    """Authorization headers of a staff token: ``staff(roles, dept, sub)``; by default a catalog
    administrator of the provincial public security department, whose items (the province-wide
    ones) the tests edit."""

    def headers(
        roles: tuple[str, ...] = ("catalog_admin",),
        dept: str | None = "330000-public_security",
        sub: str = "staff-province-01",
    ) -> Headers:
        token = token_minter.mint(sub, typ="staff", loa=2, roles=roles, dept=dept)
        return {"Authorization": f"Bearer {token}"}

    return headers


#: A new item (synthetic): handled by the county public security bureaus of Wenzhou, so that
#: Wenzhou's public security administrators and the province's may create it.
NEW_ITEM: dict[str, Any] = {
    "code": "public_security.dog_licence_synthetic",
    "name": "犬只登记证办理（合成数据）",
    "aliases": ["狗证办理", "养狗登记"],
    "keywords": ["犬只", "狗证"],
    "department_type": "public_security",
    "handling_tier": "county",
    "subject": "person",
    "topics": ["证件办理"],
    "visits": 1,
    "processing_mode": "review",
    "min_loa": 2,
    "legal_working_days": 20,
    "promised_working_days": 5,
    "fee": {"free": True},
    "materials": [
        {"name": "犬只免疫证明", "required": True, "provided_as": "upload", "note": None}
    ],
    "form_schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "犬只登记证办理（合成数据）",
        "type": "object",
        "properties": {
            "name": {
                "type": "string",
                "title": "姓名",
                "x-prefill": {"resource": "population", "field": "name"},
                "x-applicant": "name",
            },
            "dog_breed": {"type": "string", "title": "犬只品种", "maxLength": 50},
        },
        "required": ["name", "dog_breed"],
        "additionalProperties": False,
    },
    "offered_in": ["330300"],
    "illustrative": ["fee"],
    "notes": "合成数据：测试用事项",
}


@pytest.fixture
def new_item() -> dict[str, Any]:
    """A fresh copy of ``NEW_ITEM`` to change."""
    return copy.deepcopy(NEW_ITEM)
