"""Fixtures of case-svc's tests, and contract doubles of catalog-svc and identity-svc.

The catalog double is NOT catalog-svc: it serves a few hand-written items and resolves the
responsible department from the region code alone, in exactly the shapes and problem codes the
platform brief fixes for the two reads case-svc makes:

- ``GET /catalog/v1/items/{item_code}`` → the item, or 404 ``item_not_found``;
- ``GET /catalog/v1/items/{item_code}/handler?region=`` → ``{item_code, region_code, department:
  {id, name, type, tier, region_code}}``, or 404 ``item_not_found`` / ``no_responsible_department``,
  422 ``invalid_region_code`` / ``item_not_offered_in_region``.

The identity double is NOT identity-svc: it knows the verified identities of a few synthetic
people and one enterprise, and answers the one read case-svc makes, with the caller's token:

- ``GET /identity/v1/me/verified-identity`` → ``{subject: person, name, id_number}`` for a
  citizen's token (the principal's, for a delegate's), ``{subject: enterprise, credit_code,
  enterprise_name}`` for an enterprise's; 403 ``insufficient_assurance`` for a citizen it holds
  no verified real name of (``step`` face when her account holds a real-name claim no face
  match bound yet, else real_name), 404 ``account_not_found`` for an unknown enterprise.

The exchange double is NOT data-exchange-svc: it holds the electronic certificates of a few of
those people and the company, grants case-svc what the exchange's seed grants it, and answers
the one call case-svc makes, under case-svc's own service token (which the identity double
grants at ``POST /identity/v1/token``, client credentials):

- ``POST /exchange/v1/calls`` on ``electronic_certificate`` → ``{call_id, resource, fields:
  {field: [one value per certificate]}, source_timestamp, receipt}`` (a many-row resource);
  404 ``subject_not_found`` for a subject it holds no certificate of; 403 ``no_grant`` /
  ``purpose_not_allowed`` / ``field_not_granted`` past the grant; 401 without case-svc's token.
  ``down`` makes it unreachable (``"unreachable"``: no connection) or failing (``"failing"``:
  the gateway's 503).

The real services behind a real gateway are exercised by the end-to-end journeys (tests/ at the
repository root). Here the doubles are mounted in process with ``httpx.ASGITransport`` as the
app's pooled client (``app.state.service.http``, where the gateway client would be), picked by
path prefix as the gateway would; each records what it is asked, and the catalog double can hold
handler answers behind a barrier so that tests line concurrent submissions up on purpose.
"""

import asyncio
import base64
import copy
import datetime as dt
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from aiobotocore.session import get_session
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from case_svc.main import create_app
from case_svc.models import Base
from case_svc.settings import CaseSettings
from onevisit_dev.platform import free_port
from servicekit.credit_code import make_credit_code
from servicekit.regions import InvalidRegionCode, RegionCode, RegionLevel
from servicekit.resident_id import make_resident_id
from servicekit.service_tokens import ClientCredentials
from servicekit.testing import ServiceUnderTest, bearer


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(
        name="case",
        service_dir=Path(__file__).resolve().parents[1],
        metadata=Base.metadata,
        settings_class=CaseSettings,
        create_app=create_app,
        # The deadline watch runs when a test says so, on the test's clock.
        settings_overrides={"deadline_watch_seconds": 0},
    )


#: Qingnianfang community, Songtai sub-district, Lucheng: where the demo citizen lives.
SONGTAI_COMMUNITY = "330302026003"


