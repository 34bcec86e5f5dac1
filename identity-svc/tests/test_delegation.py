"""Delegation: a real-named citizen lets another act for them, named by their phone, whether or
not it has an account yet (the answer is the same); both list it, either revokes it; the
delegate exchanges their own token for a short one acting for the principal (RFC 8693), and a
delegate can neither delegate further nor touch the principal's credentials."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI

from identity_svc.models import Delegation
from identity_svc.settings import IdentitySettings
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey, MovableClock, People, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ITEM = "public_security.id_card_loss_report"


@dataclass
class Family:
    """The grandmother (real-named, the principal) and her grandson (the delegate)."""

    grandmother: dict[str, Any]
    grandmother_id: str
    grandmother_phone: str
    grandson: dict[str, Any]
    grandson_id: str
    grandson_phone: str


@pytest.fixture
async def family(journey: Journey, people: People) -> Family:
    grandmother_phone = await journey.register()
    signed_in = (await journey.login(grandmother_phone)).json()
    grandmother = await journey.bound(signed_in["access_token"], people.lin)
    grandson_phone = await journey.register()
    grandson = (await journey.login(grandson_phone)).json()
    return Family(
        grandmother=grandmother,
        grandmother_id=(await journey.claims(grandmother["access_token"]))["sub"],
        grandmother_phone=grandmother_phone,
        grandson=grandson,
        grandson_id=(await journey.claims(grandson["access_token"]))["sub"],
        grandson_phone=grandson_phone,
    )


def in_days(clock: MovableClock, days: float) -> str:
    return (clock() + dt.timedelta(days=days)).isoformat()


async def delegate(
    client: httpx.AsyncClient, access_token: str, body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/identity/v1/me/delegations", json=body, headers=bearer(access_token))


async def exchange(
    client: httpx.AsyncClient, subject: str, actor_token: str, **extra: str
) -> httpx.Response:
    return await client.post(
        "/identity/v1/token",
        data={"grant_type": EXCHANGE, "subject": subject, "actor_token": actor_token, **extra},
    )


async def granted(
    client: httpx.AsyncClient,
    family: Family,
    clock: MovableClock,
    *,
    item_codes: list[str] | None = None,
    days: float = 30,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "delegate_phone": family.grandson_phone,
        "valid_until": in_days(clock, days),
    }
    if item_codes is not None:
        body["item_codes"] = item_codes
    response = await delegate(client, family.grandmother["access_token"], body)
    assert response.status_code == 201, response.text
    delegation: dict[str, Any] = response.json()
    return delegation


async def test_a_real_named_citizen_delegates_and_both_see_it(
    client: httpx.AsyncClient, family: Family, clock: MovableClock
) -> None:
    delegation = await granted(client, family, clock, item_codes=[ITEM, ITEM])
    assert delegation["status"] == "active"
    assert delegation["item_codes"] == [ITEM]
    assert delegation["principal"] == {
        "id": family.grandmother_id,
        "phone_masked": delegation["principal"]["phone_masked"],
        "name_masked": "林*英",
    }
    # The delegate is the phone she gave it to, masked: no account of it is named.
    phone = family.grandson_phone
    assert delegation["delegate"] == {"phone_masked": f"{phone[:3]}****{phone[-4:]}"}
    assert family.grandson_id not in str(delegation)

    mine = await client.get(
        "/identity/v1/me/delegations", headers=bearer(family.grandmother["access_token"])
    )
    theirs = await client.get(
        "/identity/v1/me/delegations", headers=bearer(family.grandson["access_token"])
    )
    assert [d["id"] for d in mine.json()["given"]] == [delegation["id"]]
    assert mine.json()["received"] == []
    assert [d["id"] for d in theirs.json()["received"]] == [delegation["id"]]
    assert theirs.json()["given"] == []


async def test_only_a_real_named_citizen_may_delegate(
    client: httpx.AsyncClient,
    journey: Journey,
    family: Family,
    clock: MovableClock,
    problem: Problem,
) -> None:
    response = await delegate(
        client,
        family.grandson["access_token"],
        {"delegate_phone": await journey.register(), "valid_until": in_days(clock, 1)},
    )
    body = problem(response, 403, "insufficient_assurance")
    assert (body["required_loa"], body["step"]) == (2, "real_name")


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"valid_until": "past"}, 422, "invalid_valid_until"),
        ({"valid_until": "beyond"}, 422, "invalid_valid_until"),
        ({"valid_until": "2027-01-01T00:00:00"}, 422, "validation_failed"),  # no time zone
        ({"item_codes": ["Not A Code"]}, 422, "validation_failed"),
        ({"item_codes": []}, 422, "validation_failed"),
    ],
)
async def test_a_malformed_delegation_is_refused(
    client: httpx.AsyncClient,
    family: Family,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    problem: Problem,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    body: dict[str, Any] = {
        "delegate_phone": family.grandson_phone,
        "valid_until": in_days(clock, 1),
    }
    body.update(change)
    if body["valid_until"] == "past":
        body["valid_until"] = in_days(clock, -1)
    elif body["valid_until"] == "beyond":
        body["valid_until"] = in_days(clock, identity_settings.delegation_max_days + 1)
    problem(await delegate(client, family.grandmother["access_token"], body), status, code)


async def test_delegating_to_oneself_or_twice_to_the_same_person_is_refused(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    clock: MovableClock,
    family: Family,
    problem: Problem,
) -> None:
    own_phone = family.grandmother_phone
    response = await delegate(
        client,
        family.grandmother["access_token"],
        {"delegate_phone": own_phone, "valid_until": in_days(clock, 1)},
    )
    problem(response, 422, "cannot_delegate_to_self")
    first = await granted(client, family, clock)
    again = await delegate(
        client,
        family.grandmother["access_token"],
        {"delegate_phone": family.grandson_phone, "valid_until": in_days(clock, 2)},
    )
    assert problem(again, 409, "delegation_exists")["delegation_id"] == first["id"]


def comparable(response: httpx.Response) -> tuple[int, str | None, Any]:
    """Status, content type and body, but for the values of its own (ids, times)."""
    body = response.json()
    for own in ("id", "created_at"):
        body.pop(own, None)
    body["delegate"] = dict.fromkeys(body["delegate"], "…")
    return response.status_code, response.headers.get("content-type"), body


async def test_a_delegation_to_a_phone_without_an_account_is_answered_as_one_to_a_citizen(
    client: httpx.AsyncClient, journey: Journey, family: Family, clock: MovableClock
) -> None:
    nobodys = journey.new_phone()
    valid_until = in_days(clock, 7)
    answers = [
        await delegate(
            client,
            family.grandmother["access_token"],
            {"delegate_phone": phone, "valid_until": valid_until, "item_codes": [ITEM]},
        )
        for phone in (family.grandson_phone, nobodys)
    ]
    assert answers[0].status_code == 201, answers[0].text
    assert comparable(answers[0]) == comparable(answers[1])
    assert set(answers[0].headers) == set(answers[1].headers)
    # Her list shows both as she was answered: in force, to a masked phone.
    given = await client.get(
        "/identity/v1/me/delegations", headers=bearer(family.grandmother["access_token"])
    )
    listed = {d["id"]: d for d in given.json()["given"]}
    assert [listed[answer.json()["id"]] for answer in answers] == [a.json() for a in answers]


@pytest.mark.parametrize("registers_by", ["password", "sms code sign-in"])
async def test_a_delegation_waits_for_its_phone_to_be_registered_and_then_is_the_accounts(
    client: httpx.AsyncClient,
    journey: Journey,
    family: Family,
    clock: MovableClock,
    outbox: SmsOutbox,
    registers_by: str,
) -> None:
    phone = journey.new_phone()
    delegation = await delegate(
        client,
        family.grandmother["access_token"],
        {"delegate_phone": phone, "valid_until": in_days(clock, 7)},
    )
    assert delegation.status_code == 201, delegation.text
    # Someone else, registered, cannot use it.
    stranger = await journey.signed_in()
    refused = await exchange(client, delegation.json()["id"], stranger["access_token"])
    assert refused.status_code == 400

    if registers_by == "password":
        tokens = (await journey.login(await journey.register(phone))).json()
    else:
        assert (await journey.ask_code(phone)).status_code == 202
        tokens = (
            await client.post(
                "/identity/v1/token",
                data={"grant_type": "sms_code", "username": phone, "code": outbox.last_code(phone)},
            )
        ).json()

    theirs = await client.get("/identity/v1/me/delegations", headers=bearer(tokens["access_token"]))
    assert [d["id"] for d in theirs.json()["received"]] == [delegation.json()["id"]]
    acting = await exchange(client, delegation.json()["id"], tokens["access_token"])
    assert acting.status_code == 200, acting.text
    claims = await journey.claims(acting.json()["access_token"])
    assert claims["sub"] == family.grandmother_id
    assert claims["act"] == {"sub": (await journey.claims(tokens["access_token"]))["sub"]}
    # The delegate may revoke it now that it is hers.
    path = f"/identity/v1/me/delegations/{delegation.json()['id']}"
    assert (await client.delete(path, headers=bearer(tokens["access_token"]))).status_code == 204


@pytest.mark.parametrize("subject_is", ["delegation", "principal"])
async def test_the_delegate_exchanges_their_token_for_one_acting_for_the_principal(
    client: httpx.AsyncClient,
    journey: Journey,
    family: Family,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    subject_is: str,
) -> None:
    delegation = await granted(client, family, clock, item_codes=[ITEM])
    subject = delegation["id"] if subject_is == "delegation" else family.grandmother_id
    response = await exchange(client, subject, family.grandson["access_token"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert "refresh_token" not in body
    assert body["scope"] == ITEM
    assert body["expires_in"] == identity_settings.delegated_token_ttl_seconds
    claims = await journey.claims(body["access_token"])
    assert claims["sub"] == family.grandmother_id
    assert claims["act"] == {"sub": family.grandson_id}
    assert claims["typ"] == "citizen"
    assert claims["loa"] == 1  # the grandson's level: never above the delegate's own
    assert claims["region"] == "330302026003"
    assert claims["scope"] == ITEM
    assert claims["exp"] - claims["iat"] == identity_settings.delegated_token_ttl_seconds
    # It acts on the items delegated, not on her account: that stays hers.
    me = await client.get("/identity/v1/me", headers=bearer(body["access_token"]))
    assert (me.status_code, me.json()["code"]) == (403, "delegated_token_refused")


async def test_the_exchanged_level_is_the_lower_of_the_two_and_unrestricted_means_no_scope(
    client: httpx.AsyncClient, journey: Journey, people: People, clock: MovableClock, family: Family
) -> None:
    # A grandson who only claimed a real name (level 1: no face match bound it) acting for
    # his grandmother, whose face just matched (level 3).
    grandson_phone = await journey.register()
    grandson = (await journey.login(grandson_phone)).json()
    assert (await journey.real_name(grandson["access_token"], people.wang)).status_code == 200
    response = await delegate(
        client,
        family.grandmother["access_token"],
        {"delegate_phone": grandson_phone, "valid_until": in_days(clock, 1)},
    )
    assert response.status_code == 201, response.text
    assert (await journey.claims(family.grandmother["access_token"]))["loa"] == 3
    body = (await exchange(client, family.grandmother_id, grandson["access_token"])).json()
    claims = await journey.claims(body["access_token"])
    assert claims["loa"] == 1
    assert "scope" not in claims
    assert "scope" not in body


async def test_the_delegated_token_ends_with_the_delegation(
    client: httpx.AsyncClient, journey: Journey, family: Family, clock: MovableClock
) -> None:
    delegation = await granted(client, family, clock, days=1 / 24 / 60)  # one minute
    body = (await exchange(client, delegation["id"], family.grandson["access_token"])).json()
    claims = await journey.claims(body["access_token"])
    assert claims["exp"] <= dt.datetime.fromisoformat(delegation["valid_until"]).timestamp()
    assert body["expires_in"] <= 60


async def test_a_requested_scope_narrows_within_the_delegation_and_no_further(
    client: httpx.AsyncClient, family: Family, clock: MovableClock, problem: Problem
) -> None:
    other = "public_security.household_transfer"
    delegation = await granted(client, family, clock, item_codes=[ITEM, other])
    narrowed = await exchange(client, delegation["id"], family.grandson["access_token"], scope=ITEM)
    assert narrowed.json()["scope"] == ITEM
    beyond = await exchange(
        client,
        delegation["id"],
        family.grandson["access_token"],
        scope=f"{ITEM} civil_affairs.marriage",
    )
    body = problem(beyond, 400, "delegation_scope_exceeded")
    assert body["error"] == "invalid_scope"
    assert body["refused_scopes"] == ["civil_affairs.marriage"]


@pytest.mark.parametrize("revoked_by", ["grandmother", "grandson"])
async def test_either_side_revokes_and_a_revoked_delegation_cannot_be_exchanged(
    client: httpx.AsyncClient,
    family: Family,
    clock: MovableClock,
    problem: Problem,
    revoked_by: str,
) -> None:
    delegation = await granted(client, family, clock)
    side = family.grandmother if revoked_by == "grandmother" else family.grandson
    path = f"/identity/v1/me/delegations/{delegation['id']}"
    assert (await client.delete(path, headers=bearer(side["access_token"]))).status_code == 204
    assert (await client.delete(path, headers=bearer(side["access_token"]))).status_code == 204
    listed = await client.get(
        "/identity/v1/me/delegations", headers=bearer(family.grandmother["access_token"])
    )
    assert listed.json()["given"][0]["status"] == "revoked"
    refused = await exchange(client, delegation["id"], family.grandson["access_token"])
    assert problem(refused, 400, "delegation_revoked")["error"] == "invalid_grant"
    # By principal id, nothing is in force any more.
    refused = await exchange(client, family.grandmother_id, family.grandson["access_token"])
    problem(refused, 400, "no_matching_delegation")


async def test_an_expired_delegation_cannot_be_exchanged(
    app: FastAPI, client: httpx.AsyncClient, family: Family, clock: MovableClock, problem: Problem
) -> None:
    delegation = await granted(client, family, clock, days=1)
    # The delegation's end passes (moved in the record: tokens are checked on the real clock).
    async with app.state.service.database.sessionmaker.begin() as session:
        record = await session.get(Delegation, uuid.UUID(delegation["id"]))
        assert record is not None
        record.valid_until = clock() - dt.timedelta(seconds=1)
    refused = await exchange(client, delegation["id"], family.grandson["access_token"])
    assert problem(refused, 400, "delegation_expired")["valid_until"]
    listed = await client.get(
        "/identity/v1/me/delegations", headers=bearer(family.grandson["access_token"])
    )
    assert listed.json()["received"][0]["status"] == "expired"


async def test_a_stranger_cannot_exchange_or_revoke_someone_elses_delegation(
    client: httpx.AsyncClient,
    journey: Journey,
    family: Family,
    clock: MovableClock,
    problem: Problem,
) -> None:
    delegation = await granted(client, family, clock)
    stranger = await journey.signed_in()
    problem(
        await exchange(client, delegation["id"], stranger["access_token"]),
        400,
        "no_matching_delegation",
    )
    problem(
        await exchange(client, family.grandmother_id, stranger["access_token"]),
        400,
        "no_matching_delegation",
    )
    problem(
        await exchange(client, "not-an-id", stranger["access_token"]), 400, "no_matching_delegation"
    )
    path = f"/identity/v1/me/delegations/{delegation['id']}"
    problem(
        await client.delete(path, headers=bearer(stranger["access_token"])),
        404,
        "delegation_not_found",
    )


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"subject": "x"}, "invalid_request"),
        ({"actor_token": "x"}, "invalid_request"),
        ({"subject": "x", "actor_token": "x", "actor_token_type": "urn:x"}, "invalid_request"),
        ({"subject": "x", "actor_token": "not-a-jwt"}, "invalid_actor_token"),
    ],
)
async def test_a_malformed_exchange_is_refused(
    client: httpx.AsyncClient, problem: Problem, form: dict[str, str], code: str
) -> None:
    response = await client.post("/identity/v1/token", data={"grant_type": EXCHANGE, **form})
    assert problem(response, 400, code)["error"] == "invalid_request"


async def test_a_delegate_cannot_delegate_further_nor_exchange_again(
    client: httpx.AsyncClient,
    journey: Journey,
    family: Family,
    clock: MovableClock,
    problem: Problem,
) -> None:
    delegation = await granted(client, family, clock)
    acting = (await exchange(client, delegation["id"], family.grandson["access_token"])).json()[
        "access_token"
    ]
    third = await journey.register()
    onward = await delegate(
        client, acting, {"delegate_phone": third, "valid_until": in_days(clock, 1)}
    )
    problem(onward, 403, "delegate_cannot_delegate")
    again = await exchange(client, family.grandmother_id, acting)
    assert problem(again, 400, "chained_delegation_refused")["error"] == "invalid_grant"


async def test_a_delegate_cannot_manage_the_principals_delegations_or_credentials(
    client: httpx.AsyncClient, people: People, family: Family, clock: MovableClock, problem: Problem
) -> None:
    delegation = await granted(client, family, clock)
    acting = bearer(
        (await exchange(client, delegation["id"], family.grandson["access_token"])).json()[
            "access_token"
        ]
    )
    problem(
        await client.get("/identity/v1/me/delegations", headers=acting),
        403,
        "delegated_token_refused",
    )
    # Her account is not what the delegation covers.
    problem(await client.get("/identity/v1/me", headers=acting), 403, "delegated_token_refused")
    path = f"/identity/v1/me/delegations/{delegation['id']}"
    problem(await client.delete(path, headers=acting), 403, "delegated_token_refused")
    problem(
        await client.post("/identity/v1/me/face/challenges", headers=acting),
        403,
        "delegate_cannot_verify",
    )
    real_name = await client.post(
        "/identity/v1/me/real-name",
        json={"name": people.lin.name, "id_number": people.lin.id_number},
        headers=acting,
    )
    problem(real_name, 403, "delegate_cannot_verify")


async def test_a_revoked_actor_token_is_exchanged_no_more_and_its_tokens_name_its_session(
    client: httpx.AsyncClient,
    family: Family,
    clock: MovableClock,
    journey: Journey,
    problem: Problem,
) -> None:
    delegation = await granted(client, family, clock)
    grandson_token = family.grandson["access_token"]
    exchanged = await exchange(client, delegation["id"], grandson_token)
    assert exchanged.status_code == 200, exchanged.text
    acting = await journey.claims(exchanged.json()["access_token"])
    # Ending the grandson's session ends what he obtained in it (the revocation list).
    assert acting["sid"] == (await journey.claims(grandson_token))["sid"]

    logout = await client.post(
        "/identity/v1/logout", data={"refresh_token": family.grandson["refresh_token"]}
    )
    assert logout.status_code == 204
    # The gateway never sees a token in a form: identity-svc's own verifier refuses it.
    for _ in range(100):
        refused = await exchange(client, delegation["id"], grandson_token)
        if refused.status_code != 200:
            break
        await asyncio.sleep(0.02)
    problem(refused, 400, "invalid_actor_token")
