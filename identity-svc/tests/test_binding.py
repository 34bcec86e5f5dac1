"""Binding a real name to an account needs the face: a name and an ID number only make a claim,
which earns nothing in that person's name and blocks nobody; the face match against the
number's registry template binds it. A later face match on another account takes the number
over: the earlier account loses its real name and its sessions, its phone is told, and both
events are audited. No answer tells whether a number is bound to another account."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from identity_svc.accounts import repository as identity_accounts
from identity_svc.models import Account, BindingEvent, FaceAttempt, RefreshToken
from identity_svc.verification.service import DISPLACED_TEXTS
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import ContractDouble, Journey, People, Person, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


async def registered(journey: Journey) -> tuple[str, dict[str, Any]]:
    """A new account's phone and sign-in tokens."""
    phone = await journey.register()
    response = await journey.login(phone)
    assert response.status_code == 200, response.text
    return phone, response.json()


async def account_id(journey: Journey, tokens: dict[str, Any]) -> uuid.UUID:
    return uuid.UUID((await journey.claims(tokens["access_token"]))["sub"])


async def binding_events(app: FastAPI) -> list[BindingEvent]:
    async with app.state.service.database.sessionmaker() as session:
        found = await session.scalars(select(BindingEvent).order_by(BindingEvent.id))
        return list(found.all())


async def test_a_squatter_who_claims_her_number_first_does_not_block_her(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    contracts: ContractDouble,
    outbox: SmsOutbox,
    problem: Problem,
) -> None:
    squatter_phone, squatter = await registered(journey)
    typed_first = await journey.real_name(squatter["access_token"], people.lin)
    assert typed_first.status_code == 200, typed_first.text

    _, her = await registered(journey)
    claimed = await journey.real_name(her["access_token"], people.lin)
    assert claimed.status_code == 200, claimed.text
    verified = await journey.face_matched(her["access_token"], people.lin)

    assert verified.status_code == 200, verified.text
    assert verified.json()["loa"] == 3
    token = verified.json()["access_token"]
    claims = await journey.claims(token)
    assert (claims["loa"], claims["region"]) == (3, people.lin.registered_region)
    me = (await client.get("/identity/v1/me", headers=bearer(token))).json()
    assert me["real_name"]["id_number_masked"] == "3303**********0248"
    identity = await client.get("/identity/v1/me/verified-identity", headers=bearer(token))
    assert identity.json()["id_number"] == people.lin.id_number
    # The exchange knows her account as that registry subject, and no other.
    assert contracts.links == {claims["sub"]: people.lin.id_number}

    # The squatter's claim is gone, and he is told so, in words that name nobody.
    squatter_id = await account_id(journey, squatter)
    async with app.state.service.database.sessionmaker() as session:
        his = await session.get(Account, squatter_id)
    assert his is not None
    assert (his.loa, his.claimed_id_number_sealed, his.claimed_id_number_hash) == (1, None, None)
    problem(await journey.challenge(squatter["access_token"]), 403, "insufficient_assurance")
    [_registration, told] = outbox.texts_to(squatter_phone)
    assert told == DISPLACED_TEXTS["claim_lost"]
    # Both events audited: his claim lost to her face match, her number bound.
    her_id = uuid.UUID(claims["sub"])
    lost, bound = await binding_events(app)
    assert (lost.kind, lost.account_id, lost.actor_id, lost.other_account_id) == (
        "claim_lost",
        squatter_id,
        her_id,
        her_id,
    )
    assert (bound.kind, bound.account_id, bound.actor_id, bound.other_account_id) == (
        "bound",
        her_id,
        her_id,
        None,
    )
    assert lost.notified_at is not None
    assert lost.id_number_hash == bound.id_number_hash


async def test_with_only_her_name_and_number_a_squatter_can_do_nothing_in_her_name(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    contracts: ContractDouble,
    problem: Problem,
) -> None:
    squatter = await journey.claimed(people.lin)
    token = squatter["access_token"]
    refreshed = (await journey.refresh(squatter["refresh_token"])).json()
    assert (await journey.claims(refreshed["access_token"]))["loa"] == 1

    # Her identity is not his to read: the face match is the step he lacks.
    body = problem(
        await client.get("/identity/v1/me/verified-identity", headers=bearer(token)),
        403,
        "insufficient_assurance",
    )
    assert (body["required_loa"], body["current_loa"], body["step"]) == (2, 1, "face")
    # Nothing in her name: no delegation, no enterprise she represents.
    delegation = await client.post(
        "/identity/v1/me/delegations",
        json={"delegate_phone": await journey.register(), "valid_until": "2099-01-01T00:00:00Z"},
        headers=bearer(token),
    )
    problem(delegation, 403, "insufficient_assurance")
    enterprise = await client.post(
        "/identity/v1/enterprises",
        json={"credit_code": "91330302MA2L7Y1K2X"},
        headers=bearer(token),
    )
    problem(enterprise, 403, "insufficient_assurance")
    # His own face does not bind her number; nor is his account her registry subject.
    mismatch = await journey.face_matched(token, people.lin, people.chen.phone_capture())
    problem(mismatch, 422, "face_mismatch")
    assert contracts.links == {}
    me = (await client.get("/identity/v1/me", headers=bearer(token))).json()
    assert (me["loa"], me["real_name"]) == (1, None)


