"""Upgrades that change what is stored, on SQLite and on PostgreSQL when configured. Binding by
face: a real name bound before by name and number alone, on an account no face match ever
confirmed, becomes that account's claim (level 1, face pending); one a face match confirmed
stays bound. Delegation to a phone: a delegation made before to an account names that account's
phone, and downgrading finds the account again. Staff numbers: staff accounts made before get
numbers in creation order per region, and the next account made continues the count."""

import datetime as dt
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from identity_svc.personal_data import PersonalData
from identity_svc.settings import IdentitySettings
from servicekit.db import create_engine
from servicekit.migrations import alembic_config
from servicekit.testing import POSTGRES_ENV

SERVICE_DIR = Path(__file__).resolve().parents[1]
#: The last revision before binding by face.
BEFORE = "8f3b6a2e0c15"
NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

account = sa.table(
    "account",
    sa.column("id", sa.Uuid()),
    sa.column("typ", sa.String()),
    sa.column("phone_hash", sa.String()),
    sa.column("phone_sealed", sa.LargeBinary()),
    sa.column("password_hash", sa.String()),
    sa.column("loa", sa.SmallInteger()),
    sa.column("real_name_verified_at", sa.DateTime(timezone=True)),
    sa.column("name_sealed", sa.LargeBinary()),
    sa.column("name_hash", sa.String()),
    sa.column("id_number_sealed", sa.LargeBinary()),
    sa.column("id_number_hash", sa.String()),
    sa.column("birth_date", sa.Date()),
    sa.column("sex", sa.String()),
    sa.column("region_code", sa.String()),
    sa.column("face_failures", sa.SmallInteger()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
face_challenge = sa.table(
    "face_challenge",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("nonce", sa.String()),
    sa.column("purpose", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
    sa.column("used_at", sa.DateTime(timezone=True)),
)
face_attempt = sa.table(
    "face_attempt",
    sa.column("id", sa.Uuid()),
    sa.column("account_id", sa.Uuid()),
    sa.column("challenge_id", sa.Uuid()),
    sa.column("score", sa.Float()),
    sa.column("threshold", sa.Float()),
    sa.column("matched", sa.Boolean()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
)


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(POSTGRES_ENV) else ["sqlite"]


@pytest.fixture(params=_backends())
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'identity.db'}"
        return
    name = f"ov_identity_migration_{secrets.token_hex(4)}"
    admin = create_async_engine(os.environ[POSTGRES_ENV], isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield make_url(os.environ[POSTGRES_ENV]).set(database=name).render_as_string(False)
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def upgrade(url: str, revision: str) -> None:
    await _migrate(url, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, revision: str) -> None:
    await _migrate(url, lambda config: command.downgrade(config, revision))


async def _migrate(url: str, step: Callable[[Config], None]) -> None:
    config = alembic_config(SERVICE_DIR)

    def run(connection: sa.Connection) -> None:
        config.attributes["connection"] = connection
        step(config)

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()


def a_citizen(*, bound_to: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": uuid.uuid4(),
        "typ": "citizen",
        "phone_hash": secrets.token_hex(32),
        "phone_sealed": b"\x01sealed phone",
        "password_hash": "$argon2id$...",
        "loa": 1,
        "real_name_verified_at": None,
        "name_sealed": None,
        "name_hash": None,
        "id_number_sealed": None,
        "id_number_hash": None,
        "birth_date": None,
        "sex": None,
        "region_code": None,
        "face_failures": 0,
        "created_at": NOW,
    }
    if bound_to is not None:
        row |= {
            "loa": 2,
            "real_name_verified_at": NOW,
            "name_sealed": b"\x01sealed name",
            "name_hash": secrets.token_hex(32),
            "id_number_sealed": b"\x01sealed " + bound_to.encode(),
            "id_number_hash": secrets.token_hex(32),
            "birth_date": dt.date(1952, 3, 14),
            "sex": "female",
            "region_code": "330302026003",
        }
    return row


async def test_a_binding_no_face_match_confirmed_becomes_a_claim_and_a_confirmed_one_stays(
    empty_database: str,
) -> None:
    await upgrade(empty_database, BEFORE)
    by_name_only = a_citizen(bound_to="by name and number")
    confirmed = a_citizen(bound_to="confirmed by her face")
    failed_face = a_citizen(bound_to="a face that never matched")
    never = a_citizen(bound_to=None)
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                account.insert(), [by_name_only, confirmed, failed_face, never]
            )
            for holder, matched in ((confirmed, True), (failed_face, False)):
                challenge_id = uuid.uuid4()
                await connection.execute(
                    face_challenge.insert().values(
                        id=challenge_id,
                        account_id=holder["id"],
                        nonce="n",
                        purpose="step_up",
                        created_at=NOW,
                        expires_at=NOW,
                        used_at=NOW,
                    )
                )
                await connection.execute(
                    face_attempt.insert().values(
                        id=uuid.uuid4(),
                        account_id=holder["id"],
                        challenge_id=challenge_id,
                        score=0.97 if matched else 0.1,
                        threshold=0.8,
                        matched=matched,
                        occurred_at=NOW,
                    )
                )

        await upgrade(empty_database, "head")

        async with engine.connect() as connection:
            rows = {
                row.id: row
                for row in await connection.execute(
                    sa.text(
                        "SELECT id, loa, real_name_claimed_at, claimed_name_sealed,"
                        " claimed_id_number_sealed, claimed_id_number_hash,"
                        " real_name_verified_at, name_sealed,"
                        " name_hash, id_number_sealed, id_number_hash, birth_date, sex,"
                        " region_code FROM account"
                    ).columns(id=sa.Uuid())
                )
            }
    finally:
        await engine.dispose()

    for demoted in (by_name_only, failed_face):
        row = rows[demoted["id"]]
        assert row.loa == 1
        assert row.claimed_id_number_sealed == demoted["id_number_sealed"]
        assert row.claimed_id_number_hash == demoted["id_number_hash"]
        assert row.claimed_name_sealed == demoted["name_sealed"]
        assert row.real_name_claimed_at is not None
        unbound = (row.real_name_verified_at, row.name_sealed, row.name_hash, row.id_number_sealed)
        assert unbound == (None, None, None, None)
        assert (row.id_number_hash, row.birth_date, row.sex, row.region_code) == (
            None,
            None,
            None,
            None,
        )
    kept = rows[confirmed["id"]]
    assert (kept.loa, kept.id_number_sealed, kept.id_number_hash) == (
        2,
        confirmed["id_number_sealed"],
        confirmed["id_number_hash"],
    )
    assert kept.claimed_id_number_sealed is None
    untouched = rows[never["id"]]
    assert (untouched.loa, untouched.claimed_id_number_sealed) == (1, None)


#: The last revision before delegations named the delegate's phone.
BEFORE_DELEGATION_TO_A_PHONE = "9c3d5e7f1a20"
delegation = sa.table(
    "delegation",
    sa.column("id", sa.Uuid()),
    sa.column("principal_id", sa.Uuid()),
    sa.column("delegate_id", sa.Uuid()),
    sa.column("item_codes", sa.JSON()),
    sa.column("valid_until", sa.DateTime(timezone=True)),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


async def test_a_delegation_made_to_an_account_names_its_phone_and_back(
    empty_database: str,
) -> None:
    # The migration opens phones with the settings' keys, as the service would.
    settings = IdentitySettings()
    settings.install_sealing()
    personal = PersonalData(lookup_key=settings.lookup_hash_key_bytes)
    grandmother, grandson = a_citizen(bound_to="her own"), a_citizen(bound_to=None)
    grandson_phone = "13705772211"
    grandson |= {
        "phone_hash": personal.lookup_hash("phone", grandson_phone),
        "phone_sealed": personal.seal("phone", grandson_phone, account_id=grandson["id"]),
    }
    given = {
        "id": uuid.uuid4(),
        "principal_id": grandmother["id"],
        "delegate_id": grandson["id"],
        "item_codes": None,
        "valid_until": NOW + dt.timedelta(days=30),
        "created_at": NOW,
    }
    await upgrade(empty_database, BEFORE_DELEGATION_TO_A_PHONE)
    engine = create_engine(empty_database)
    select_delegation = sa.text("SELECT delegate_phone_hash, delegate_phone_sealed FROM delegation")
    try:
        async with engine.begin() as connection:
            await connection.execute(account.insert(), [grandmother, grandson])
            await connection.execute(delegation.insert(), [given])

        await upgrade(empty_database, "head")

        async with engine.connect() as connection:
            [upgraded] = (await connection.execute(select_delegation)).all()
        assert upgraded.delegate_phone_hash == grandson["phone_hash"]
        sealed = upgraded.delegate_phone_sealed
        assert personal.unseal("delegate_phone", sealed, account_id=grandmother["id"]) == (
            grandson_phone
        )

        # A delegation to a phone nobody registered has no account to go back to.
        async with engine.begin() as connection:
            nobody = "13911113333"
            await connection.execute(
                sa.text(
                    "INSERT INTO delegation (id, principal_id, delegate_phone_hash,"
                    " delegate_phone_sealed, valid_until, created_at)"
                    " VALUES (:id, :principal_id, :hash, :sealed, :valid_until, :created_at)"
                ).bindparams(
                    sa.bindparam("id", type_=sa.Uuid()),
                    sa.bindparam("principal_id", type_=sa.Uuid()),
                    sa.bindparam("valid_until", type_=sa.DateTime(timezone=True)),
                    sa.bindparam("created_at", type_=sa.DateTime(timezone=True)),
                ),
                {
                    "id": uuid.uuid4(),
                    "principal_id": grandmother["id"],
                    "hash": personal.lookup_hash("phone", nobody),
                    "sealed": personal.seal("delegate_phone", nobody, account_id=grandmother["id"]),
                    "valid_until": NOW + dt.timedelta(days=30),
                    "created_at": NOW,
                },
            )

        await downgrade(empty_database, BEFORE_DELEGATION_TO_A_PHONE)

        async with engine.connect() as connection:
            kept = (
                await connection.execute(sa.select(delegation.c.id, delegation.c.delegate_id))
            ).all()
    finally:
        await engine.dispose()
    assert [(row.id, row.delegate_id) for row in kept] == [(given["id"], grandson["id"])]


#: The last revision before staff numbers.
BEFORE_STAFF_NUMBERS = "1d3d1502870c"


async def test_staff_made_before_get_numbers_in_creation_order_and_the_counters_go_on(
    empty_database: str,
) -> None:
    # Ids that sort in creation order, as the service's UUIDv7 do.
    depts = ("330302-public_security", None, "330302-civil_affairs", "330300-civil_affairs")
    made = [
        (a_citizen(bound_to=None) | {"typ": "staff", "id": uuid.UUID(int=n + 1)}, dept)
        for n, dept in enumerate(depts)
    ]
    await upgrade(empty_database, BEFORE_STAFF_NUMBERS)
    engine = create_engine(empty_database)
    try:
        async with engine.begin() as connection:
            await connection.execute(account.insert(), [row for row, _ in made])
            for row, dept in made:
                await connection.execute(
                    sa.text("UPDATE account SET dept = :dept WHERE id = :id").bindparams(
                        sa.bindparam("id", type_=sa.Uuid())
                    ),
                    {"dept": dept, "id": row["id"]},
                )
            await connection.execute(account.insert(), [a_citizen(bound_to=None)])

        await upgrade(empty_database, "head")

        async with engine.connect() as connection:
            numbers = dict(
                (
                    await connection.execute(
                        sa.text("SELECT id, staff_no FROM account WHERE typ = 'staff'").columns(
                            sa.column("id", sa.Uuid()), sa.column("staff_no", sa.String())
                        )
                    )
                ).all()
            )
            counters = dict(
                (
                    await connection.execute(
                        sa.text("SELECT region_code, last_value FROM staff_number_counter")
                    )
                ).all()
            )
            citizens = (
                await connection.execute(
                    sa.text(
                        "SELECT count(*) FROM account WHERE typ = 'citizen' AND staff_no IS NULL"
                    )
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    assert [numbers[row["id"]] for row, _ in made] == [
        "330302-0001",
        "000000-0001",
        "330302-0002",
        "330300-0001",
    ]
    assert counters == {"330302": 2, "000000": 1, "330300": 1}
    assert citizens == 1
