"""No database keeps a person's name, identity number or phone in clear: after the journeys have
run (this module comes after them) and one more resident has registered, proved who she is,
let a helper whose phone has no account act for her, reported her social-security card lost
with an Idempotency-Key and rated it with a comment naming herself, every database of the
platform — the SQLite files with their write-ahead logs, or the PostgreSQL databases row by
row — is searched for those values: none is found."""

import asyncio
import csv
import datetime as dt
import secrets
import uuid
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from data_exchange_svc.registry.faces import template_from_seed
from onevisit_dev.answers import bearer, register_citizen
from onevisit_dev.platform import Platform

REPO = Path(__file__).resolve().parents[1]
#: The journeys' people (see test_journey.py and test_enterprise_journey.py).
JOURNEYS = [("林秀英", "330302195203140248"), ("林浩宇", "330302199807160512")]
PASSWORD = "Sealed-At-Rest-2026"
ITEM = "human_resources_social_security.social_card_loss_report"


def _resident() -> dict[str, str]:
    """A synthetic resident no other story uses: far down the registry, in Wenzhou."""
    with (REPO / "data-exchange-svc/data/population.csv").open(encoding="utf-8") as source:
        people = [
            row for row in csv.DictReader(source) if row["registered_region"].startswith("3303")
        ]
    return people[len(people) // 2]


def _her_story(
    gateway: httpx.Client, var_dir: Path, person: dict[str, str], phone: str, helper: str
) -> None:
    register_citizen(gateway, var_dir, phone, PASSWORD)
    token = gateway.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": PASSWORD},
    ).json()["access_token"]
    named = gateway.post(
        "/identity/v1/me/real-name",
        json={"name": person["name"], "id_number": person["id_number"]},
        headers=bearer(token),
    )
    # A claim only: her face binds it (and answers the tokens).
    assert named.status_code == 200, named.text
    challenge = gateway.post("/identity/v1/me/face/challenges", headers=bearer(token)).json()
    face = gateway.post(
        "/identity/v1/me/face/verifications",
        json={
            "challenge_id": challenge["challenge_id"],
            "template": template_from_seed(int(person["face_seed"])),
        },
        headers=bearer(token),
    )
    assert face.status_code == 200, face.text
    token = face.json()["access_token"]
    # Her helper's phone, which has no account yet: the delegation keeps it, sealed.
    delegated = gateway.post(
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": helper,
            "valid_until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat(),
        },
        headers=bearer(token),
    )
    assert delegated.status_code == 201, delegated.text
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": ITEM,
            "form": {
                "name": person["name"],
                "id_number": person["id_number"],
                "contact_phone": phone,
            },
        },
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    rated = gateway.post(
        "/ratings/v1/ratings",
        json={
            "case_no": filed.json()["case_no"],
            "level": 5,
            "comment": f"{person['name']}很满意，电话{phone}",
        },
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert rated.status_code == 201, rated.text


async def _postgres_rows(url: str) -> str:
    """Every row of every table of one database, as text."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            tables = (
                await connection.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables "
                        "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
                    )
                )
            ).scalars()
            dumped = []
            for table in list(tables):
                rows = await connection.execute(text(f'SELECT t::text FROM "{table}" AS t'))
                dumped.extend(rows.scalars())
            return "\n".join(dumped)
    finally:
        await engine.dispose()


def _stored_bytes(platform: Platform) -> dict[str, bytes]:
    """What each database holds: its files (SQLite), or its rows as text (PostgreSQL)."""
    stored: dict[str, bytes] = {}
    for name, url in platform.config.database_urls.items():
        stored[name] = asyncio.run(_postgres_rows(url)).encode()
    for path in sorted(platform.config.var_dir.glob("*.db*")):
        stored[path.name] = path.read_bytes()
    return stored


def test_no_database_holds_a_name_an_identity_number_or_a_phone_in_clear(
    gateway: httpx.Client, platform: Platform
) -> None:
    person = _resident()
    phone, helper = (
        "139" + "".join(secrets.choice("0123456789") for _ in range(8)) for _ in range(2)
    )
    _her_story(gateway, platform.config.var_dir, person, phone, helper)
    wanted = [*JOURNEYS, (person["name"], person["id_number"])]
    needles = {value for pair in wanted for value in pair} | {phone, helper}
    stored = _stored_bytes(platform)
    # The search reads what the databases hold: her case's item is there, in clear.
    assert any(ITEM.encode() in content for content in stored.values()), sorted(stored)
    found = {
        (database, needle)
        for database, content in stored.items()
        for needle in needles
        if needle.encode() in content
    }
    assert found == set()