class Clock:
    """The app's clock, held still: case numbers and deadlines depend on the date."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


#: 10:00 in Wenzhou on 26 November 2026, a Thursday and a working day.
A_WORKING_MORNING = dt.datetime(2026, 11, 26, 2, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock(app: FastAPI) -> Clock:
    fixed = Clock(A_WORKING_MORNING)
    app.state.service.clock = fixed
    return fixed


ID_CARD_LOSS = "public_security.id_card_loss_report"
SOCIAL_CARD_LOSS = "human_resources_social_security.social_card_loss_report"
FUND_WITHDRAWAL = "housing_provident_fund.withdrawal"
LICENCE_CHANGE = "market_regulation.enterprise_change"
RETIRED_ITEM = "public_security.paper_residence_certificate"
LICENCE_REPLACEMENT = "traffic_police.driving_licence_replacement"
HOUSEHOLD_EXTRACT = "public_security.household_register_extract"

#: The applicant's own name and ID number, as the catalog's shared fields mark them.
APPLICANT_NAME: dict[str, Any] = {
    "type": "string",
    "maxLength": 50,
    "x-prefill": {"resource": "population", "field": "name"},
    "x-applicant": "name",
}
APPLICANT_ID_NUMBER: dict[str, Any] = {
    "type": "string",
    "pattern": "^[0-9]{17}[0-9X]$",
    "x-prefill": {"resource": "population", "field": "id_number"},
    "x-applicant": "id_number",
}
CONTACT_PHONE: dict[str, Any] = {"type": "string", "pattern": "^1[3-9][0-9]{9}$"}

LOSS_REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "居民身份证挂失申报",
    "type": "object",
    "required": ["name", "id_number", "loss_reason", "loss_date", "contact_phone"],
    "additionalProperties": False,
    "properties": {
        "name": APPLICANT_NAME,
        "id_number": APPLICANT_ID_NUMBER,
        "contact_phone": CONTACT_PHONE,
        "loss_reason": {
            "type": "string",
            "oneOf": [
                {"const": "lost", "title": "遗失"},
                {"const": "stolen", "title": "被盗"},
                {"const": "other", "title": "其他"},
            ],
        },
        "loss_date": {"type": "string", "format": "date"},
        "loss_place": {"type": "string", "maxLength": 200},
    },
}

#: A form with fields a data resource fills (``x-prefill``) beside the applicant's identity.
HOUSEHOLD_EXTRACT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "户籍证明",
    "type": "object",
    "required": ["name", "id_number", "registered_address", "contact_phone", "use"],
    "additionalProperties": False,
    "properties": {
        "name": APPLICANT_NAME,
        "id_number": APPLICANT_ID_NUMBER,
        "registered_address": {
            "type": "string",
            "maxLength": 200,
            "x-prefill": {"resource": "population", "field": "registered_address"},
        },
        "birth_date": {
            "type": "string",
            "format": "date",
            "x-prefill": {"resource": "population", "field": "birth_date"},
        },
        # Her own number under another name, as a driving licence's number is its holder's.
        "licence_number": {
            "type": "string",
            "x-prefill": {"resource": "population", "field": "id_number"},
        },
        "contact_phone": CONTACT_PHONE,
        "use": {"type": "string", "enum": ["school", "employment", "other"]},
    },
}

FUND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["reason", "amount"],
    "properties": {
        "reason": {"type": "string", "enum": ["house_purchase", "rent", "retirement"]},
        "amount": {"type": "number", "exclusiveMinimum": 0},
    },
}

SOCIAL_CARD_LOSS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "社会保障卡挂失",
    "type": "object",
    "required": ["name", "id_number", "contact_phone"],
    "additionalProperties": False,
    "properties": {
        "name": APPLICANT_NAME,
        "id_number": APPLICANT_ID_NUMBER,
        "contact_phone": CONTACT_PHONE,
    },
}

LICENCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["enterprise_name", "unified_social_credit_code", "change"],
    "additionalProperties": False,
    "properties": {
        "enterprise_name": {"type": "string", "maxLength": 100, "x-applicant": "enterprise_name"},
        "unified_social_credit_code": {
            "type": "string",
            "pattern": "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$",
            "x-applicant": "credit_code",
        },
        "change": {"type": "string", "enum": ["address", "legal_representative", "name"]},
    },
}


def _item(
    code: str,
    name: str,
    *,
    department_type: str,
    tier: str,
    subject: str,
    mode: str,
    min_loa: int,
    promised: int,
    schema: dict[str, Any],
    status: str = "published",
    decision_approval: str = "single",
    issues_certificate: str | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "name": name,
        "aliases": [],
        "keywords": [],
        "department_type": department_type,
        "handling_tier": tier,
        "subject": subject,
        "processing_mode": mode,
        "min_loa": min_loa,
        "visits": 0,
        "legal_working_days": max(promised, 20),
        "promised_working_days": promised,
        "fee": 0,
        "materials": [],
        "form_schema": schema,
        "decision_approval": decision_approval,
        "issues_certificate": issues_certificate,
        "version": 3,
        "status": status,
    }


ITEMS: dict[str, dict[str, Any]] = {
    item["code"]: item
    for item in (
        _item(
            ID_CARD_LOSS,
            "居民身份证挂失申报",
            department_type="public_security",
            tier="county",
            subject="person",
            mode="instant",
            min_loa=3,
            promised=0,
            schema=LOSS_REPORT_SCHEMA,
        ),
        _item(
            SOCIAL_CARD_LOSS,
            "社会保障卡挂失",
            department_type="human_resources_social_security",
            tier="county",
            subject="person",
            mode="instant",
            min_loa=2,
            promised=0,
            schema=SOCIAL_CARD_LOSS_SCHEMA,
        ),
        _item(
            FUND_WITHDRAWAL,
            "住房公积金提取",
            department_type="housing_provident_fund",
            tier="city",
            subject="person",
            mode="review",
            min_loa=2,
            promised=3,
            schema=FUND_SCHEMA,
            decision_approval="second_person",
        ),
        _item(
            LICENCE_CHANGE,
            "营业执照变更登记",
            department_type="market_regulation",
            tier="county",
            subject="enterprise",
            mode="review",
            min_loa=2,
            promised=5,
            schema=LICENCE_SCHEMA,
        ),
        _item(
            LICENCE_REPLACEMENT,
            "机动车驾驶证补领",
            department_type="traffic_police",
            tier="city",
            subject="person",
            mode="review",
            min_loa=2,
            promised=1,
            schema={"type": "object", "properties": {"mailing_address": {"type": "string"}}},
            issues_certificate="driving_licence",
        ),
        _item(
            HOUSEHOLD_EXTRACT,
            "户籍证明开具",
            department_type="public_security",
            tier="county",
            subject="person",
            mode="review",
            min_loa=2,
            promised=3,
            schema=HOUSEHOLD_EXTRACT_SCHEMA,
        ),
        _item(
            RETIRED_ITEM,
            "临时身份证明（已停办）",
            department_type="public_security",
            tier="county",
            subject="person",
            mode="instant",
            min_loa=1,
            promised=0,
            schema={"type": "object"},
            status="withdrawn",
        ),
    )
}

DEPARTMENT_NAMES = {
    "330302-public_security": "温州市公安局鹿城区分局",
    "330302-human_resources_social_security": "温州市鹿城区人力资源和社会保障局",
    "330303-public_security": "温州市公安局龙湾区分局",
    "330300-housing_provident_fund": "温州市住房公积金管理中心",
    "330300-traffic_police": "温州市公安局交通警察支队",
    "330302-market_regulation": "温州市鹿城区市场监督管理局",
    "330300-civil_affairs": "温州市民政局",
    "330300-natural_resources": "温州市自然资源和规划局",
    "330100-housing_provident_fund": "杭州住房公积金管理中心",
}

_TIERS = {"province": RegionLevel.PROVINCE, "city": RegionLevel.CITY, "county": RegionLevel.COUNTY}


def _problem(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"/problems/{code}",
            "title": code,
            "status": status,
            "code": code,
            "detail": detail,
        },
        status_code=status,
        media_type="application/problem+json",
    )


# The verified identities (synthetic) ----------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A citizen's account and the name and ID number her real-name verification bound."""

    account: str
    name: str
    id_number: str