async def test_a_later_face_match_takes_the_number_over_and_the_earlier_account_is_told(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    contracts: ContractDouble,
    outbox: SmsOutbox,
    problem: Problem,
) -> None:
    earlier_phone, earlier = await registered(journey)
    bound_earlier = await journey.bound(earlier["access_token"], people.lin)
    earlier_id = await account_id(journey, earlier)

    _, later = await registered(journey)
    taken = await journey.bound(later["access_token"], people.lin)
    later_id = await account_id(journey, later)

    assert taken["loa"] == 3
    assert contracts.links == {str(later_id): people.lin.id_number}
    # The earlier account: no real name, no session left.
    still_valid = bound_earlier["access_token"]
    # Its sessions are on the revocation list: refused at the gateway within seconds.
    ended = {
        entry["id"] for entry in (await client.get("/identity/v1/revocations")).json()["items"]
    }
    assert (await journey.claims(still_valid))["sid"] in ended
    # Until this process's verifier reads the list (every few seconds), the token still verifies
    # and finds an account without her real name; after, it is refused outright.
    me = await client.get("/identity/v1/me", headers=bearer(still_valid))
    if me.status_code == 401:
        problem(me, 401, "token_revoked")
    else:
        body = me.json()
        assert (body["loa"], body["real_name"], body["face_verified_until"]) == (1, None, None)
    verified = await client.get("/identity/v1/me/verified-identity", headers=bearer(still_valid))
    assert (verified.status_code, verified.json()["code"]) in {
        (401, "token_revoked"),
        (403, "insufficient_assurance"),
    }, verified.text
    for refresh_token in (earlier["refresh_token"], bound_earlier["refresh_token"]):
        problem(await journey.refresh(refresh_token), 400, "invalid_grant")
    async with app.state.service.database.sessionmaker() as session:
        tokens = (
            await session.scalars(select(RefreshToken).where(RefreshToken.account_id == earlier_id))
        ).all()
        released = await session.get(Account, earlier_id)
    assert tokens
    assert all(token.revoked_at is not None for token in tokens)
    assert released is not None
    assert (released.id_number_hash, released.id_number_sealed, released.name_sealed) == (
        None,
        None,
        None,
    )
    assert (released.region_code, released.birth_date, released.sex) == (None, None, None)

    # Told by SMS, in words that name neither the person nor the number.
    [_registration, told] = outbox.texts_to(earlier_phone)
    assert told == DISPLACED_TEXTS["lost"]
    assert people.lin.name not in told
    assert people.lin.id_number[-4:] not in told

    # Audited: who, when, which accounts and the number's keyed hash, never the number.
    bound, lost, took = await binding_events(app)
    assert (bound.kind, bound.account_id, bound.actor_id, bound.other_account_id) == (
        "bound",
        earlier_id,
        earlier_id,
        None,
    )
    assert (lost.kind, lost.account_id, lost.actor_id, lost.other_account_id) == (
        "lost",
        earlier_id,
        later_id,
        later_id,
    )
    assert (took.kind, took.account_id, took.actor_id, took.other_account_id) == (
        "taken",
        later_id,
        later_id,
        earlier_id,
    )
    assert lost.notified_at is not None
    assert (bound.notified_at, took.notified_at) == (None, None)
    assert bound.id_number_hash == lost.id_number_hash == took.id_number_hash
    assert people.lin.id_number not in bound.id_number_hash
    assert lost.occurred_at == took.occurred_at
    async with app.state.service.database.sessionmaker() as session:
        proof = await session.get(FaceAttempt, took.face_attempt_id)
    assert proof is not None
    assert (proof.account_id, proof.matched) == (later_id, True)


