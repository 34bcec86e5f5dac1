"""Life events: a hospital records a birth through the provider API; the departments subscribed
to births (as their grants allow) get it pushed to their endpoints over real HTTP, signed, with
only the fields their grants name, each delivery a ledger entry; a department that was down gets
it once it is back, and asks for what it missed from a cursor; the mother's account is told, for
an offer, with ids only."""

import asyncio
import datetime as dt
import json
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import select
from starlette.types import Receive, Scope, Send

from data_exchange_svc.lifeevents.publishing import Publication
from data_exchange_svc.lifeevents.subscriptions import EndpointNotAllowed, check_endpoint
from data_exchange_svc.lifeevents.sweep import sweep_once
from data_exchange_svc.models import (
    CitizenSubject,
    LedgerEntry,
    LifeEvent,
    OutboxEvent,
    SharingGrant,
)
from data_exchange_svc.resources.values import today_in_china
from servicekit.resident_id import check_character
from servicekit.testing import ServedApp, TokenMinter, bearer
from servicekit.webhooks import DeliveryRejected, is_secret, verify_delivery

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

PURPOSE = "service_delivery"
BIRTHS = "life.birth_registered"
GRANTED = ["child_name", "child_birth_date", "birth_region"]


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Endpoint:
    """Departments' endpoints, over real HTTP: each path records what it is pushed and
    answers 503 while it is ``down``, 204 otherwise."""

    pushes: list[Push] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    url: str = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        self.pushes.append(Push(scope["path"], headers, body))
        status = 503 if scope["path"] in self.down else 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def to(self, path: str) -> list[Push]:
        return [push for push in self.pushes if push.path == path]


@pytest_asyncio.fixture(loop_scope="session")
async def endpoint() -> AsyncIterator[Endpoint]:
    receiver = Endpoint()
    served = ServedApp(receiver)
    await served.start()
    receiver.url = served.url
    yield receiver
    await served.stop()


def new_mother() -> str:
    """A resident identity number no dataset holds: a Lucheng woman born in 1992."""
    body = f"330302199203{secrets.randbelow(28) + 1:02d}{secrets.randbelow(500) * 2:03d}"
    return body + check_character(body)


def birth(mother: str, *, number: str, born: dt.date) -> dict[str, Any]:
    return {
        "subject": {"id_number": mother},
        "fields": {
            "certificate_number": number,
            "child_name": "林小满",
            "child_sex": "female",
            "child_birth_date": born.isoformat(),
            "birth_region": "330302",
            "hospital_name": "温州市鹿城区第二人民医院（合成数据）",
        },
    }


Load = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def hospital(token_minter: TokenMinter) -> Headers:
    """Lucheng's health bureau's system: the provider of birth certificates there."""
    return bearer(token_minter.mint("his-1", typ="department_system", loa=0, dept="330302-health"))


@pytest.fixture
def record_births(client: httpx.AsyncClient, hospital: Headers) -> Load:
    async def load(*records: dict[str, Any]) -> httpx.Response:
        return await client.post(
            "/exchange/v1/resources/child_birth_certificate/records",
            json={"records": list(records)},
            headers=hospital,
        )

    return load


Department = tuple[str, Headers]


@pytest.fixture
def department_with_grant(
    app: FastAPI, token_minter: TokenMinter
) -> Callable[..., Awaitable[Department]]:
    """A department of its own (grants are kept between tests), granted ``fields`` of the
    birth certificates for ``purposes``; its system's token."""

    async def make(
        fields: tuple[str, ...] = tuple(GRANTED),
        purposes: tuple[str, ...] = (PURPOSE,),
        region: str | None = None,
    ) -> Department:
        department = f"330302-test_{secrets.token_hex(4)}"
        async with app.state.service.database.sessionmaker.begin() as session:
            session.add(
                SharingGrant(
                    consumer=department,
                    resource_code="child_birth_certificate",
                    fields=list(fields),
                    purposes=list(purposes),
                    region=region,
                )
            )
        token = token_minter.mint("sys-1", typ="department_system", loa=0, dept=department)
        return department, bearer(token)

    return make


