"""Phones, names and ID numbers are sealed with key ids, under the service's keyring, and rotate
with the kit's command. Those sealed before key ids (under ``PERSONAL_DATA_KEY`` alone) still
read; once a new key is current, ``python -m servicekit.sealing rewrap`` seals every one of them
under it, and rewraps those sealed since; they read as before with the new key alone; and a value
copied into another account's row does not open, whichever way it was sealed."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import select, update

from identity_svc.models import Account, Delegation
from identity_svc.personal_data import PersonalData, SealedKind, mask_phone
from identity_svc.sealing import seal
from identity_svc.settings import IdentitySettings
from servicekit.sealing import UnsealableValue
from servicekit.settings import key_bytes
from servicekit.testing import bearer, rewrap_as_an_operator

if TYPE_CHECKING:
    from conftest import AppStarter, Journey, MovableClock, People

#: The sealed columns of an account, and the kind each value is sealed as.
ACCOUNT_COLUMNS: dict[str, SealedKind] = {
    "phone_sealed": "phone",
    "claimed_name_sealed": "name",
    "claimed_id_number_sealed": "id_number",
    "name_sealed": "name",
    "id_number_sealed": "id_number",
}
NEW_KEY_ID = "2027-01"
NEW_KEY = base64.b64encode(b"n" * 32).decode()


@dataclass
class Residents:
    """林秀英, bound to her real name, who gave her helper's phone a delegation; and 王建国, who
    claimed his and waits for his face match."""

    lin: dict[str, Any]
    lin_phone: str
    helper_phone: str
    wang: dict[str, Any]


@pytest.fixture
async def residents(
    client: httpx.AsyncClient, journey: Journey, people: People, clock: MovableClock
) -> Residents:
    lin_phone = await journey.register()
    signed_in = (await journey.login(lin_phone)).json()
    lin = await journey.bound(signed_in["access_token"], people.lin)
    helper_phone = journey.new_phone()
    delegated = await client.post(
        "/identity/v1/me/delegations",
        json={"delegate_phone": helper_phone, "valid_until": in_days(clock, 30)},
        headers=bearer(lin["access_token"]),
    )
    assert delegated.status_code == 201, delegated.text
    wang = await journey.claimed(people.wang)
    return Residents(lin, lin_phone, helper_phone, wang)


def in_days(clock: MovableClock, days: int) -> str:
    return (clock() + dt.timedelta(days=days)).isoformat()


async def sealed_before_key_ids(app: FastAPI, settings: IdentitySettings) -> None:
    """Seal every phone, name and ID number again as identity-svc sealed them before key ids:
    under ``PERSONAL_DATA_KEY`` alone, bound to ``<kind>:<account id>``."""
    personal: PersonalData = app.state.service.runtime.personal_data
    key = key_bytes(settings.personal_data_key)

    def as_before(kind: SealedKind, value: bytes, account_id: uuid.UUID) -> bytes:
        plain = personal.unseal(kind, value, account_id=account_id).encode()
        return seal(key, plain, associated_data=f"{kind}:{account_id}".encode())

    async with app.state.service.database.sessionmaker.begin() as session:
        for account in await session.scalars(select(Account)):
            for column, kind in ACCOUNT_COLUMNS.items():
                value = getattr(account, column)
                if value is not None:
                    setattr(account, column, as_before(kind, value, account.id))
        for delegation in await session.scalars(select(Delegation)):
            delegation.delegate_phone_sealed = as_before(
                "delegate_phone", delegation.delegate_phone_sealed, delegation.principal_id
            )


async def stored_values(app: FastAPI) -> list[bytes]:
    """Every phone, name and ID number as the database holds it."""
    columns = [getattr(Account, column) for column in ACCOUNT_COLUMNS]
    async with app.state.service.database.sessionmaker() as session:
        accounts = (await session.execute(select(*columns))).all()
        delegations = (await session.scalars(select(Delegation.delegate_phone_sealed))).all()
    return [value for row in accounts for value in row if value is not None] + list(delegations)


async def assert_everything_reads(
    http: httpx.AsyncClient, residents: Residents, people: People
) -> None:
    """Her phone, name, number and her helper's phone read as she gave them; his claim binds
    by his face, and reads as he claimed it."""
    lin = bearer(residents.lin["access_token"])
    me = (await http.get("/identity/v1/me", headers=lin)).json()
    assert me["phone_masked"] == mask_phone(residents.lin_phone)
    identity = await http.get("/identity/v1/me/verified-identity", headers=lin)
    assert identity.status_code == 200, identity.text
    assert (identity.json()["name"], identity.json()["id_number"]) == (
        people.lin.name,
        people.lin.id_number,
    )
    delegations = (await http.get("/identity/v1/me/delegations", headers=lin)).json()
    [given] = delegations["given"]
    assert given["delegate"] == {"phone_masked": mask_phone(residents.helper_phone)}

    challenge = await http.post(
        "/identity/v1/me/face/challenges", headers=bearer(residents.wang["access_token"])
    )
    assert challenge.status_code == 201, challenge.text
    matched = await http.post(
        "/identity/v1/me/face/verifications",
        json={
            "challenge_id": challenge.json()["challenge_id"],
            "template": people.wang.phone_capture(),
        },
        headers=bearer(residents.wang["access_token"]),
    )
    assert matched.status_code == 200, matched.text
    wang = bearer(matched.json()["access_token"])
    identity = await http.get("/identity/v1/me/verified-identity", headers=wang)
    assert identity.status_code == 200, identity.text
    assert identity.json()["id_number"] == people.wang.id_number


async def test_personal_data_sealed_before_key_ids_still_reads(
    app: FastAPI,
    client: httpx.AsyncClient,
    identity_settings: IdentitySettings,
    residents: Residents,
    people: People,
) -> None:
    await sealed_before_key_ids(app, identity_settings)
    stored = await stored_values(app)
    assert len(stored) == 7  # her phone, name and number; his phone, name and number claimed;
    # her helper's phone
    assert not any(value.startswith(b"ov1.") for value in stored)
    await assert_everything_reads(client, residents, people)


async def test_rewrap_seals_every_value_under_the_new_key_and_each_still_reads(
    app: FastAPI,
    identity_settings: IdentitySettings,
    residents: Residents,
    people: People,
    start_app: AppStarter,
) -> None:
    # Half of it as sealed before key ids, half as sealed since, under the key "dev".
    await sealed_before_key_ids(app, identity_settings)
    async with app.state.service.database.sessionmaker.begin() as session:
        account = (await session.scalars(select(Account).where(Account.loa == 2))).one()
        account.phone_sealed = app.state.service.runtime.personal_data.seal(
            "phone", residents.lin_phone, account_id=account.id
        )
    assert sum(value.startswith(b"ov1.dev.") for value in await stored_values(app)) == 1

    keyring = {
        key_id: key.get_secret_value() for key_id, key in identity_settings.sealing_keys.items()
    }
    printed = await rewrap_as_an_operator(
        identity_settings,
        models="identity_svc.models:Base",
        sealing_keys={**keyring, NEW_KEY_ID: NEW_KEY},
        sealing_key_id=NEW_KEY_ID,
    )
    assert f"under {NEW_KEY_ID!r}" in printed, printed
    stored = await stored_values(app)
    assert len(stored) == 7
    # Each value's key id, as stored: the new key's.
    assert {tuple(value.split(b".")[:2]) for value in stored} == {(b"ov1", NEW_KEY_ID.encode())}

    # The new key alone opens them: neither the key "dev" nor PERSONAL_DATA_KEY is needed.
    rotated = identity_settings.model_copy(
        update={
            "sealing_keys": {NEW_KEY_ID: SecretStr(NEW_KEY)},
            "sealing_key_id": NEW_KEY_ID,
            "personal_data_key": SecretStr(base64.b64encode(b"x" * 32).decode()),
        }
    )
    async with start_app(rotated) as restarted:
        transport = httpx.ASGITransport(app=restarted)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            await assert_everything_reads(http, residents, people)


async def test_a_value_copied_to_another_accounts_row_does_not_open(
    app: FastAPI, identity_settings: IdentitySettings, residents: Residents
) -> None:
    personal: PersonalData = app.state.service.runtime.personal_data
    async with app.state.service.database.sessionmaker() as session:
        lin = (await session.scalars(select(Account).where(Account.loa == 2))).one()
        wang = (await session.scalars(select(Account).where(Account.loa == 1))).one()
        delegation = (await session.scalars(select(Delegation))).one()
    for value in (lin.phone_sealed, lin.name_sealed, lin.id_number_sealed):
        assert value is not None
        assert value.startswith(b"ov1.dev.")
    assert personal.unseal("phone", lin.phone_sealed, account_id=lin.id) == residents.lin_phone
    with pytest.raises(UnsealableValue):
        personal.unseal("phone", lin.phone_sealed, account_id=wang.id)
    with pytest.raises(UnsealableValue):  # another kind of value in the same row
        personal.unseal("delegate_phone", lin.phone_sealed, account_id=lin.id)
    with pytest.raises(UnsealableValue):
        personal.unseal("delegate_phone", delegation.delegate_phone_sealed, account_id=wang.id)

    # So with a value sealed before key ids.
    key = key_bytes(identity_settings.personal_data_key)
    old_phone = seal(key, residents.lin_phone.encode(), associated_data=f"phone:{lin.id}".encode())
    assert personal.unseal("phone", old_phone, account_id=lin.id) == residents.lin_phone
    with pytest.raises(UnsealableValue) as refused:
        personal.unseal("phone", old_phone, account_id=wang.id)
    assert residents.lin_phone not in str(refused.value)

    # Copied into his row in the database, her name opens for nobody there.
    assert lin.name_sealed is not None
    async with app.state.service.database.sessionmaker.begin() as session:
        await session.execute(
            update(Account).where(Account.id == wang.id).values(name_sealed=lin.name_sealed)
        )
    async with app.state.service.database.sessionmaker() as session:
        copied = (await session.get_one(Account, wang.id)).name_sealed
    assert copied == lin.name_sealed
    with pytest.raises(UnsealableValue):
        personal.unseal("name", copied, account_id=wang.id)
