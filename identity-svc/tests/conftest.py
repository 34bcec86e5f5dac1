"""Fixtures of identity-svc's tests: the service under test verifying its own tokens, a clock
tests move instead of sleeping, the texts it sends, a journey helper, and a double of the two
contracts identity-svc calls through the gateway.

The double implements exactly, from the platform's fixed contracts, ``POST /exchange/v1/matches``
and ``POST /exchange/v1/calls`` (data-exchange-svc's population and business registries),
``PUT /exchange/v1/citizen-links/{account}``, ``GET /catalog/v1/regions/{code}`` and
``GET /catalog/v1/departments/{id}`` (catalog-svc), over a handful of synthetic people. It is a
double of the contracts, not of the services: the real integration, over real processes, is
proven by the end-to-end journey test at the repository's top level.
"""

import datetime as dt
import json
import math
import random
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy import select

from identity_svc.main import create_app
from identity_svc.models import Base, SmsCode
from identity_svc.seed import seed
from identity_svc.settings import IdentitySettings
from servicekit.auth import JwksSource
from servicekit.credit_code import make_credit_code
from servicekit.db import utcnow
from servicekit.regions import RegionCode
from servicekit.resident_id import make_resident_id
from servicekit.settings import ServiceSettings
from servicekit.testing import ServiceUnderTest, bearer, forwarded_by_gateway

PASSWORD = "Songtai-2026!"
#: The seeded first platform administrator, and the password of every staff account made here.
ADMIN_PHONE = "13700000001"
STAFF_PASSWORD = "Staff-Pass-2026"


# The synthetic population ------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    registered_region: str
    face_seed: int

    def face_template(self) -> list[float]:
        """The registry's template: a unit vector drawn from the person's own seed."""
        draw = random.Random(self.face_seed)
        return _unit([draw.gauss(0.0, 1.0) for _ in range(128)])

    def phone_capture(self, *, noise: float = 0.02) -> list[float]:
        """What the phone's SDK would extract from this person's face: the registry's template
        with small deterministic noise (cosine ≈ 0.97)."""
        draw = random.Random(self.face_seed + 1_000_003)
        return [x + draw.gauss(0.0, noise) for x in self.face_template()]


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    return [x / norm for x in vector]


@dataclass(frozen=True)
class People:
    #: The platform's demo citizen (first record of the synthetic registry).
    lin: Person = Person("林秀英", "330302195203140248", "330302026003", 1)
    wang: Person = Person(
        "王建国",
        make_resident_id(RegionCode.parse("330302"), dt.date(1988, 6, 1), 31),
        "330302001002",
        2,
    )
    chen: Person = Person(
        "陈静",
        make_resident_id(RegionCode.parse("330102"), dt.date(1990, 2, 28), 46),
        "330102001001",
        3,
    )


@dataclass
class Business:
    """An enterprise of the market-regulation registry, as the business registry holds it."""

    credit_code: str
    name: str
    registered_region: str
    registration_status: str
    representative_id_number: str


def a_business(people: People) -> Business:
    """A synthetic Lucheng company whose legal representative is 王建国."""
    return Business(
        credit_code=make_credit_code(
            registration_authority="9",
            category="1",
            region=RegionCode.parse("330302"),
            organisation_code="MA2L7Y1K2",
        ),
        name="温州市鹿城区松台文具有限公司（合成数据）",
        registered_region="330302001002",
        registration_status="active",
        representative_id_number=people.wang.id_number,
    )


#: County codes catalog knows (current or retired); everything else is region_not_found.
KNOWN_REGIONS = {
    "330302": ("鹿城区", "county"),
    "330303": ("龙湾区", "county"),
    "330102": ("上城区", "county"),
}


#: Departments catalog knows; any other id is department_not_found.
KNOWN_DEPARTMENTS = {
    "330302-public_security": ("温州市公安局鹿城区分局", "county", "330302"),
    "330303-public_security": ("温州市公安局龙湾区分局", "county", "330303"),
    "330300-public_security": ("温州市公安局", "city", "330300"),
    "330300-civil_affairs": ("温州市民政局", "city", "330300"),
}


# Time ----------------------------------------------------------------------------------------