async def subscribe(
    client: httpx.AsyncClient, headers: Headers, endpoint: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/exchange/v1/subscriptions",
        json={"event_type": BIRTHS, "endpoint": endpoint, "purpose": PURPOSE, **extra},
        headers=headers,
    )


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for ``condition`` (the relay pushes in the background), at most ``seconds``."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not so within {seconds} s")


async def test_a_birth_a_hospital_records_is_pushed_signed_with_only_the_granted_fields(
    client: httpx.AsyncClient,
    app: FastAPI,
    endpoint: Endpoint,
    department_with_grant: Callable[..., Awaitable[Department]],
    record_births: Load,
) -> None:
    department, headers = await department_with_grant()
    path = f"/{department}/life-events"
    subscribed = await subscribe(client, headers, endpoint.url + path)
    assert subscribed.status_code == 201, subscribed.text
    subscription = subscribed.json()
    assert subscription["fields"] == GRANTED
    assert is_secret(subscription["secret"])
    assert subscribed.headers["location"] == f"/exchange/v1/subscriptions/{subscription['id']}"
    # The secret is shown once: never again.
    read = await client.get(subscribed.headers["location"], headers=headers)
    assert read.status_code == 200
    assert "secret" not in read.json()

    mother, born = new_mother(), today_in_china() - dt.timedelta(days=3)
    loaded = await record_births(birth(mother, number="N900000001", born=born))
    assert loaded.status_code == 200, loaded.text

    await until(lambda: bool(endpoint.to(path)))
    (push,) = endpoint.to(path)
    event = verify_delivery(push.body, push.headers, subscription["secret"])
    assert push.headers["content-type"] == "application/cloudevents+json"
    assert push.headers["webhook-id"] == event["id"]
    assert (event["specversion"], event["type"], event["source"]) == ("1.0", BIRTHS, "/exchange")
    data = event["data"]
    assert data["subject"] == {"id_number": mother}
    assert data["resource"] == "child_birth_certificate"
    assert data["subscription_id"] == subscription["id"]
    # What the grant names, no more: not the hospital, though the rule could carry it.
    assert data["fields"] == {
        "child_name": "林小满",
        "child_birth_date": born.isoformat(),
        "birth_region": "330302",
    }
    # The delivery is a ledger entry, its receipt in the push: the mother's access log shows
    # which department was sent what of her record, and why.
    receipt = data["receipt"]
    async with app.state.service.database.sessionmaker() as session:
        entry = await session.get(LedgerEntry, receipt["seq"])
    assert entry is not None
    assert (entry.kind, entry.consumer, entry.purpose, entry.fields) == (
        "delivery",
        department,
        PURPOSE,
        GRANTED,
    )
    assert entry.subject_hash == receipt["entry"]["subject_hash"]

    # A forged or altered push fails the department's check.
    with pytest.raises(DeliveryRejected):
        verify_delivery(
            push.body.replace(b"330302", b"330303"), push.headers, subscription["secret"]
        )
    forged = {**push.headers, "webhook-signature": "v1," + "A" * 44}
    with pytest.raises(DeliveryRejected):
        verify_delivery(push.body, forged, subscription["secret"])

    # Its deliveries, as the department reads them.
    listed = await client.get(
        f"/exchange/v1/subscriptions/{subscription['id']}/deliveries", headers=headers
    )
    assert listed.status_code == 200, listed.text
    (delivery,) = listed.json()["items"]
    assert delivery["event_id"] == event["id"]
    assert (delivery["status"], delivery["attempts"], delivery["ledger_seq"]) == (
        "delivered",
        1,
        receipt["seq"],
    )


