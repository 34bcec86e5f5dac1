"""Offers: the exchange's life events (its client alone, each once) become offers in the
citizen's inbox, texted to her phone; she reads them, declines them, or confirms one, and
identity-svc files what it offers as her, with her own token, through the gateway: the draft,
the consents it asks for, its filling, its submission. Nothing is filed without her
confirmation; an expired or declined offer files nothing; nobody else sees hers.

The gateway's side of the confirmation is a double of case-svc's bundle-draft contract and of
the exchange's consents (``ConfirmationDouble``), mounted on the contract double every
identity-svc test reaches through the gateway; the real filing, through the gateway between
real processes, is the end-to-end tests' business."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy import select, update

from identity_svc.models import Account, InboxMessage, Offer
from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings
from servicekit.events import CLOUDEVENTS_JSON
from servicekit.ids import new_id
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import ContractDouble, Journey, MovableClock, People, SmsOutbox

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

EXCHANGE = "data-exchange-svc"
CASE_SVC = "case-svc"
BUNDLE_DRAFT = "330302-B20261207-3f9a0c1b5e27"
ITEM_DRAFT = "330302-D20261207-5d6e7f8a9b0c"
CONSENT_ASKED = {
    "consumer": "330302-public_security",
    "resource": "child_birth_certificate",
    "fields": ["child_name", "child_birth_date"],
    "purpose": "case_prefill",
    "case_id": "330302-D20261207-0a1b2c3d4e5f",
}
CHILDREN = [
    {
        "item_code": "public_security.birth_registration",
        "item_name": "出生登记",
        "department_id": "330302-public_security",
        "department_name": "温州市公安局鹿城区分局",
        "department_tier": "county",
        "case_no": "330300-20261207-000004",
        "status": "submitted",
        "due_at": None,
    }
]


async def service_headers(
    app: FastAPI, settings: IdentitySettings, client: httpx.AsyncClient, client_id: str
) -> dict[str, str]:
    """A platform service's client, registered as the seed does, and its token's headers for
    events."""
    secret = "e" * 40
    configured = settings.model_copy(
        update={
            "seed_client_id": client_id,
            "seed_client_secret": SecretStr(secret),
            "seed_client_name": f"{client_id}（平台服务）",
            "seed_client_type": "service",
            "seed_client_scopes": "events:deliver",
        }
    )
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, configured)
    token = await client.post(
        "/identity/v1/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert token.status_code == 200, token.text
    return {
        "Authorization": f"Bearer {token.json()['access_token']}",
        "content-type": CLOUDEVENTS_JSON,
    }


@pytest.fixture
async def exchange(
    app: FastAPI, identity_settings: IdentitySettings, client: httpx.AsyncClient
) -> dict[str, str]:
    return await service_headers(app, identity_settings, client, EXCHANGE)


def life_event(
    account_id: str,
    *,
    event_type: str = "life.birth_registered",
    life_event_id: uuid.UUID | None = None,
    time: str = "2026-12-07T10:00:00Z",
) -> dict[str, Any]:
    life_event_id = life_event_id or uuid.uuid4()
    return {
        "specversion": "1.0",
        "id": str(new_id()),
        "source": "/exchange",
        "type": event_type,
        "subject": str(life_event_id),
        "time": time,
        "datacontenttype": "application/json",
        "data": {
            "account_id": account_id,
            "life_event_id": str(life_event_id),
            "resource": "child_birth_certificate",
        },
    }


@dataclass
class Her:
    phone: str
    account_id: str
    tokens: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.tokens["access_token"])


async def a_mother(journey: Journey, people: People, client: httpx.AsyncClient) -> Her:
    """A citizen whose real name is bound, face-verified just now (level 3)."""
    phone = await journey.register()
    signed_in = (await journey.login(phone)).json()
    tokens = await journey.bound(signed_in["access_token"], people.lin)
    me = await client.get("/identity/v1/me", headers=bearer(tokens["access_token"]))
    return Her(phone, me.json()["id"], tokens)


async def offered(
    client: httpx.AsyncClient, her: Her, exchange: dict[str, str], **event: Any
) -> dict[str, Any]:
    """Her offer from a birth the exchange reported."""
    posted = await client.post(
        "/identity/v1/events", json=life_event(her.account_id, **event), headers=exchange
    )
    assert posted.status_code == 204, posted.text
    offers = (await client.get("/identity/v1/me/offers", headers=her.headers)).json()
    offer: dict[str, Any] = offers["items"][0]
    return offer


# The gateway's side of the confirmation ------------------------------------------------------


def _refusal(status: int, code: str, **members: Any) -> JSONResponse:
    return JSONResponse(
        {"type": f"/problems/{code}", "title": code, "status": status, "code": code, **members},
        status_code=status,
        media_type="application/problem+json",
    )


@dataclass
class ConfirmationDouble:
    """case-svc's bundle drafts and the exchange's consents, per contract, as the citizen calls
    them: each request must carry a citizen's token signed by identity-svc, and is recorded
    with its caller. ``submission`` decides how the next submissions are answered."""

    contracts: ContractDouble
    #: (method, path, the caller's claims, the body, the Idempotency-Key)
    requests: list[tuple[str, str, dict[str, Any], Any, str | None]] = field(default_factory=list)
    #: What the submissions answer, in turn: "filed", "unavailable", "needs_input"; then filed.
    submission: list[str] = field(default_factory=list)
    #: Idempotency-Key → the answer given, as case-svc keeps it.
    filed: dict[str, dict[str, Any]] = field(default_factory=dict)

    def mount(self, app: FastAPI) -> None:
        app.post("/cases/v1/drafts")(self._open_item_draft)
        app.post("/cases/v1/drafts/{number}/prefill")(self._prefill)
        app.post("/cases/v1/drafts/{number}/submission")(self._submit_item_draft)
        app.post("/cases/v1/bundle-drafts")(self._open)
        app.get("/cases/v1/bundle-drafts/{number}")(self._read)
        app.post("/cases/v1/bundle-drafts/{number}/prefill")(self._prefill)
        app.post("/cases/v1/bundle-drafts/{number}/submission")(self._submit)
        app.post("/exchange/v1/me/consents")(self._consent)

    async def _caller(self, request: Request) -> dict[str, Any] | JSONResponse:
        assert self.contracts.jwks is not None
        _, _, token = request.headers.get("authorization", "").partition(" ")
        keys = {key["kid"]: key for key in (await self.contracts.jwks())["keys"]}
        try:
            key = jwt.PyJWK(keys[jwt.get_unverified_header(token)["kid"]])
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.algorithm_name],
                audience="onevisit",
                issuer="http://127.0.0.1:8000/identity/v1",
                options={"verify_exp": False, "verify_iat": False},
            )
        except (KeyError, jwt.PyJWTError):
            return _refusal(401, "invalid_token")
        body = await request.body()
        self.requests.append(
            (
                request.method,
                request.url.path,
                claims,
                await request.json() if body else None,
                request.headers.get("idempotency-key"),
            )
        )
        if claims["typ"] != "citizen":
            return _refusal(403, "wrong_principal_type")
        return claims

    def _draft(self) -> dict[str, Any]:
        return {
            "application_no": BUNDLE_DRAFT,
            "bundle_code": "birth",
            "bundle_name": "出生一件事",
            "children": [],
            "form": {},
            "provenance": {},
            "consents_to_fill": [CONSENT_ASKED],
            "left_out": [],
            "created_at": "2026-12-07T10:00:00Z",
        }

    async def _open(self, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        return JSONResponse(self._draft(), status_code=201)

    async def _read(self, number: str, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        return JSONResponse(self._draft())

    async def _prefill(self, number: str, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        return JSONResponse({**self._draft(), "consents_to_fill": []})

    async def _submit(self, number: str, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        key = request.headers.get("idempotency-key") or ""
        if key in self.filed:  # the kit's replay
            return JSONResponse(self.filed[key], status_code=201)
        outcome = self.submission.pop(0) if self.submission else "filed"
        if outcome == "unavailable":
            return _refusal(503, "upstream_unavailable")
        if outcome == "needs_input":
            return _refusal(422, "bundle_child_refused", child_problem="form_invalid")
        self.filed[key] = {
            "application_no": number,
            "bundle_code": "birth",
            "bundle_name": "出生一件事",
            "status": "in_progress",
            "children": CHILDREN,
            "left_out": [],
            "created_at": "2026-12-07T10:05:00Z",
        }
        return JSONResponse(self.filed[key], status_code=201)

    async def _open_item_draft(self, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        return JSONResponse({"draft_no": ITEM_DRAFT, "consents_to_fill": []}, status_code=201)

    async def _submit_item_draft(self, number: str, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        return JSONResponse(
            {
                "case_no": "330300-20261207-000009",
                "item_code": "public_security.id_card_renewal",
                "status": "submitted",
                "department_id": "330302-public_security",
            },
            status_code=201,
        )

    async def _consent(self, request: Request) -> JSONResponse:
        caller = await self._caller(request)
        if isinstance(caller, JSONResponse):
            return caller
        return JSONResponse({"id": str(uuid.uuid4()), "status": "active"}, status_code=201)

    def paths(self, method: str | None = None) -> list[str]:
        return [path for asked, path, *_ in self.requests if method in (None, asked)]


@pytest.fixture
def gateway(contracts: ContractDouble) -> ConfirmationDouble:
    double = ConfirmationDouble(contracts)
    double.mount(contracts.app)
    return double


# Receiving -----------------------------------------------------------------------------------


async def test_a_birth_the_exchange_reports_offers_her_the_birth_bundle_and_texts_her(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    outbox: SmsOutbox,
    exchange: dict[str, str],
) -> None:
    her = await a_mother(journey, people, client)
    texts_before = len(outbox.texts_to(her.phone))
    event = life_event(her.account_id)

    for _ in range(2):  # the relay's redelivery is answered alike and makes nothing more
        posted = await client.post("/identity/v1/events", json=event, headers=exchange)
        assert posted.status_code == 204, posted.text
    # Another event announcing the same birth makes nothing more either.
    again = life_event(her.account_id, life_event_id=uuid.UUID(event["data"]["life_event_id"]))
    assert (
        await client.post("/identity/v1/events", json=again, headers=exchange)
    ).status_code == 204

    [offer] = (await client.get("/identity/v1/me/offers", headers=her.headers)).json()["items"]
    assert offer["status"] == "open"
    assert offer["event_type"] == "life.birth_registered"
    assert offer["files"] == {"kind": "bundle", "code": "birth"}
    # Birth registration is due within a month.
    assert dt.datetime.fromisoformat(offer["expires_at"]) == dt.datetime(
        2027, 1, 6, 10, 0, tzinfo=dt.UTC
    )
    assert "出生" in offer["title"]
    assert "同意" in offer["summary"]  # her confirmation is her consent: the offer says so
    assert (offer["draft_no"], offer["application_no"]) == (None, None)

    [message] = (await client.get("/identity/v1/me/inbox", headers=her.headers)).json()["items"]
    assert message["kind"] == "offer"
    assert message["offer"] == offer
    assert (message["case_no"], message["texted"]) == (None, True)
    [text] = outbox.texts_to(her.phone)[texts_before:]
    assert "浙里办" in text
    assert people.lin.name not in text
    assert her.account_id not in text
    one = await client.get(f"/identity/v1/me/offers/{offer['id']}", headers=her.headers)
    assert one.json() == offer


async def test_only_the_exchange_posts_life_events(
    app: FastAPI,
    identity_settings: IdentitySettings,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    case_svc = await service_headers(app, identity_settings, client, CASE_SVC)
    refused = problem(
        await client.post("/identity/v1/events", json=life_event(her.account_id), headers=case_svc),
        403,
        "not_the_event_producer",
    )
    assert refused["event_type"] == "life.birth_registered"
    problem(
        await client.post(
            "/identity/v1/events",
            json=life_event(her.account_id),
            headers={**her.headers, "content-type": CLOUDEVENTS_JSON},
        ),
        403,
        "wrong_principal_type",
    )
    assert (await client.get("/identity/v1/me/offers", headers=her.headers)).json()["items"] == []


async def test_a_life_event_without_an_offer_or_an_account_makes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
) -> None:
    her = await a_mother(journey, people, client)
    for event in (
        life_event(her.account_id, event_type="life.moved_house"),
        life_event(str(uuid.uuid4())),  # an account that no longer exists
        life_event("not-an-account"),
    ):
        posted = await client.post("/identity/v1/events", json=event, headers=exchange)
        assert posted.status_code == 204, posted.text
    assert (await client.get("/identity/v1/me/offers", headers=her.headers)).json()["items"] == []
    async with app.state.service.database.sessionmaker() as session:
        assert (await session.scalars(select(Offer))).all() == []
        assert (await session.scalars(select(InboxMessage))).all() == []


# Reading and deciding -------------------------------------------------------------------------


async def test_nobody_else_sees_or_decides_her_offer(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange)
    other = bearer((await journey.real_named(people.wang))["access_token"])

    assert (await client.get("/identity/v1/me/offers", headers=other)).json()["items"] == []
    path = f"/identity/v1/me/offers/{offer['id']}"
    problem(await client.get(path, headers=other), 404, "offer_not_found")
    problem(await client.post(f"{path}/confirmation", headers=other), 404, "offer_not_found")
    problem(await client.post(f"{path}/decline", headers=other), 404, "offer_not_found")
    assert gateway.requests == []
    assert (await client.get(path, headers=her.headers)).json()["status"] == "open"


async def test_a_declined_offer_files_nothing(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange)
    path = f"/identity/v1/me/offers/{offer['id']}"

    declined = await client.post(f"{path}/decline", headers=her.headers)
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    again = await client.post(f"{path}/decline", headers=her.headers)
    assert again.json()["status"] == "declined"

    refused = problem(
        await client.post(f"{path}/confirmation", headers=her.headers), 409, "offer_not_open"
    )
    assert refused["offer_status"] == "declined"
    assert gateway.requests == []


async def test_an_offer_past_its_time_reads_expired_and_files_nothing(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    clock: MovableClock,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    offer = await offered(client, her, exchange, time=now.isoformat())
    path = f"/identity/v1/me/offers/{offer['id']}"
    assert offer["status"] == "open"

    clock.advance(dt.timedelta(days=30, seconds=1).total_seconds())

    assert (await client.get(path, headers=her.headers)).json()["status"] == "expired"
    inbox = (await client.get("/identity/v1/me/inbox", headers=her.headers)).json()
    assert inbox["items"][0]["offer"]["status"] == "expired"
    refused = problem(
        await client.post(f"{path}/confirmation", headers=her.headers), 409, "offer_expired"
    )
    assert dt.datetime.fromisoformat(refused["expires_at"]) == now + dt.timedelta(days=30)
    problem(await client.post(f"{path}/decline", headers=her.headers), 409, "offer_expired")
    assert gateway.requests == []


# Confirming -----------------------------------------------------------------------------------


async def test_confirming_files_the_birth_bundle_as_her_with_her_own_token(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange)
    path = f"/identity/v1/me/offers/{offer['id']}/confirmation"
    keyed = {**her.headers, "Idempotency-Key": str(uuid.uuid4())}
    asked_at = dt.datetime.now(dt.UTC)

    confirmed = await client.post(
        path, json={"answers": {"mother_employee_insured": True}}, headers=keyed
    )

    assert confirmed.status_code == 201, confirmed.text
    filed = confirmed.json()
    assert filed["application_no"] == BUNDLE_DRAFT
    assert filed["children"] == [
        {
            "item_code": "public_security.birth_registration",
            "case_no": "330300-20261207-000004",
            "status": "submitted",
            "department_id": "330302-public_security",
        }
    ]
    assert filed["offer"]["status"] == "confirmed"
    assert filed["offer"]["application_no"] == BUNDLE_DRAFT
    assert filed["offer"]["draft_no"] == BUNDLE_DRAFT
    # The draft, the consent it asked for, its filling, its submission: in that order, each as
    # her (her token: citizen, her account), never as identity-svc.
    assert gateway.paths() == [
        "/cases/v1/bundle-drafts",
        "/exchange/v1/me/consents",
        f"/cases/v1/bundle-drafts/{BUNDLE_DRAFT}/prefill",
        f"/cases/v1/bundle-drafts/{BUNDLE_DRAFT}/submission",
    ]
    assert {(claims["typ"], claims["sub"]) for _, _, claims, _, _ in gateway.requests} == {
        ("citizen", her.account_id)
    }
    opening, consent, _, submission = gateway.requests
    assert opening[3] == {"bundle_code": "birth", "answers": {"mother_employee_insured": True}}
    given = consent[3]
    assert {name: given[name] for name in CONSENT_ASKED} == CONSENT_ASKED
    consent_days = dt.datetime.fromisoformat(given["expires_at"]) - asked_at
    assert dt.timedelta(days=6, hours=23) < consent_days <= dt.timedelta(days=7, minutes=1)
    assert submission[4] == f"offer-{offer['id']}"

    # Her retry with the same key answers the same; without one, it is decided already.
    replayed = await client.post(
        path, json={"answers": {"mother_employee_insured": True}}, headers=keyed
    )
    assert replayed.json() == filed
    problem(await client.post(path, headers=her.headers), 409, "offer_not_open")
    assert len(gateway.paths("POST")) == 4
    read = await client.get(f"/identity/v1/me/offers/{offer['id']}", headers=her.headers)
    assert read.json()["status"] == "confirmed"


async def test_a_confirmation_cut_short_goes_on_with_its_draft_and_files_once(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange)
    path = f"/identity/v1/me/offers/{offer['id']}"
    gateway.submission = ["unavailable"]

    problem(
        await client.post(f"{path}/confirmation", headers=her.headers), 503, "upstream_unavailable"
    )
    kept = (await client.get(path, headers=her.headers)).json()
    assert (kept["status"], kept["draft_no"]) == ("open", BUNDLE_DRAFT)

    confirmed = await client.post(f"{path}/confirmation", headers=her.headers)

    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["application_no"] == BUNDLE_DRAFT
    # One draft opened; the second confirmation read it and went on with it.
    assert gateway.paths("POST").count("/cases/v1/bundle-drafts") == 1
    assert f"/cases/v1/bundle-drafts/{BUNDLE_DRAFT}" in gateway.paths("GET")
    keys = {key for _, asked, _, _, key in gateway.requests if asked.endswith("/submission")}
    assert keys == {f"offer-{offer['id']}"}
    assert len(gateway.filed) == 1


async def test_what_she_must_still_type_sends_her_to_the_draft(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange)
    gateway.submission = ["needs_input"]

    refused = problem(
        await client.post(
            f"/identity/v1/me/offers/{offer['id']}/confirmation", headers=her.headers
        ),
        409,
        "offer_needs_input",
    )

    assert refused["draft_no"] == BUNDLE_DRAFT
    assert refused["draft_path"] == f"/cases/v1/bundle-drafts/{BUNDLE_DRAFT}"
    read = await client.get(f"/identity/v1/me/offers/{offer['id']}", headers=her.headers)
    assert read.json()["status"] == "open"
    assert gateway.filed == {}


async def test_confirming_needs_her_face_just_now(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
    problem: Problem,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange)
    # Her face window ends (the account's, not the clock: tokens are checked on the real one).
    async with app.state.service.database.sessionmaker.begin() as session:
        await session.execute(
            update(Account)
            .where(Account.id == uuid.UUID(her.account_id))
            .values(face_verified_until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    refreshed = await journey.refresh(her.tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    level_2 = bearer(refreshed.json()["access_token"])
    assert (await journey.claims(refreshed.json()["access_token"]))["loa"] == 2

    refused = problem(
        await client.post(f"/identity/v1/me/offers/{offer['id']}/confirmation", headers=level_2),
        403,
        "insufficient_assurance",
    )

    assert (refused["required_loa"], refused["step"]) == (3, "face")
    assert gateway.requests == []
    # Reading and declining need no step-up.
    assert (await client.get("/identity/v1/me/offers", headers=level_2)).status_code == 200


async def test_an_id_card_about_to_expire_offers_its_renewal_filed_as_one_case(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    exchange: dict[str, str],
    gateway: ConfirmationDouble,
) -> None:
    her = await a_mother(journey, people, client)
    offer = await offered(client, her, exchange, event_type="life.id_card_expiring")
    assert offer["files"] == {"kind": "item", "code": "public_security.id_card_renewal"}

    confirmed = await client.post(
        f"/identity/v1/me/offers/{offer['id']}/confirmation", headers=her.headers
    )

    assert confirmed.status_code == 201, confirmed.text
    assert confirmed.json()["application_no"] == "330300-20261207-000009"
    assert [child["case_no"] for child in confirmed.json()["children"]] == [
        "330300-20261207-000009"
    ]
    assert confirmed.json()["offer"]["draft_no"] == ITEM_DRAFT
    assert gateway.paths() == [
        "/cases/v1/drafts",
        f"/cases/v1/drafts/{ITEM_DRAFT}/prefill",
        f"/cases/v1/drafts/{ITEM_DRAFT}/submission",
    ]
    assert gateway.requests[0][3] == {"item_code": "public_security.id_card_renewal"}