def _id_number(region: str, born: dt.date, *, check: str | None = None) -> str:
    """A valid-form ID number; with ``check``, the first of the day ending in it."""
    for sequence in range(1, 1000):
        number = make_resident_id(RegionCode.parse(region), born, sequence)
        if check is None or number.endswith(check):
            return number
    raise AssertionError(f"no number ends in {check}")


#: The demo citizen, her grandson (her delegate) and a neighbour.
LIN = Person("citizen-lin", "林秀英", "330302195203140248")
SON = Person("citizen-son", "林浩宇", _id_number("330302", dt.date(1998, 7, 16)))
#: Her number ends in X: the check character some type in lower case.
CHEN = Person("citizen-chen", "陈静", _id_number("330302", dt.date(1990, 2, 28), check="X"))


@dataclass(frozen=True)
class Company:
    credit_code: str
    name: str


def _credit_code(organisation_code: str) -> str:
    return make_credit_code(
        registration_authority="9",
        category="1",
        region=RegionCode.parse("330302"),
        organisation_code=organisation_code,
    )


#: The grandson's company, and another one.
HAOYU = Company(_credit_code("MA1P3D871"), "温州市鹿城区浩宇网络科技有限公司（合成数据）")
SONGTAI = Company(_credit_code("MA2L7Y1K2"), "温州市鹿城区松台文具有限公司（合成数据）")


VALID_FORMS: dict[str, dict[str, Any]] = {
    ID_CARD_LOSS: {
        "name": LIN.name,
        "id_number": LIN.id_number,
        "loss_reason": "lost",
        "loss_date": "2026-11-25",
        "loss_place": "温州市鹿城区松台街道",
        "contact_phone": "13957700000",
    },
    SOCIAL_CARD_LOSS: {
        "name": LIN.name,
        "id_number": LIN.id_number,
        "contact_phone": "13957700000",
    },
    FUND_WITHDRAWAL: {"reason": "rent", "amount": 6000},
    LICENCE_REPLACEMENT: {"mailing_address": "温州市鹿城区松台街道（合成数据）"},
    LICENCE_CHANGE: {
        "enterprise_name": HAOYU.name,
        "unified_social_credit_code": HAOYU.credit_code,
        "change": "address",
    },
    RETIRED_ITEM: {},
}


#: A one-issue bundle of the double's items (synthetic): a move within Wenzhou, four items at
#: two tiers, the social card's only for whoever answers that it was lost.
MOVE_BUNDLE = "household_move"
BUNDLES: dict[str, dict[str, Any]] = {
    MOVE_BUNDLE: {
        "name": "迁居一件事（合成数据）",
        "items": [HOUSEHOLD_EXTRACT, FUND_WITHDRAWAL, LICENCE_REPLACEMENT, SOCIAL_CARD_LOSS],
        "conditions": {SOCIAL_CARD_LOSS: "social_card_lost"},
    }
}
#: The merged form of ``MOVE_BUNDLE``, each shared field once, her identity left out.
MOVE_FORM: dict[str, Any] = {
    "registered_address": "温州市鹿城区松台街道（合成数据）",
    "contact_phone": "13957700000",
    "use": "other",
    "reason": "rent",
    "amount": 6000,
    "mailing_address": "温州市鹿城区松台街道（合成数据）",
    "social_card_lost": True,
}