async def test_the_same_birth_loaded_again_or_an_old_one_makes_no_event(
    client: httpx.AsyncClient,
    app: FastAPI,
    record_births: Load,
) -> None:
    mother, today = new_mother(), today_in_china()
    first = birth(mother, number="N900000002", born=today - dt.timedelta(days=1))
    assert (await record_births(first)).status_code == 200
    assert (await record_births(first)).status_code == 200
    # A child born years ago, loaded with her history: nothing new to announce.
    old = birth(mother, number="N700000002", born=dt.date(2015, 5, 1))
    assert (await record_births(first, old)).status_code == 200

    async with app.state.service.database.sessionmaker() as session:
        events = list(await session.scalars(select(LifeEvent).where(LifeEvent.type == BIRTHS)))
    assert len(events) == 1
    # What it says of her is sealed at rest.
    assert events[0].payload["fields"]["certificate_number"] == "N900000002"


async def test_a_department_that_was_down_gets_the_birth_once_it_is_back(
    client: httpx.AsyncClient,
    endpoint: Endpoint,
    department_with_grant: Callable[..., Awaitable[Department]],
    record_births: Load,
) -> None:
    department, headers = await department_with_grant()
    path = f"/{department}/down"
    subscription = (await subscribe(client, headers, endpoint.url + path)).json()
    endpoint.down.add(path)

    mother = new_mother()
    loaded = await record_births(
        birth(mother, number="N900000003", born=today_in_china() - dt.timedelta(days=2))
    )
    assert loaded.status_code == 200
    await until(lambda: len(endpoint.to(path)) >= 2)
    endpoint.down.discard(path)

    async def delivered() -> bool:
        listed = await client.get(
            f"/exchange/v1/subscriptions/{subscription['id']}/deliveries", headers=headers
        )
        return bool(listed.json()["items"][0]["status"] == "delivered")

    for _ in range(500):
        if await delivered():
            break
        await asyncio.sleep(0.02)
    pushes = endpoint.to(path)
    assert len(pushes) >= 3
    # Each attempt signed afresh, the same delivery id throughout.
    assert len({push.headers["webhook-id"] for push in pushes}) == 1
    event = verify_delivery(pushes[-1].body, pushes[-1].headers, subscription["secret"])
    assert event["data"]["subject"] == {"id_number": mother}


async def test_a_department_catches_up_from_its_cursor(
    client: httpx.AsyncClient,
    endpoint: Endpoint,
    department_with_grant: Callable[..., Awaitable[Department]],
    record_births: Load,
    problem: Problem,
) -> None:
    department, headers = await department_with_grant()
    path = f"/{department}/restored"
    subscription = (await subscribe(client, headers, endpoint.url + path)).json()
    born = today_in_china() - dt.timedelta(days=5)
    for number in ("N900000004", "N900000005", "N900000006"):
        assert (
            await record_births(birth(new_mother(), number=number, born=born))
        ).status_code == 200
    await until(lambda: len(endpoint.to(path)) == 3)
    ids = [push.headers["webhook-id"] for push in endpoint.to(path)]

    # Restored from a backup that had processed the first birth only.
    again = await client.post(
        f"/exchange/v1/subscriptions/{subscription['id']}/redeliveries",
        json={"after": ids[0]},
        headers=headers,
    )
    assert again.status_code == 202, again.text
    assert again.json() == {"deliveries": 2}
    await until(lambda: len(endpoint.to(path)) == 5)
    assert [push.headers["webhook-id"] for push in endpoint.to(path)[3:]] == ids[1:]

    unknown = await client.post(
        f"/exchange/v1/subscriptions/{subscription['id']}/redeliveries",
        json={"after": str(uuid.uuid4())},
        headers=headers,
    )
    problem(unknown, 404, "delivery_not_found")