class MovableClock:
    """Real time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += dt.timedelta(seconds=seconds)


# The contract double -------------------------------------------------------------------------


def _refusal(status: int, code: str) -> JSONResponse:
    return JSONResponse(
        {"type": f"/problems/{code}", "title": code, "status": status, "code": code},
        status_code=status,
        media_type="application/problem+json",
    )


@dataclass
class ContractDouble:
    """data-exchange-svc's population registry and catalog-svc's region lookup, per contract.

    The exchange side verifies the caller's token with identity-svc's own published keys and
    accepts only identity-svc's service token; it grants ``registered_region`` for
    real-name verification and ``face_template`` (and the region) for face verification.
    """

    people: People
    clock: MovableClock
    #: The business registry, by credit code; tests change it as the registry would.
    businesses: dict[str, Business] = field(default_factory=dict)
    #: identity-svc's published keys, bound once the app has started.
    jwks: JwksSource | None = None
    #: Every exchange request received: (path, body), to prove what was asked and what not.
    exchange_requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    region_lookups: list[str] = field(default_factory=list)
    department_lookups: list[str] = field(default_factory=list)
    #: Account → the ID number identity-svc linked it to at the exchange (one account per
    #: number: a newer link replaces an older one, as the exchange does).
    links: dict[str, str] = field(default_factory=dict)
    granted_fields: dict[str, set[str]] = field(
        default_factory=lambda: {
            "real_name_verification": {"registered_region"},
            "face_verification": {"face_template", "registered_region"},
            "enterprise_representation": {
                "enterprise_name",
                "registration_status",
                "registered_region",
            },
        }
    )

    def __post_init__(self) -> None:
        self.app = FastAPI()
        self.app.post("/exchange/v1/matches")(self._matches)
        self.app.post("/exchange/v1/calls")(self._calls)
        self.app.put("/exchange/v1/citizen-links/{account}")(self._link)
        self.app.get("/catalog/v1/regions/{code}")(self._region)
        self.app.get("/catalog/v1/departments/{department_id}")(self._department)

    def _person(self, id_number: Any) -> Person | None:
        everyone = (self.people.lin, self.people.wang, self.people.chen)
        return next((p for p in everyone if p.id_number == id_number), None)

    async def _caller_refused(self, request: Request) -> JSONResponse | None:
        """Verify the caller's token with identity-svc's published keys. Its times are checked
        against the test's clock: in the test's world every service shares that time."""
        assert self.jwks is not None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return _refusal(401, "unauthenticated")
        keys = {key["kid"]: key for key in (await self.jwks())["keys"]}
        try:
            key = jwt.PyJWK(keys[jwt.get_unverified_header(token)["kid"]])
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[key.algorithm_name],
                audience="onevisit",
                issuer="http://127.0.0.1:8000/identity/v1",
                options={"verify_exp": False, "verify_iat": False},
            )
        except (KeyError, jwt.PyJWTError):
            return _refusal(401, "invalid_token")
        now = self.clock().timestamp()
        if not claims["iat"] - 5 <= now < claims["exp"]:
            return _refusal(401, "token_expired")
        if (claims["typ"], claims["sub"], claims["loa"]) != ("service", "identity-svc", 0):
            return _refusal(403, "no_grant")
        return None

    async def _matches(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.exchange_requests.append(("/exchange/v1/matches", body))
        if refused := await self._caller_refused(request):
            return refused
        resource, purpose = body.get("resource"), body.get("purpose")
        if resource == "business_registration":
            if purpose != "enterprise_representation":
                return _refusal(403, "no_grant")
            business = self.businesses.get(body["subject"]["credit_code"])
            claimed = body["claims"]["legal_representative_id_number"]
            matched = business is not None and business.representative_id_number == claimed
            return JSONResponse({"match": matched, "call_id": str(uuid.uuid4())})
        if resource != "population":
            return _refusal(404, "resource_not_found")
        if purpose != "real_name_verification":
            return _refusal(403, "no_grant")
        person = self._person(body["subject"]["id_number"])
        matched = person is not None and person.name == body["claims"]["name"]
        return JSONResponse({"match": matched, "call_id": str(uuid.uuid4())})

    async def _calls(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.exchange_requests.append(("/exchange/v1/calls", body))
        if refused := await self._caller_refused(request):
            return refused
        resource = body.get("resource")
        if resource not in ("population", "business_registration"):
            return _refusal(404, "resource_not_found")
        if not set(body["fields"]) <= self.granted_fields.get(body.get("purpose"), set()):
            return _refusal(403, "field_not_granted")
        record: dict[str, Any]
        if resource == "business_registration":
            business = self.businesses.get(body["subject"]["credit_code"])
            if business is None:
                return _refusal(404, "subject_not_found")
            record = {
                "enterprise_name": business.name,
                "registration_status": business.registration_status,
                "registered_region": business.registered_region,
            }
        else:
            person = self._person(body["subject"]["id_number"])
            if person is None:
                return _refusal(404, "subject_not_found")
            record = {
                "registered_region": person.registered_region,
                "face_template": person.face_template(),
            }
        return JSONResponse(
            {
                "call_id": str(uuid.uuid4()),
                "resource": resource,
                "fields": {name: record[name] for name in body["fields"]},
                "source_timestamp": "2026-11-01T00:00:00Z",
            }
        )

    async def _link(self, account: str, request: Request) -> JSONResponse:
        body = await request.json()
        self.exchange_requests.append((f"/exchange/v1/citizen-links/{account}", body))
        if refused := await self._caller_refused(request):
            return refused
        if self._person(body.get("id_number")) is None:
            return _refusal(404, "subject_not_found")
        self.links = {a: n for a, n in self.links.items() if n != body["id_number"]}
        self.links[account] = body["id_number"]
        return JSONResponse({"linked": True, "linked_at": "2026-11-26T00:00:00Z"})

    async def _region(self, code: str) -> JSONResponse:
        self.region_lookups.append(code)
        if code not in KNOWN_REGIONS:
            return _refusal(404, "region_not_found")
        name, level = KNOWN_REGIONS[code]
        return JSONResponse(
            {
                "code": code,
                "name": name,
                "level": level,
                "parent_code": code[:4] + "00",
                "ancestors": [],
                "status": "current",
                "successor_code": None,
            }
        )

    async def _department(self, department_id: str) -> JSONResponse:
        self.department_lookups.append(department_id)
        if department_id not in KNOWN_DEPARTMENTS:
            return _refusal(404, "department_not_found")
        name, tier, region = KNOWN_DEPARTMENTS[department_id]
        return JSONResponse(
            {
                "id": department_id,
                "name": name,
                "type": department_id.partition("-")[2],
                "tier": tier,
                "region_code": region,
            }
        )

    def asks(self, path: str) -> list[dict[str, Any]]:
        return [body for asked, body in self.exchange_requests if asked == path]


# Texts ---------------------------------------------------------------------------------------


class SmsOutbox:
    """What the app under test texted: the development sender's file, a JSON object a line."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def messages(self) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def texts_to(self, phone: str) -> list[str]:
        return [message["text"] for message in self.messages() if message["to"] == phone]

    def last_code(self, phone: str) -> str:
        """The code of the latest code text to the phone."""
        codes = [found.group(1) for text in self.texts_to(phone) if (found := CODE.search(text))]
        assert codes, f"no code was texted to {phone[:3]}…"
        return codes[-1]