class CatalogDouble:
    items = ITEMS
    loss_report = ID_CARD_LOSS
    social_card_loss = SOCIAL_CARD_LOSS
    fund_withdrawal = FUND_WITHDRAWAL
    licence_change = LICENCE_CHANGE
    licence_replacement = LICENCE_REPLACEMENT
    retired_item = RETIRED_ITEM
    household_extract = HOUSEHOLD_EXTRACT

    @staticmethod
    def valid_form(item_code: str) -> dict[str, Any]:
        """The item's form as the demo citizen (or the grandson's company) fills it in."""
        return copy.deepcopy(VALID_FORMS.get(item_code, {}))

    @staticmethod
    def form_without_applicant(item_code: str) -> dict[str, Any]:
        """The form with the applicant's identity left out, for case-svc to fill in."""
        properties = ITEMS[item_code]["form_schema"].get("properties", {})
        return {
            field: value
            for field, value in VALID_FORMS.get(item_code, {}).items()
            if "x-applicant" not in properties.get(field, {})
        }

    @staticmethod
    def department_region(item_code: str, region: str) -> str | None:
        """The region of the department handling ``item_code`` for ``region``, if any."""
        try:
            code = RegionCode.parse(region)
        except InvalidRegionCode:
            return None
        if item_code not in ITEMS:
            return None
        tier = _TIERS[ITEMS[item_code]["handling_tier"]]
        return code.at_level(tier).official if code.level >= tier else None

    def __init__(self) -> None:
        self.requested: list[str] = []
        #: The headers of each application case-svc filed through the gateway in its region.
        self.forwarded: list[dict[str, str]] = []
        #: When set, every handler request waits here: the tests line concurrent submissions up.
        self.handler_barrier: asyncio.Barrier | None = None
        #: When set, every handler request waits until it is opened: a request held in flight.
        self.handler_gate: asyncio.Event | None = None
        #: Set when a request reaches the gate.
        self.handler_entered = asyncio.Event()
        #: Item code → (status, problem code): the next application for that item filed
        #: through the gateway is refused so, once (its instance out of reach, or refusing it).
        self.refuse_filing: dict[str, tuple[int, str]] = {}
        #: A draft application whose next submission through the gateway finds its instance
        #: out of reach (503), once.
        self.refuse_draft_submission: str | None = None
        self.app = self._build()

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def record(request: Request, call_next: Any) -> Any:
            self.requested.append(request.url.path)
            return await call_next(request)

        @app.get("/catalog/v1/items/{item_code}")
        async def item(item_code: str) -> JSONResponse:
            if item_code not in ITEMS:
                return _problem(404, "item_not_found", f"no item {item_code}")
            return JSONResponse(ITEMS[item_code])

        @app.get("/catalog/v1/items/{item_code}/handler")
        async def handler(item_code: str, region: str) -> JSONResponse:
            if self.handler_barrier is not None:
                # Bounded, so that a test whose requests never meet fails instead of hanging.
                async with asyncio.timeout(5):
                    await self.handler_barrier.wait()
            if self.handler_gate is not None:
                self.handler_entered.set()
                async with asyncio.timeout(5):
                    await self.handler_gate.wait()
            if item_code not in ITEMS:
                return _problem(404, "item_not_found", f"no item {item_code}")
            try:
                code = RegionCode.parse(region)
            except InvalidRegionCode:
                return _problem(422, "invalid_region_code", "not a region code")
            if not code.prefix.startswith("33"):
                return _problem(422, "item_not_offered_in_region", "offered in Zhejiang only")
            entry = ITEMS[item_code]
            seat = self.department_region(item_code, region)
            if seat is None:
                return _problem(404, "no_responsible_department", f"no department for {code}")
            department_id = f"{seat}-{entry['department_type']}"
            return JSONResponse(
                {
                    "item_code": item_code,
                    "region_code": code.official,
                    "department": {
                        "id": department_id,
                        "name": DEPARTMENT_NAMES.get(department_id, department_id),
                        "type": entry["department_type"],
                        "tier": entry["handling_tier"],
                        "region_code": seat,
                    },
                }
            )

        @app.post("/catalog/v1/bundles/{code}/plan")
        async def plan(code: str, request: Request) -> JSONResponse:
            if code not in BUNDLES:
                return _problem(404, "bundle_not_found", f"no bundle {code}")
            body = await request.json()
            bundle, answers = BUNDLES[code], body.get("answers", {})
            applying, left_out = [], []
            for item_code in bundle["items"]:
                entry = ITEMS[item_code]
                condition = bundle["conditions"].get(item_code)
                if condition is not None and answers.get(condition) is not True:
                    left_out.append(
                        {
                            "item_code": item_code,
                            "item_name": entry["name"],
                            "reason": "condition_not_met",
                        }
                    )
                    continue
                seat = self.department_region(item_code, body["region"])
                assert seat is not None
                department_id = f"{seat}-{entry['department_type']}"
                applying.append(
                    {
                        "item_code": item_code,
                        "item_name": entry["name"],
                        "department": {
                            "id": department_id,
                            "name": DEPARTMENT_NAMES.get(department_id, department_id),
                            "type": entry["department_type"],
                            "tier": entry["handling_tier"],
                            "region_code": seat,
                        },
                    }
                )
            return JSONResponse(
                {
                    "bundle_code": code,
                    "bundle_name": bundle["name"],
                    "region_code": RegionCode.parse(body["region"]).official,
                    "applying": applying,
                    "left_out": left_out,
                }
            )

        @app.get("/catalog/v1/departments/{department_id}")
        async def department(department_id: str) -> JSONResponse:
            if department_id not in DEPARTMENT_NAMES:
                return _problem(404, "department_not_found", "no such department")
            seat, kind = department_id.split("-", 1)
            tier = {2: "province", 4: "city"}.get(len(seat.rstrip("0")) // 2 * 2, "county")
            return JSONResponse(
                {
                    "id": department_id,
                    "name": DEPARTMENT_NAMES[department_id],
                    "type": kind,
                    "tier": tier,
                    "region_code": seat,
                }
            )

        return app


class IdentityDouble:
    """identity-svc's verified identities, per contract: whose is told by the caller's token
    (verified by case-svc before it is forwarded; read here)."""

    lin, son, chen = LIN, SON, CHEN
    haoyu, songtai = HAOYU, SONGTAI

    def __init__(self) -> None:
        self.people: dict[str, Person] = {person.account: person for person in (LIN, SON, CHEN)}
        self.companies: dict[str, Company] = {
            company.credit_code: company for company in (HAOYU, SONGTAI)
        }
        #: The claims of every token it was asked with: (sub, act sub or None).
        self.asked: list[tuple[str, str | None]] = []
        #: When set, every answer is this status (identity-svc failing).
        self.failing_with: int | None = None
        #: Citizens whose accounts hold a real-name claim and no binding: never bound, or
        #: their real name taken over by a later face match on another account.
        self.claimed_only: set[str] = set()
        #: Accounts whose sessions ended since their tokens were issued (a logout, a take-over):
        #: identity-svc refuses those tokens, which the gateway may not have heard of yet.
        self.revoked: set[str] = set()
        #: The service tokens it granted case-svc (client credentials).
        self.service_tokens: list[str] = []
        self.app = FastAPI()
        self.app.get("/identity/v1/me/verified-identity")(self._verified_identity)
        self.app.post("/identity/v1/token")(self._client_credentials)

    async def _client_credentials(self, request: Request) -> JSONResponse:
        """case-svc's own token, for its client id and secret (HTTP Basic)."""
        form = await request.form()
        expected = "Basic " + base64.b64encode(f"{CASE_SVC}:{CASE_SVC_SECRET}".encode()).decode()
        if (
            form.get("grant_type") != "client_credentials"
            or request.headers.get("authorization") != expected
        ):
            return _problem(401, "invalid_client", "unknown client or wrong secret")
        token = f"service-token-{len(self.service_tokens) + 1}"
        self.service_tokens.append(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 600})

    async def _verified_identity(self, request: Request) -> JSONResponse:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = jwt.decode(token, options={"verify_signature": False})
        self.asked.append((claims["sub"], (claims.get("act") or {}).get("sub")))
        if self.failing_with is not None:
            return _problem(self.failing_with, "internal_error", "identity-svc is failing")
        if claims["sub"] in self.revoked:
            return _problem(401, "token_revoked", "its session has ended")
        if claims["typ"] == "enterprise":
            company = self.companies.get(claims["sub"])
            if company is None:
                return _problem(404, "account_not_found", "no such enterprise")
            return JSONResponse(
                {
                    "subject": "enterprise",
                    "credit_code": company.credit_code,
                    "enterprise_name": company.name,
                }
            )
        person = self.people.get(claims["sub"])
        if person is None:
            refusal = _problem(403, "insufficient_assurance", "this needs a verified real name")
            return JSONResponse(
                {
                    **json.loads(refusal.body),
                    "required_loa": 2,
                    "current_loa": claims["loa"],
                    "step": "face" if claims["sub"] in self.claimed_only else "real_name",
                },
                status_code=403,
                media_type="application/problem+json",
            )
        return JSONResponse(
            {"subject": "person", "name": person.name, "id_number": person.id_number}
        )