async def test_a_department_whose_grant_does_not_allow_births_cannot_subscribe(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    department_with_grant: Callable[..., Awaitable[Department]],
    problem: Problem,
) -> None:
    stranger = bearer(
        token_minter.mint("sys-1", typ="department_system", loa=0, dept="330302-test_nogrant")
    )
    refused = await subscribe(client, stranger, "https://example.org/hook")
    body = problem(refused, 403, "event_type_not_granted")
    assert (body["event_type"], body["resource"]) == (BIRTHS, "child_birth_certificate")

    # A grant for another purpose, or for fields births do not carry, allows none.
    _, other_purpose = await department_with_grant(purposes=("statistics",))
    problem(
        await subscribe(client, other_purpose, "https://example.org/hook"),
        403,
        "event_type_not_granted",
    )
    _, headers = await department_with_grant()
    problem(
        await subscribe(client, headers, "https://example.org/hook", purpose="case_prefill"),
        403,
        "purpose_needs_consent",
    )
    problem(
        await subscribe(client, headers, "https://example.org/hook", event_type="life.nothing"),
        422,
        "unknown_event_type",
    )
    problem(await subscribe(client, headers, "ftp://example.org/hook"), 422, "endpoint_not_allowed")
    # Citizens and platform services do not subscribe.
    service = bearer(token_minter.mint("test-svc", typ="service", loa=0))
    problem(
        await subscribe(client, service, "https://example.org/hook"), 403, "wrong_principal_type"
    )


def test_production_pushes_over_https_only() -> None:
    assert check_endpoint("https://dept.example/hook", http_allowed=False)
    for refused in (
        "http://dept.example/hook",
        "https://user:secret@dept.example/hook",
        "https:///hook",
        "javascript:alert(1)",
    ):
        with pytest.raises(EndpointNotAllowed):
            check_endpoint(refused, http_allowed=False)


async def test_another_departments_subscription_is_not_found(
    client: httpx.AsyncClient,
    department_with_grant: Callable[..., Awaitable[Department]],
    problem: Problem,
) -> None:
    _, mine = await department_with_grant()
    _, theirs = await department_with_grant()
    subscription = (await subscribe(client, mine, "https://example.org/hook")).json()
    location = f"/exchange/v1/subscriptions/{subscription['id']}"

    problem(await client.get(location, headers=theirs), 404, "subscription_not_found")
    problem(await client.delete(location, headers=theirs), 404, "subscription_not_found")
    problem(
        await client.get(f"{location}/deliveries", headers=theirs), 404, "subscription_not_found"
    )
    listed = await client.get("/exchange/v1/subscriptions", headers=theirs)
    assert listed.json()["items"] == []
    assert [
        item["id"]
        for item in (await client.get("/exchange/v1/subscriptions", headers=mine)).json()["items"]
    ] == [subscription["id"]]


async def test_a_cancelled_subscription_or_an_ended_grant_gets_nothing_more(
    client: httpx.AsyncClient,
    app: FastAPI,
    endpoint: Endpoint,
    department_with_grant: Callable[..., Awaitable[Department]],
    record_births: Load,
) -> None:
    cancelled_dept, cancelled_headers = await department_with_grant()
    ended_dept, ended_headers = await department_with_grant()
    cancelled = (
        await subscribe(client, cancelled_headers, f"{endpoint.url}/{cancelled_dept}/c")
    ).json()
    ended = (await subscribe(client, ended_headers, f"{endpoint.url}/{ended_dept}/e")).json()
    gone = await client.delete(
        f"/exchange/v1/subscriptions/{cancelled['id']}", headers=cancelled_headers
    )
    assert gone.status_code == 204
    read = await client.get(
        f"/exchange/v1/subscriptions/{cancelled['id']}", headers=cancelled_headers
    )
    assert read.json()["status"] == "cancelled"
    # The second department's grant is revoked while its endpoint is down: the pending
    # delivery is given up at its next attempt, not pushed.
    endpoint.down.add(f"/{ended_dept}/e")
    loaded = await record_births(
        birth(new_mother(), number="N900000007", born=today_in_china() - dt.timedelta(days=1))
    )
    assert loaded.status_code == 200
    await until(lambda: bool(endpoint.to(f"/{ended_dept}/e")))
    async with app.state.service.database.sessionmaker.begin() as session:
        grant = await session.scalar(
            select(SharingGrant).where(SharingGrant.consumer == ended_dept)
        )
        assert grant is not None
        grant.status, grant.revoked_at = "revoked", dt.datetime.now(dt.UTC)
    app.state.service.access_checks.active_grants.invalidate()

    async def state() -> tuple[str, str | None]:
        listed = await client.get(
            f"/exchange/v1/subscriptions/{ended['id']}/deliveries", headers=ended_headers
        )
        item = listed.json()["items"][0]
        return item["status"], item["last_error"]

    for _ in range(500):
        if (await state())[0] == "dead":
            break
        await asyncio.sleep(0.02)
    assert await state() == ("dead", "grant_ended")
    assert endpoint.to(f"/{cancelled_dept}/c") == []