async def test_the_earlier_account_takes_it_back_with_her_face_after_signing_in_again(
    journey: Journey, people: People, contracts: ContractDouble, problem: Problem
) -> None:
    earlier_phone, earlier = await registered(journey)
    await journey.bound(earlier["access_token"], people.lin)
    await journey.real_named(people.lin)  # her other account
    problem(await journey.refresh(earlier["refresh_token"]), 400, "invalid_grant")

    again = await journey.login(earlier_phone)
    assert again.status_code == 200, again.text
    back = await journey.bound(again.json()["access_token"], people.lin)

    assert back["loa"] == 3
    assert contracts.links == {str(await account_id(journey, earlier)): people.lin.id_number}


async def test_an_sms_that_cannot_be_sent_leaves_the_take_over_done_and_untold(
    app: FastAPI,
    journey: Journey,
    people: People,
) -> None:
    class Unreachable:
        async def send(self, *, to: str, text: str) -> None:
            raise OSError("the SMS gateway is down")

    await journey.real_named(people.lin)
    her_other_phone = await journey.signed_in()  # registered while texts still go out
    app.state.service.sms_sender = Unreachable()
    taken = await journey.bound(her_other_phone["access_token"], people.lin)

    assert taken["loa"] == 3
    lost = [event for event in await binding_events(app) if event.kind == "lost"]
    assert [event.notified_at for event in lost] == [None]


def comparable(response: httpx.Response) -> str:
    """The body without what differs for any two people or requests."""
    body = response.json()
    for own in ("id_number_masked", "name_masked", "request_id"):
        body.pop(own, None)
    return json.dumps(body, sort_keys=True)


async def answers(
    journey: Journey, person: Person, *, name: str | None = None
) -> list[tuple[int, str]]:
    """What a new account is answered along the claim and the face steps, with the person's
    number and ``name`` (her own by default) and someone else's face: status and body, with
    the masked number and the challenge's own values left out."""
    _, tokens = await registered(journey)
    token = tokens["access_token"]
    told: list[tuple[int, str]] = []
    claim = await journey.client.post(
        "/identity/v1/me/real-name",
        json={"name": name or person.name, "id_number": person.id_number},
        headers=bearer(token),
    )
    told.append((claim.status_code, comparable(claim)))
    if claim.status_code != 200:
        return told
    challenge = await journey.challenge(token)
    shown = challenge.json()
    told.append((challenge.status_code, shown["purpose"]))
    face = await journey.verify_face(
        token, shown["challenge_id"], [-x for x in person.phone_capture()]
    )
    told.append((face.status_code, comparable(face)))
    return told


@pytest.mark.parametrize("name", [None, "无此人"], ids=["her name", "a wrong name"])
async def test_no_answer_differs_between_a_bound_number_and_one_bound_to_nobody(
    journey: Journey, people: People, name: str | None
) -> None:
    await journey.real_named(people.lin)  # hers is bound; wang's is bound to nobody

    bound = await answers(journey, people.lin, name=name)
    unbound = await answers(journey, people.wang, name=name)

    assert bound == unbound
    assert len(bound) == (3 if name is None else 1)


def test_a_binding_event_holds_account_ids_and_a_keyed_hash_never_the_number() -> None:
    columns = {column.name for column in BindingEvent.__table__.columns}
    assert columns == {
        "id",
        "occurred_at",
        "kind",
        "account_id",
        "actor_id",
        "other_account_id",
        "id_number_hash",
        "face_attempt_id",
        "notified_at",
    }


async def test_two_face_matches_binding_her_number_at_once_ask_the_later_to_send_it_again(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
    problem: Problem,
) -> None:
    first = await journey.real_named(people.lin)
    _, later = await registered(journey)
    assert (await journey.real_name(later["access_token"], people.lin)).status_code == 200
    challenge = (await journey.challenge(later["access_token"])).json()["challenge_id"]

    # As if the first binding committed between the later one's read and its write.
    async def not_yet_bound(_session: object, _id_number_hash: str) -> None:
        return None

    with monkeypatch.context() as raced:
        raced.setattr(identity_accounts, "by_id_number_hash", not_yet_bound)
        refused = await journey.verify_face(
            later["access_token"], challenge, people.lin.phone_capture()
        )
    problem(refused, 409, "binding_in_progress")
    me = (await client.get("/identity/v1/me", headers=bearer(later["access_token"]))).json()
    assert (me["loa"], me["real_name"]) == (1, None)

    # Nothing was spent: the same challenge, sent again, takes the number over.
    again = await journey.verify_face(later["access_token"], challenge, people.lin.phone_capture())
    assert again.status_code == 200, again.text
    theirs = await client.get("/identity/v1/me", headers=bearer(first["access_token"]))
    if theirs.status_code == 401:  # its session is on the revocation list, read already
        problem(theirs, 401, "token_revoked")
    else:
        assert theirs.json()["real_name"] is None