# The exchange's certificate registry (synthetic) ------------------------------------------------

#: case-svc's OAuth client, as the identity seed registers it.
CASE_SVC = "case-svc"
CASE_SVC_SECRET = "case-svc-secret-for-the-tests-0123456789"
#: What the exchange's seed grants case-svc on the certificate registry.
GRANTED_FIELDS = (
    "certificate_type",
    "certificate_name",
    "certificate_number",
    "issuing_department",
    "valid_from",
    "valid_until",
    "certificate_status",
)
GRANTED_PURPOSES = ("case_review",)
#: What the exchange's seed grants case-svc for pre-fill (purpose case_prefill, her consent too).
PREFILL_PURPOSE = "case_prefill"
PREFILL_GRANTED_FIELDS = ("registered_address", "registered_region", "birth_date")


@dataclass(frozen=True)
class Certificate:
    certificate_type: str
    certificate_name: str
    certificate_number: str
    holder_name: str
    issuing_department: str
    valid_from: str
    valid_until: str | None
    certificate_status: str


#: Lin's driving licence and senior citizen card (valid on the tests' day, 26 November 2026),
#: a teacher's certificate that expired and a physician's licence revoked; Chen's licence; the
#: grandson's company's business licence. The grandson himself holds none.
LIN_LICENCE = Certificate(
    "driving_licence",
    "机动车驾驶证",
    "330319242996",
    LIN.name,
    "330300-traffic_police",
    "2022-03-14",
    "2032-03-14",
    "valid",
)
LIN_SENIOR_CARD = Certificate(
    "senior_citizen_card",
    "老年人优待证",
    "33030213787894",
    LIN.name,
    "330302-civil_affairs",
    "2020-02-18",
    None,
    "valid",
)
LIN_EXPIRED = Certificate(
    "teacher_qualification",
    "教师资格证",
    "20143302012000123",
    LIN.name,
    "330300-education",
    "2014-09-01",
    "2024-08-31",
    "valid",
)
LIN_REVOKED = Certificate(
    "physician_practising",
    "医师执业证书",
    "110330302000456",
    LIN.name,
    "33-health",
    "2019-05-20",
    "2029-05-19",
    "revoked",
)
CHEN_LICENCE = Certificate(
    "driving_licence",
    "机动车驾驶证",
    "330386772934",
    CHEN.name,
    "330300-traffic_police",
    "2022-07-07",
    None,
    "valid",
)
HAOYU_LICENCE = Certificate(
    "business_licence",
    "营业执照",
    HAOYU.credit_code,
    HAOYU.name,
    "330302-market_regulation",
    "2021-03-01",
    None,
    "valid",
)