async def test_the_mothers_account_is_told_of_the_birth_with_ids_only(
    client: httpx.AsyncClient,
    app: FastAPI,
    identity_svc: Headers,
    record_births: Load,
) -> None:
    mother = new_mother()
    account = f"account-{secrets.token_hex(4)}"
    # identity-svc linked her account to her registry record at her face check.
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(
            CitizenSubject(
                account=account, subject_hash=app.state.service.identifiers.lookup_hash(mother)
            )
        )
    loaded = await record_births(
        birth(mother, number="N900000008", born=today_in_china() - dt.timedelta(days=1))
    )
    assert loaded.status_code == 200

    async with app.state.service.database.sessionmaker() as session:
        (row,) = await session.scalars(select(OutboxEvent))
        (event,) = await session.scalars(select(LifeEvent))
    assert (row.subscriber, row.event_type, row.subject) == (
        "/identity/v1/events",
        BIRTHS,
        str(event.id),
    )
    envelope = json.loads(row.envelope)
    assert envelope["data"] == {
        "account_id": account,
        "life_event_id": str(event.id),
        "resource": "child_birth_certificate",
    }
    assert mother not in row.envelope


async def test_a_death_offers_what_follows_to_the_relative_who_reported_it(
    client: httpx.AsyncClient,
    app: FastAPI,
    token_minter: TokenMinter,
) -> None:
    deceased, informant = new_mother(), new_mother()
    accounts = {f"account-{secrets.token_hex(4)}": person for person in (deceased, informant)}
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add_all(
            CitizenSubject(
                account=account, subject_hash=app.state.service.identifiers.lookup_hash(person)
            )
            for account, person in accounts.items()
        )
    hospital = bearer(
        token_minter.mint("his-1", typ="department_system", loa=0, dept="330302-health")
    )
    recorded = await client.post(
        "/exchange/v1/resources/death_registration/records",
        json={
            "records": [
                {
                    "subject": {"id_number": deceased},
                    "fields": {
                        "certificate_number": "D900000001",
                        "death_date": (today_in_china() - dt.timedelta(days=1)).isoformat(),
                        "death_region": "330302",
                        "informant_name": "林小满",
                        "informant_id_number": informant,
                        "informant_relation": "child",
                    },
                }
            ]
        },
        headers=hospital,
    )
    assert recorded.status_code == 200, recorded.text

    async with app.state.service.database.sessionmaker() as session:
        (event,) = await session.scalars(select(LifeEvent))
        rows = list(await session.scalars(select(OutboxEvent)))
    assert event.type == "life.death_registered"
    # Her child, who reported it, is told (the family's one place to settle what follows);
    # nobody tells the deceased's own account.
    told = [json.loads(row.envelope)["data"]["account_id"] for row in rows]
    assert told == [account for account, person in accounts.items() if person == informant]
    assert all(informant not in row.envelope and deceased not in row.envelope for row in rows)