#: A code text's code (``identity_svc.sms.service.code_text``).
CODE = re.compile(r"验证码是(\d{6})")


# The journey helper ----------------------------------------------------------------------------


class Journey:
    """The steps of the citizen's journey, for tests that need to stand somewhere along it."""

    def __init__(self, client: httpx.AsyncClient, outbox: SmsOutbox) -> None:
        self.client = client
        self.outbox = outbox
        self._next_phone = 13_800_000_000

    def new_phone(self) -> str:
        self._next_phone += 1
        return str(self._next_phone)

    async def ask_code(self, phone: str) -> httpx.Response:
        return await self.client.post("/identity/v1/sms-codes", json={"phone": phone})

    async def register(self, phone: str | None = None, password: str = PASSWORD) -> str:
        """A new account, registered as the app does it: a code texted to the phone, then the
        phone, a password and the code."""
        phone = phone or self.new_phone()
        asked = await self.ask_code(phone)
        assert asked.status_code == 202, asked.text
        response = await self.client.post(
            "/identity/v1/citizens",
            json={"phone": phone, "password": password, "code": self.outbox.last_code(phone)},
        )
        assert response.status_code == 201, response.text
        return phone

    async def login(
        self, phone: str, password: str = PASSWORD, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            "/identity/v1/token",
            data={"grant_type": "password", "username": phone, "password": password},
            headers=headers,
        )

    async def refresh(self, refresh_token: str) -> httpx.Response:
        return await self.client.post(
            "/identity/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        )

    async def signed_in(self) -> dict[str, Any]:
        response = await self.login(await self.register())
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens

    async def real_name(self, access_token: str, person: Person) -> httpx.Response:
        return await self.client.post(
            "/identity/v1/me/real-name",
            json={"name": person.name, "id_number": person.id_number},
            headers=bearer(access_token),
        )

    async def claimed(self, person: Person) -> dict[str, Any]:
        """A new account that claimed the person's real name (the registry matched it): its
        sign-in tokens, at level 1 until a face match binds the claim."""
        tokens = await self.signed_in()
        response = await self.real_name(tokens["access_token"], person)
        assert response.status_code == 200, response.text
        return tokens

    async def face_matched(
        self, access_token: str, person: Person, template: list[float] | None = None
    ) -> httpx.Response:
        """A challenge, then a capture under it: the person's own face unless ``template``."""
        challenge = await self.challenge(access_token)
        assert challenge.status_code == 201, challenge.text
        return await self.verify_face(
            access_token,
            challenge.json()["challenge_id"],
            person.phone_capture() if template is None else template,
        )

    async def bound(self, access_token: str, person: Person) -> dict[str, Any]:
        """The signed-in account binds the person's real name: claimed, then her face matched.
        The face verification's answer: tokens at level 3 (2 once the window has passed)."""
        claimed = await self.real_name(access_token, person)
        assert claimed.status_code == 200, claimed.text
        response = await self.face_matched(access_token, person)
        assert response.status_code == 200, response.text
        verified: dict[str, Any] = response.json()
        return verified

    async def real_named(self, person: Person) -> dict[str, Any]:
        """A new account the person's real name is bound to, as ``bound`` answers."""
        tokens = await self.signed_in()
        return await self.bound(tokens["access_token"], person)

    async def challenge(self, access_token: str) -> httpx.Response:
        return await self.client.post(
            "/identity/v1/me/face/challenges", headers=bearer(access_token)
        )

    async def verify_face(
        self, access_token: str, challenge_id: str, template: list[float]
    ) -> httpx.Response:
        return await self.client.post(
            "/identity/v1/me/face/verifications",
            json={"challenge_id": challenge_id, "template": template},
            headers=bearer(access_token),
        )

    async def jwks(self) -> dict[str, Any]:
        response = await self.client.get("/identity/v1/.well-known/jwks.json")
        assert response.status_code == 200
        document: dict[str, Any] = response.json()
        return document

    async def create_staff(
        self, admin_token: str, phone: str, roles: list[str], dept: str | None
    ) -> httpx.Response:
        body: dict[str, Any] = {"phone": phone, "password": STAFF_PASSWORD, "roles": roles}
        if dept is not None:
            body["dept"] = dept
        return await self.client.post("/identity/v1/staff", json=body, headers=bearer(admin_token))

    async def staff_token(
        self, admin_token: str, phone: str, roles: list[str], dept: str | None
    ) -> str:
        """A new staff account's access token."""
        response = await self.create_staff(admin_token, phone, roles, dept)
        assert response.status_code == 201, response.text
        login = await self.login(phone, STAFF_PASSWORD)
        assert login.status_code == 200, login.text
        token: str = login.json()["access_token"]
        return token

    async def claims(self, token: str, *, check_times: bool = True) -> dict[str, Any]:
        """Verify a token with the published JWKS, as any other service would, and return its
        claims; ``check_times=False`` for tokens minted on a clock moved forward."""
        kid = jwt.get_unverified_header(token)["kid"]
        keys = {key["kid"]: key for key in (await self.jwks())["keys"]}
        key = jwt.PyJWK(keys[kid])
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key.key,
            algorithms=[key.algorithm_name],
            audience="onevisit",
            issuer="http://127.0.0.1:8000/identity/v1",
            options={"verify_exp": check_times, "verify_iat": check_times},
        )
        return claims


# Fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="identity",
        service_dir=Path(__file__).resolve().parents[1],
        metadata=Base.metadata,
        settings_class=IdentitySettings,
        create_app=create_app,
        # Cheap argon2 parameters: the tests check the rules, not the work factor.
        settings_overrides={
            "argon2_time_cost": 1,
            "argon2_memory_kib": 256,
            "argon2_parallelism": 1,
            # The verifier's revocation list follows the database closely: tests wait less.
            "revocation_poll_seconds": 0.05,
        },
    )


@pytest.fixture
def people() -> People:
    return People()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def contracts(people: People, clock: MovableClock) -> ContractDouble:
    return ContractDouble(people, clock)


@pytest.fixture
def business(contracts: ContractDouble, people: People) -> Business:
    """The company of ``a_business``, in the registry."""
    company = a_business(people)
    contracts.businesses[company.credit_code] = company
    return company


@pytest.fixture
def identity_settings(settings: ServiceSettings) -> IdentitySettings:
    assert isinstance(settings, IdentitySettings)
    return settings


FromAddress = Callable[[str], dict[str, str]]


@pytest.fixture
def from_address(identity_settings: IdentitySettings) -> FromAddress:
    """The headers of a client's request at an address, as the gateway forwards it (signed)."""
    return lambda address: forwarded_by_gateway(identity_settings, address)