class ExchangeDouble:
    """data-exchange-svc's certificate registry, per contract: case-svc's calls, answered about
    the subject they name, with a receipt each."""

    lin_licence, lin_senior_card = LIN_LICENCE, LIN_SENIOR_CARD
    lin_expired, lin_revoked = LIN_EXPIRED, LIN_REVOKED
    chen_licence, haoyu_licence = CHEN_LICENCE, HAOYU_LICENCE

    def __init__(self, identity: IdentityDouble) -> None:
        self.identity = identity
        self.holdings: dict[str, tuple[Certificate, ...]] = {
            LIN.id_number: (LIN_LICENCE, LIN_SENIOR_CARD, LIN_EXPIRED, LIN_REVOKED),
            CHEN.id_number: (CHEN_LICENCE,),
            HAOYU.credit_code: (HAOYU_LICENCE,),
        }
        #: Each call's body and the token it came with.
        self.calls: list[tuple[dict[str, Any], str]] = []
        #: ``"unreachable"``: no connection; ``"failing"``: the gateway's 503.
        self.down: str | None = None
        #: Service tokens it refuses although identity-svc granted them (revoked, expired).
        self.refused_tokens: set[str] = set()
        #: Each publication's body and the token it came with; and the answers given, by
        #: (type, number): the holder's identifier and the answer.
        self.publications: list[tuple[dict[str, Any], str]] = []
        self.published: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        #: When set, every call waits here once recorded: the tests line concurrent reads up.
        self.barrier: asyncio.Barrier | None = None
        self.app = FastAPI()
        #: The population registry's records pre-fill reads: by ID number.
        self.population: dict[str, dict[str, str]] = {
            LIN.id_number: {
                "registered_address": "浙江省温州市鹿城区松台街道青年坊（合成数据）",
                "birth_date": "1952-03-14",
            }
        }
        #: The citizens' live consents to pre-fill reads: (draft, department, resource, field),
        #: each with its id.
        self.prefill_consents: dict[tuple[str, str, str, str], str] = {}
        self.app.post("/exchange/v1/calls")(self._call)
        self.app.post("/exchange/v1/certificates")(self._publish)

    def consent_to_prefill(self, draft_no: str, department: str, fields: list[str]) -> str:
        """What her ``POST /exchange/v1/me/consents`` to the draft records; its id."""
        consent_id = str(uuid.uuid4())
        for name in fields:
            self.prefill_consents[(draft_no, department, "population", name)] = consent_id
        return consent_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.down == "unreachable":
            raise httpx.ConnectError("data-exchange-svc is not listening")
        await self.app(scope, receive, send)

    async def _call(self, request: Request) -> JSONResponse:
        if self.down == "failing":
            return _problem(503, "upstream_unavailable", "no instance of exchange answers")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        body = await request.json()
        self.calls.append((body, token))
        if self.barrier is not None:
            # Bounded, so that a test whose calls never meet fails instead of hanging.
            async with asyncio.timeout(5):
                await self.barrier.wait()
        if token not in self.identity.service_tokens or token in self.refused_tokens:
            return _problem(401, "invalid_token", "not a token of the platform's")
        if body["purpose"] == PREFILL_PURPOSE:
            return self._prefill(body)
        if body["resource"] != "electronic_certificate":
            return _problem(403, "no_grant", "case-svc holds no grant on it")
        if body["purpose"] not in GRANTED_PURPOSES:
            return _problem(403, "purpose_not_allowed", "not a purpose of the grant")
        if set(body["fields"]) - set(GRANTED_FIELDS):
            return _problem(403, "field_not_granted", "a field the grant does not cover")
        subject = body["subject"]
        held = self.holdings.get(subject.get("id_number") or subject.get("credit_code") or "")
        if not held:
            return _problem(404, "subject_not_found", "no such subject")
        call_id = str(uuid.uuid4())
        seq = len(self.calls)
        return JSONResponse(
            {
                "call_id": call_id,
                "resource": body["resource"],
                "fields": {
                    name: [getattr(certificate, name) for certificate in held]
                    for name in body["fields"]
                },
                "source_timestamp": "2026-11-01T00:00:00Z",
                "receipt": {
                    "seq": seq,
                    "leaf_index": seq - 1,
                    "entry": {
                        "seq": seq,
                        "at": "2026-11-26T02:00:00.000000+00:00",
                        "call_id": call_id,
                        "kind": "call",
                        "consumer": CASE_SVC,
                        "actor": CASE_SVC,
                        "resource": body["resource"],
                        "fields": body["fields"],
                        "purpose": body["purpose"],
                        "case_id": body.get("case_id"),
                        "subject_hash": "ab" * 32,
                        "outcome": "allowed",
                        "code": None,
                    },
                    "tree_head": {
                        "tree_size": seq,
                        "root_hash": "cd" * 32,
                        "timestamp": "2026-11-26T02:00:01Z",
                        "signature": "c2lnbmVk",
                        "key_id": "ledger-test",
                    },
                },
            }
        )

    def _prefill(self, body: dict[str, Any]) -> JSONResponse:
        """A read on the citizen's behalf: refused without her consent to the draft, for the
        department case-svc names, covering every field."""
        if body["resource"] != "population" or set(body["fields"]) - set(PREFILL_GRANTED_FIELDS):
            return _problem(403, "field_not_granted", "a field the grant does not cover")
        department, draft_no = body.get("for_department"), body.get("case_id")
        missing = [
            name
            for name in body["fields"]
            if (draft_no, department, "population", name) not in self.prefill_consents
        ]
        if missing:
            return _problem(403, "consent_required", "her consent to the draft is needed")
        record = self.population.get(body["subject"].get("id_number", ""))
        if record is None:
            return _problem(404, "subject_not_found", "no such subject")
        call_id = str(uuid.uuid4())
        seq = len(self.calls)
        return JSONResponse(
            {
                "call_id": call_id,
                "resource": "population",
                "provider_department_type": "public_security",
                "consents": sorted(
                    {
                        self.prefill_consents[(draft_no, department, "population", name)]
                        for name in body["fields"]
                    }
                ),
                "fields": {name: record[name] for name in body["fields"]},
                "source_timestamp": "2026-11-01T00:00:00Z",
                "receipt": {
                    "seq": seq,
                    "leaf_index": seq - 1,
                    "entry": {
                        "seq": seq,
                        "call_id": call_id,
                        "consumer": department,
                        "actor": CASE_SVC,
                        "purpose": PREFILL_PURPOSE,
                        "case_id": draft_no,
                        "outcome": "allowed",
                    },
                },
            }
        )

    async def _publish(self, request: Request) -> JSONResponse:
        """A publication on an issuer's behalf, per the exchange's contract: case-svc may
        publish for a department of a type that issues the certificate; a repeat for the same
        holder answers the same, the number held by another holder is refused."""
        if self.down == "failing":
            return _problem(503, "upstream_unavailable", "no instance of exchange answers")
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        body = await request.json()
        self.publications.append((body, token))
        if token not in self.identity.service_tokens or token in self.refused_tokens:
            return _problem(401, "invalid_token", "not a token of the platform's")
        issuers = {
            "driving_licence": "traffic_police",
            "food_business_licence": "market_regulation",
        }
        department = body.get("issuing_department") or ""
        if department.partition("-")[2] != issuers.get(body["certificate_type"]):
            return _problem(403, "not_an_issuer", "not a department that issues it")
        holder = body["subject"].get("id_number") or body["subject"].get("credit_code") or ""
        key = (body["certificate_type"], body["certificate_number"])
        if key in self.published:
            held_by, answer = self.published[key]
            if held_by != holder:
                return _problem(409, "certificate_number_taken", "another holder's number")
            return JSONResponse(answer, status_code=200)
        call_id = str(uuid.uuid4())
        seq = len(self.publications)
        answer = {
            "certificate_type": body["certificate_type"],
            "certificate_number": body["certificate_number"],
            "issuing_department": department,
            "valid_from": body["valid_from"],
            "valid_until": body["valid_until"],
            "case_id": body["case_id"],
            "call_id": call_id,
            "receipt": {
                "seq": seq,
                "leaf_index": seq - 1,
                "entry": {
                    "seq": seq,
                    "call_id": call_id,
                    "kind": "load",
                    "consumer": department,
                    "actor": CASE_SVC,
                    "resource": "electronic_certificate",
                    "purpose": "certificate_issuance",
                    "case_id": body["case_id"],
                    "outcome": "allowed",
                },
                "tree_head": {"tree_size": seq, "key_id": "ledger-test"},
            },
        }
        self.published[key] = (holder, answer)
        # The library holds it now: the holder's next application finds it there.
        self.holdings[holder] = (
            *self.holdings.get(holder, ()),
            Certificate(
                body["certificate_type"],
                "机动车驾驶证",
                body["certificate_number"],
                "",
                department,
                body["valid_from"],
                body["valid_until"],
                "valid",
            ),
        )
        return JSONResponse(answer, status_code=201)