async def sweep(app: FastAPI, today: dt.date) -> int:
    state = app.state.service
    publication = Publication(
        deliveries=state.life_events.deliveries,
        platform=state.life_events.platform,
        active_grants=state.access_checks.active_grants,
        identity_service=state.settings.identity_service,
        today=today,
    )
    made: int = await sweep_once(
        state.database.sessionmaker,
        publication,
        ledger=state.ledger,
        protector=state.identifiers,
        digest_key=state.settings.hash_key_bytes,
        now=dt.datetime.now(dt.UTC),
    )
    return made


async def test_an_identity_card_coming_due_is_told_once_and_offers_its_renewal(
    client: httpx.AsyncClient,
    app: FastAPI,
    token_minter: TokenMinter,
    population: list[Any],
) -> None:
    person = population[7]
    account = f"account-{secrets.token_hex(4)}"
    subject_hash = app.state.service.identifiers.lookup_hash(person.id_number)
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(CitizenSubject(account=account, subject_hash=subject_hash))
    bureau = bearer(
        token_minter.mint("psb-1", typ="department_system", loa=0, dept="330000-public_security")
    )
    today = today_in_china()

    async def card(valid_until: dt.date) -> None:
        loaded = await client.post(
            "/exchange/v1/resources/resident_id_card/records",
            json={
                "records": [
                    {
                        "subject": {"id_number": person.id_number},
                        "fields": {
                            "issued_on": "2007-03-01",
                            "valid_until": valid_until.isoformat(),
                            "issuing_department": "330302-public_security",
                        },
                    }
                ]
            },
            headers=bureau,
        )
        assert loaded.status_code == 200, loaded.text

    async def told() -> list[LifeEvent]:
        async with app.state.service.database.sessionmaker() as session:
            return list(
                await session.scalars(
                    select(LifeEvent).where(
                        LifeEvent.subject_hash == subject_hash,
                        LifeEvent.type == "life.id_card_expiring",
                    )
                )
            )

    # Four months ahead: not yet.
    await card(today + dt.timedelta(days=120))
    await sweep(app, today)
    assert await told() == []
    # Sixty days ahead: due, told once however often the sweep runs.
    await card(today + dt.timedelta(days=60))
    assert await sweep(app, today) >= 1
    assert await sweep(app, today) == 0
    (event,) = await told()
    assert event.payload["fields"]["valid_until"] == (today + dt.timedelta(days=60)).isoformat()
    assert event.region == person.registered_region
    # Her inbox hears of it (an offer to renew), with ids only.
    async with app.state.service.database.sessionmaker() as session:
        rows = list(await session.scalars(select(OutboxEvent)))
    offers = [json.loads(row.envelope)["data"] for row in rows]
    assert {
        "account_id": account,
        "life_event_id": str(event.id),
        "resource": "resident_id_card",
    } in offers
    assert all(person.id_number not in row.envelope for row in rows)
    # Renewed: the new card comes due in its own time, not now.
    await card(today + dt.timedelta(days=3650))
    assert await sweep(app, today) == 0