@asynccontextmanager
async def started_app(
    settings: IdentitySettings, clock: MovableClock, contracts: ContractDouble
) -> AsyncIterator[FastAPI]:
    """identity-svc with its lifespan running, on the test's clock, its calls through the
    gateway reaching the contract double."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        application.state.service.runtime.clock = clock
        contracts.jwks = application.state.service.runtime.keys.jwks_document
        await application.state.service.http.aclose()
        application.state.service.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=contracts.app), base_url="http://gateway"
        )
        yield application


@pytest_asyncio.fixture(loop_scope="session")
async def app(
    identity_settings: IdentitySettings, clock: MovableClock, contracts: ContractDouble
) -> AsyncIterator[FastAPI]:
    """Overrides the kit's ``app``: no test JWKS, so identity-svc verifies its own real tokens;
    calls through the gateway reach the contract double."""
    async with started_app(identity_settings, clock, contracts) as application:
        yield application


AppStarter = Callable[[IdentitySettings], AbstractAsyncContextManager[FastAPI]]


@pytest.fixture
def start_app(clock: MovableClock, contracts: ContractDouble) -> AppStarter:
    """Start another identity-svc app (e.g. with other settings) wired like ``app``."""

    def start(settings: IdentitySettings) -> AbstractAsyncContextManager[FastAPI]:
        return started_app(settings, clock, contracts)

    return start


@pytest.fixture
def outbox(identity_settings: IdentitySettings) -> SmsOutbox:
    return SmsOutbox(identity_settings.sms_outbox_path)


@pytest.fixture
def journey(client: httpx.AsyncClient, outbox: SmsOutbox) -> Journey:
    return Journey(client, outbox)


ResendAllowed = Callable[[str], Awaitable[None]]


@pytest.fixture
def resend_allowed(app: FastAPI) -> ResendAllowed:
    """Move the codes asked for a phone into the past by the resend interval, so that it may
    ask for another: the codes, not the clock, since tokens are checked on the real clock."""

    async def allow(phone: str) -> None:
        runtime = app.state.service.runtime
        interval = dt.timedelta(seconds=runtime.settings.sms_resend_interval_seconds)
        phone_hash = runtime.personal_data.lookup_hash("phone", phone)
        async with app.state.service.database.sessionmaker.begin() as session:
            for code in await session.scalars(
                select(SmsCode).where(SmsCode.phone_hash == phone_hash)
            ):
                code.created_at -= interval

    return allow


@pytest.fixture
async def platform_admin(
    app: FastAPI, identity_settings: IdentitySettings, journey: Journey
) -> str:
    """The seeded first platform administrator's access token."""
    configured = identity_settings.model_copy(
        update={"seed_admin_phone": ADMIN_PHONE, "seed_admin_password": SecretStr(STAFF_PASSWORD)}
    )
    for _ in range(2):  # idempotent
        async with app.state.service.database.sessionmaker.begin() as session:
            await seed(session, configured)
    response = await journey.login(ADMIN_PHONE, STAFF_PASSWORD)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token