def _by_prefix(routes: dict[str, ASGIApp]) -> ASGIApp:
    """The gateway's choice of upstream by the path's service prefix."""

    async def route(scope: Scope, receive: Receive, send: Send) -> None:
        await routes["/" + scope["path"].split("/")[1]](scope, receive, send)

    return route


@pytest.fixture
def identity() -> IdentityDouble:
    return IdentityDouble()


@pytest.fixture
def exchange(identity: IdentityDouble) -> ExchangeDouble:
    return ExchangeDouble(identity)


@pytest_asyncio.fixture(loop_scope="session")
async def catalog(
    app: FastAPI, identity: IdentityDouble, exchange: ExchangeDouble
) -> AsyncIterator[CatalogDouble]:
    """The doubles behind the app's gateway client: the catalog's, identity-svc's and the
    exchange's; case-svc's own token is granted by the identity double."""
    double = CatalogDouble()

    # One case-svc serves every region here: an application forwarded to its department's
    # region comes back to it (and is recorded on the way).
    async def cases(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        double.forwarded.append(headers)
        refused = double.refuse_draft_submission
        if scope["path"] == f"/cases/v1/drafts/{refused}/submission":
            double.refuse_draft_submission = None
            await _problem(503, "upstream_unavailable", "out of reach")(scope, receive, send)
            return
        if scope["method"] == "POST" and scope["path"] == "/cases/v1/cases":
            body, more = b"", True
            while more:
                message = await receive()
                body, more = body + message.get("body", b""), message.get("more_body", False)
            refusal = double.refuse_filing.pop(json.loads(body).get("item_code"), None)
            if refusal is not None:
                status, code = refusal
                await _problem(status, code, "refused by the double")(scope, receive, send)
                return

            async def again() -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            await app(scope, again, send)
            return
        await app(scope, receive, send)

    gateway = _by_prefix(
        {"/catalog": double.app, "/identity": identity.app, "/cases": cases, "/exchange": exchange}
    )
    await app.state.service.http.aclose()
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway")
    app.state.service.http = http
    app.state.service.service_token = ClientCredentials(
        http, client_id=CASE_SVC, client_secret=SecretStr(CASE_SVC_SECRET)
    )
    yield double


Submit = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def submit(client: httpx.AsyncClient, catalog: CatalogDouble, clock: Clock) -> Submit:
    """POST /cases/v1/cases with a fresh Idempotency-Key unless one is given."""

    async def post(
        token: str,
        item_code: str,
        form: dict[str, Any] | None = None,
        *,
        key: str | None = None,
        region: str | None = None,
        routed: bool = True,
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "item_code": item_code,
            "form": catalog.valid_form(item_code) if form is None else form,
        }
        if region is not None:
            body["applicant_region"] = region
        headers = {**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())}
        # As the app does, having read the item's handler: the gateway routes the application
        # straight to the instance of its department's region.
        applies_in = region or jwt.decode(token, options={"verify_signature": False}).get("region")
        seat = catalog.department_region(item_code, applies_in) if applies_in else None
        if routed and seat is not None:
            headers["X-Region-Code"] = seat
        return await client.post("/cases/v1/cases", json=body, headers=headers)

    return post