async def test_the_retirement_age_is_told_once_in_the_month_it_is_reached(
    app: FastAPI, dataset_rows: Callable[[str], list[dict[str, Any]]]
) -> None:
    """A man paying into the employees' pension turns 60: in the 30 days after his birthday
    the sweep tells it, once."""
    paying = next(
        row
        for row in dataset_rows("social_security_contribution")
        if (row["insurance_type"], row["scheme"], row["insured_status"])
        == ("pension", "employee", "contributing")
        and int(row["id_number"][16]) % 2 == 1  # a man
    )
    id_number = paying["id_number"]
    sixtieth = dt.date(int(id_number[6:10]) + 60, int(id_number[10:12]), int(id_number[12:14]))
    subject_hash = app.state.service.identifiers.lookup_hash(id_number)
    account = f"account-{secrets.token_hex(4)}"
    async with app.state.service.database.sessionmaker.begin() as session:
        session.add(CitizenSubject(account=account, subject_hash=subject_hash))

    async def told() -> list[LifeEvent]:
        async with app.state.service.database.sessionmaker() as session:
            return list(
                await session.scalars(
                    select(LifeEvent).where(
                        LifeEvent.subject_hash == subject_hash,
                        LifeEvent.type == "life.retirement_age_reached",
                    )
                )
            )

    await sweep(app, sixtieth - dt.timedelta(days=1))
    assert await told() == []
    await sweep(app, sixtieth + dt.timedelta(days=3))
    await sweep(app, sixtieth + dt.timedelta(days=20))
    (event,) = await told()
    assert event.payload["subject"] == id_number
    assert event.payload["fields"]["scheme"] == "employee"
    async with app.state.service.database.sessionmaker() as session:
        rows = list(await session.scalars(select(OutboxEvent)))
    assert any(json.loads(row.envelope)["data"]["account_id"] == account for row in rows)


async def test_a_marriage_then_its_divorce_and_a_vehicle_overdue_are_each_told_once(
    client: httpx.AsyncClient, app: FastAPI, token_minter: TokenMinter
) -> None:
    """The other change rules: a new marriage row; the same row becoming a divorce; a vehicle
    becoming overdue for inspection. Loading a row again as it is tells nothing."""
    person, spouse = new_mother(), new_mother()
    today = today_in_china()
    civil = bearer(
        token_minter.mint("mca-1", typ="department_system", loa=0, dept="330302-civil_affairs")
    )
    traffic = bearer(
        token_minter.mint("tp-1", typ="department_system", loa=0, dept="330000-traffic_police")
    )

    async def load(code: str, headers: Headers, fields: dict[str, Any]) -> None:
        loaded = await client.post(
            f"/exchange/v1/resources/{code}/records",
            json={"records": [{"subject": {"id_number": person}, "fields": fields}]},
            headers=headers,
        )
        assert loaded.status_code == 200, loaded.text

    marriage = {
        "spouse_name": "陈小满",
        "spouse_id_number": spouse,
        "registered_on": (today - dt.timedelta(days=10)).isoformat(),
        "marital_status": "married",
        "divorced_on": None,
        "registering_region": "330302",
    }
    vehicle = {
        "plate_number": "浙C·L1207",
        "vehicle_type": "small_car",
        "brand": "合成牌",
        "registered_on": "2019-05-01",
        "vehicle_status": "normal",
    }
    await load("marriage_registration", civil, marriage)
    await load("marriage_registration", civil, marriage)
    divorced = marriage | {
        "marital_status": "divorced",
        "divorced_on": (today - dt.timedelta(days=1)).isoformat(),
    }
    await load("marriage_registration", civil, divorced)
    await load("marriage_registration", civil, divorced)
    await load("motor_vehicle", traffic, vehicle)
    await load("motor_vehicle", traffic, vehicle | {"vehicle_status": "inspection_overdue"})
    await load("motor_vehicle", traffic, vehicle | {"vehicle_status": "inspection_overdue"})

    subject_hash = app.state.service.identifiers.lookup_hash(person)
    async with app.state.service.database.sessionmaker() as session:
        events = list(
            await session.scalars(
                select(LifeEvent)
                .where(LifeEvent.subject_hash == subject_hash)
                .order_by(LifeEvent.occurred_at)
            )
        )
    assert [event.type for event in events] == [
        "life.marriage_registered",
        "life.divorce_registered",
        "life.vehicle_inspection_due",
    ]
    # What each tells departments, as its rule names it (the spouse sealed with the rest).
    assert events[1].payload["fields"]["divorced_on"] == divorced["divorced_on"]
    assert events[0].payload["fields"]["spouse_id_number"] == spouse
    assert events[2].payload["fields"]["plate_number"] == "浙C·L1207"