@pytest.fixture
def resident(token_minter: Any) -> str:
    """A face-verified resident of Songtai (loa 3), as after step-up."""
    token: str = token_minter.mint("citizen-lin", loa=3, region=SONGTAI_COMMUNITY)
    return token


# The S3-compatible store ---------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """An S3-compatible store's endpoint and access key."""

    endpoint_url: str
    access_key_id: str = "onevisit-test"
    secret_access_key: str = "onevisit-test-secret"

    def client(self) -> Any:
        """A client of the store's own, as an operator would use (outside case-svc)."""
        return get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def settings(self, settings: CaseSettings, bucket: str) -> CaseSettings:
        """``settings`` with the materials kept in ``bucket`` of this store."""
        return CaseSettings.model_validate(
            {
                **settings.model_dump(),
                "materials_store": "s3",
                "s3_endpoint_url": self.endpoint_url,
                "s3_bucket": bucket,
                "s3_access_key_id": self.access_key_id,
                "s3_secret_access_key": self.secret_access_key,
            }
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server, a process of its own on a free port, standing in for the
    S3-compatible store (there is none on this machine): case-svc talks to it over HTTP with
    the client it uses in production."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto's S3 server did not start") from None
                time.sleep(0.1)
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def unreachable_s3_server() -> S3Server:
    """An S3 endpoint on a port nobody listens on."""
    return S3Server(f"http://127.0.0.1:{free_port()}")


@pytest_asyncio.fixture(loop_scope="session")
async def s3_bucket(s3_server: S3Server) -> str:
    """A bucket of its own for each test, made as an operator would before case-svc starts."""
    bucket = f"case-materials-{uuid.uuid4().hex[:12]}"
    async with s3_server.client() as client:
        await client.create_bucket(Bucket=bucket)
    return bucket
