"""Who may call what, end to end: every operation of the gateway's merged OpenAPI document is
called by every kind of caller through the gateway to the real processes, and each answer is
compared with the authorisation matrix (``gateway/src/gateway/authorization.toml``). An
operation the matrix does not place, or one it places that the document no longer has, fails.

Requests are built from the document (its examples) and aimed at resources this module makes
for the purpose, belonging to Lucheng's public security bureau (330302) and the citizens of its
cast, so that "ok" means served and "hidden" means someone else's thing was there to hide.
Callers let through come after every refusal of an operation has been checked, and a call that
consumes its resource (a revocation, a deletion) gets one of its own.
"""

import csv
import datetime as dt
import functools
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from data_exchange_svc.registry.faces import template_from_seed
from onevisit_dev.answers import bearer, send, sms_code
from onevisit_dev.authorization import (
    ANSWER_CLASSES,
    MatrixError,
    fits,
    load_matrix,
    operations_of,
    parse_matrix,
    request_example,
)
from onevisit_dev.callers import (
    Caller,
    Cast,
    Person,
    create_staff,
    make_cast,
    new_phone,
    register_citizen,
    register_client,
)
from onevisit_dev.platform import Platform
from servicekit.openapi import example_path

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[1]
MATRIX = load_matrix()
#: Lucheng's public security bureau: the department whose staff, system and cases the matrix's
#: columns are about.
DEPARTMENT = "330302-public_security"
#: The jurisdiction dimension: same region another department type, same type another region
#: of the same tier, same type the tier above (Wenzhou's city bureau).
OTHER_DEPARTMENTS = {
    "other_type": "330302-civil_affairs",
    "other_region": "330303-public_security",
    "other_tier": "330300-public_security",
}
#: Of the synthetic population, people no other story uses: a Lucheng resident (the cast's
#: citizen at level 3, who files and rates), and the legal representative of a Lucheng company
#: (level 2; the delegate of the first, and the company's representative).
LOA3_ID_NUMBER = "330302199005151219"
LOA2_ID_NUMBER = "330302197002143687"
ENTERPRISE = "91330302319255734K"
#: Lucheng residents whose population records a department system may propose to change (a
#: new face template waits for a data steward), none of them anyone else's story.
CHANGED_RESIDENTS = ("330302193901207463", "330302199311092667", "330302199806049089")
#: citizen_loa3's driving licence in the synthetic certificate registry
#: (data-exchange-svc/data/electronic_certificate.csv): what she attaches to her open case.
LOA3_LICENCE = "330319242996"
#: A licence the bureau issues her, published to the certificate library (a number of its own
#: per run).
ISSUED_LICENCE = f"3303{secrets.randbelow(10**8):08d}"
#: The bureau's appeal of the bad review (synthetic).
APPEAL = {
    "grounds": "mistaken",
    "reasons": "评价所指并非本局办理事项（合成数据）",
    "evidence": ["受理回执编号 matrix-0001"],
}
LOSS_REPORT = "public_security.id_card_loss_report"  # instant: completed when filed
#: A scanned page as the app uploads one: a PNG of one grey pixel.
SCAN_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010800000000"
    "3a7e9b550000000a49444154789c636800000082008177cd72b60000000049454e44ae426082"
)
ID_CARD_REPLACEMENT = "public_security.id_card_replacement"  # review: stays submitted
#: A one-issue application of a bundle of one item for her: a water connection, no gas.
WATER_CONNECTION = {
    "bundle_code": "utility_connection",
    "form": {"contact_phone": "13957700000", "needs_gas": False},
}
#: A department that is none of the matrix's columns: it applies for the grants they decide.
GRANT_CONSUMER = "330304-civil_affairs"


@functools.cache
def population() -> dict[str, dict[str, str]]:
    path = REPO_ROOT / "data-exchange-svc/data/population.csv"
    with path.open(encoding="utf-8", newline="") as source:
        return {row["id_number"]: row for row in csv.DictReader(source)}


def person(id_number: str) -> Person:
    row = population()[id_number]
    return Person(row["name"], id_number, template_from_seed(int(row["face_seed"])))


def registry_record(id_number: str, *, face_seed_offset: int = 0) -> dict[str, Any]:
    """A person's population record as a provider loads it: as the registry holds it, or with
    another face (``face_seed_offset``), a change that waits for a data steward."""
    row = population()[id_number]
    fields = {
        name: row[name]
        for name in (
            "name",
            "sex",
            "birth_date",
            "ethnicity",
            "registered_address",
            "registered_region",
            "id_card_status",
        )
    }
    fields["face_template"] = template_from_seed(int(row["face_seed"]) + face_seed_offset)
    return {"records": [{"subject": {"id_number": id_number}, "fields": fields}]}


def in_days(days: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def created(response: httpx.Response, step: str, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, f"{step}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


# --- the world the callers act in ---------------------------------------------------------------


@dataclass
class World:
    """The cast and what belongs to them, made through the public API."""

    gateway: httpx.Client
    cast: Cast
    #: Where the platform's development SMS sender writes the texts (the codes).
    var_dir: Path
    #: Path parameter → value, for parameters of one meaning across the document.
    values: dict[str, str] = field(default_factory=dict)
    open_case: str = ""
    completed_case: str = ""
    #: Grants of GRANT_CONSUMER for the population registry: pending ones, one approved.
    grants: dict[str, str] = field(default_factory=dict)
    #: Record changes of Lucheng's system, waiting for a steward.
    changes: dict[str, str] = field(default_factory=dict)
    #: Catalog items owned by Lucheng's bureau: one with an open draft, one to withdraw.
    items: dict[str, str] = field(default_factory=dict)
    #: An employee the enterprise authorised (whose membership is ``values["member_id"]``).
    employee_phone: str = ""
    #: A system of GRANT_CONSUMER, which applies for the grants.
    grant_consumer: Caller | None = None
    #: A system of Lucheng's health bureau, which records births.
    hospital: Caller | None = None
    bundle: str = ""

    def post(self, kind: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **self.cast.callers[kind].headers()}
        return send(self.gateway, "POST", path, headers=headers, **kwargs)

    def keyed(self, kind: str) -> dict[str, str]:
        return {**self.cast.callers[kind].headers(), "Idempotency-Key": str(uuid.uuid4())}

    # Fresh resources, for a caller whose call consumes one.

    def spare_delegation(self) -> str:
        """A delegation in force from the level-3 citizen to the level-1 one."""
        given = self.post(
            "citizen_loa3",
            "/identity/v1/me/delegations",
            json={
                "delegate_phone": self.cast.accounts["citizen_loa1"].phone,
                "valid_until": in_days(7),
            },
        )
        if given.status_code == 409:
            return str(given.json()["delegation_id"])
        return str(created(given, "spare delegation")["id"])

    def spare_session(self) -> str:
        """Another sign-in session of the level-3 citizen."""
        token = self.cast.accounts["citizen_loa3"].sign_in(self.gateway)
        listed = send(self.gateway, "GET", "/identity/v1/me/sessions", headers=bearer(token))
        sessions = created(listed, "sessions", 200)["sessions"]
        return str(next(entry["id"] for entry in sessions if entry["current"]))

    def spare_member(self, agent_phone: str | None = None) -> str:
        """A citizen (by default the level-1 one) authorised by the level-2 one, the legal
        representative, to act for the enterprise: the membership in force."""
        phone = agent_phone or self.cast.accounts["citizen_loa1"].phone
        authorised = self.post(
            "citizen_loa2",
            f"/identity/v1/enterprises/{ENTERPRISE}/agents",
            json={"agent_phone": phone, "valid_until": in_days(60)},
        )
        if authorised.status_code == 409:
            return str(authorised.json()["member_id"])
        return str(created(authorised, "agent")["id"])

    def hears_of_births(self, platform_admin: str) -> None:
        """Lucheng's bureau registers newborns' households: a grant of Lucheng's health
        bureau's birth certificates for it, decided by that bureau's data steward, so that its
        system may subscribe to births."""
        steward = create_staff(self.gateway, platform_admin, "330302-health", ["data_steward"])
        applied = send(
            self.gateway,
            "POST",
            "/exchange/v1/grants",
            json={
                "resource": "child_birth_certificate",
                "fields": ["child_name", "child_birth_date", "birth_region"],
                "purposes": ["service_delivery"],
                "legal_basis": "《户口登记条例》第七条（合成数据）",
                "rate_limit": {"per_minute": 600},
            },
            headers=self.keyed("department_system"),
        )
        grant_id = created(applied, "birth certificates grant")["id"]
        approved = send(
            self.gateway,
            "POST",
            f"/exchange/v1/grants/{grant_id}/approve",
            json={"expires_at": in_days(30), "region": "330302"},
            headers=bearer(steward.sign_in(self.gateway)),
        )
        created(approved, "birth certificates grant approval", 200)

    def spare_offer(self) -> str:
        """A birth Lucheng's hospital records for the level-3 citizen (a father), and the offer
        of the birth bundle it brings to his inbox (through the exchange's relay)."""
        assert self.hospital is not None
        before = self.offers_of_loa3()
        recorded = send(
            self.gateway,
            "POST",
            "/exchange/v1/resources/child_birth_certificate/records",
            json={
                "records": [
                    {
                        "subject": {"id_number": LOA3_ID_NUMBER},
                        "fields": {
                            "certificate_number": f"N8{secrets.randbelow(10**8):08d}",
                            "child_name": "矩小阵",
                            "child_sex": "male",
                            "child_birth_date": (
                                dt.date.today() - dt.timedelta(days=1)
                            ).isoformat(),
                            "birth_region": "330302",
                            "hospital_name": "温州市鹿城区人民医院（合成数据）",
                        },
                    }
                ]
            },
            headers=self.hospital.headers(),
        )
        created(recorded, "birth record", 200)
        deadline = time.monotonic() + 30
        while not (new := self.offers_of_loa3() - before):
            assert time.monotonic() < deadline, "no offer reached the father's inbox in 30 s"
            time.sleep(0.1)
        return new.pop()

    def offers_of_loa3(self) -> set[str]:
        listed = send(
            self.gateway,
            "GET",
            "/identity/v1/me/offers",
            headers=self.cast.callers["citizen_loa3"].headers(),
        )
        return {offer["id"] for offer in created(listed, "her offers", 200)["items"]}

    def spare_subscription(self) -> str:
        """Another subscription of the bureau's system to births."""
        made = self.post(
            "department_system",
            "/exchange/v1/subscriptions",
            json={
                "event_type": "life.birth_registered",
                "endpoint": "https://psb.lucheng.example/onevisit/births",
                "purpose": "service_delivery",
            },
        )
        return str(created(made, "subscription")["id"])

    def spare_client(self) -> str:
        """Another system of the department."""
        registered = self.post(
            "department_admin",
            "/identity/v1/clients",
            json={"name": "备用系统（合成数据）", "typ": "department_system", "dept": DEPARTMENT},
        )
        return str(created(registered, "spare client")["client_id"])

    def spare_staff(self) -> str:
        """Another handler of the bureau, made by its department admin."""
        phone = "137" + "".join(secrets.choice("0123456789") for _ in range(8))
        made = self.post(
            "department_admin",
            "/identity/v1/staff",
            json={
                "phone": phone,
                "password": f"Spare-{secrets.token_hex(6)}",
                "dept": DEPARTMENT,
                "roles": ["handler"],
            },
        )
        return str(created(made, "spare staff")["id"])

    def spare_draft(self) -> str:
        """A draft application of the level-3 citizen's for an ID card replacement, ready to
        submit."""
        opened = self.post(
            "citizen_loa3", "/cases/v1/drafts", json={"item_code": ID_CARD_REPLACEMENT}
        )
        draft_no = str(created(opened, "draft")["draft_no"])
        typed = send(
            self.gateway,
            "PATCH",
            f"/cases/v1/drafts/{draft_no}",
            json={"form": {"contact_phone": "13957700000"}},
            headers=self.cast.callers["citizen_loa3"].headers(),
        )
        created(typed, "draft's form", 200)
        return draft_no

    def spare_bundle_draft(self) -> str:
        """A bundle draft of the level-3 citizen's for her water connection, ready to submit."""
        opened = self.post(
            "citizen_loa3",
            "/cases/v1/bundle-drafts",
            json={"bundle_code": WATER_CONNECTION["bundle_code"], "answers": {"needs_gas": False}},
        )
        number = str(created(opened, "bundle draft")["application_no"])
        typed = send(
            self.gateway,
            "PATCH",
            f"/cases/v1/bundle-drafts/{number}",
            json={"form": {"contact_phone": "13957700000"}},
            headers=self.cast.callers["citizen_loa3"].headers(),
        )
        created(typed, "bundle draft's form", 200)
        return number

    def first_message(self) -> str:
        """A message in the level-3 citizen's inbox (her cases' events reach it after they
        commit)."""
        deadline = time.monotonic() + 30
        while True:
            inbox = send(
                self.gateway,
                "GET",
                "/identity/v1/me/inbox",
                headers=self.cast.callers["citizen_loa3"].headers(),
            )
            items = created(inbox, "inbox", 200)["items"]
            if items or time.monotonic() > deadline:
                return str(items[0]["id"])
            time.sleep(0.2)

    def spare_consent(self) -> str:
        """The level-3 citizen's consent to her bureau reading her record for her open case."""
        given = self.post(
            "citizen_loa3",
            "/exchange/v1/me/consents",
            json=consent_body(self.open_case),
        )
        return str(created(given, "consent")["id"])

    def grant(self, *, approve: bool = False, consumer: Caller | None = None) -> str:
        """An application of GRANT_CONSUMER's system (or ``consumer``) for the population
        registry, approved for Lucheng's subjects by Lucheng's steward if ``approve``."""
        system = consumer or self.grant_consumer
        assert system is not None
        applied = send(
            self.gateway,
            "POST",
            "/exchange/v1/grants",
            json={
                "resource": "population",
                "fields": ["name", "registered_region"],
                "purposes": ["case_prefill", "case_review"],
                "legal_basis": "《浙江省公共数据条例》第二十三条（合成数据）",
                # Every kind of caller calls and matches on it in a row: a bucket that never
                # runs dry, so that an answer is the matrix's, never the grant's pace.
                "rate_limit": {"per_minute": 6000, "burst": 500},
            },
            headers={**system.headers(), "Idempotency-Key": str(uuid.uuid4())},
        )
        grant_id = str(created(applied, "grant application")["id"])
        if approve:
            approved = self.post(
                "data_steward",
                f"/exchange/v1/grants/{grant_id}/approve",
                json={"expires_at": in_days(30), "region": "330302"},
            )
            created(approved, "grant approval", 200)
        return grant_id

    def record_change(self, id_number: str) -> str:
        """A new face for a Lucheng resident, sent by the bureau's system: held for a steward."""
        held = self.post(
            "department_system",
            "/exchange/v1/resources/population/records",
            json=registry_record(id_number, face_seed_offset=1),
        )
        return str(created(held, "record change", 202)["id"])

    def catalog_item(self, *, draft: bool) -> str:
        """An item of Lucheng's bureau (listed in Lucheng alone), published; with a draft open."""
        code = f"public_security.matrix_{secrets.token_hex(4)}"
        body = item_body(code)
        made = send(
            self.gateway,
            "POST",
            "/catalog/v1/admin/items",
            json=body,
            headers=self.keyed("catalog_admin"),
        )
        etag = {"If-Match": made.headers.get("etag", "")}
        created(made, "catalog item")
        path = f"/catalog/v1/admin/items/{code}"
        approved = self.post("platform_admin", f"{path}/draft/approval", headers=etag)
        created(approved, "item approval", 200)
        created(self.post("catalog_admin", f"{path}/publish", headers=etag), "publication", 200)
        if draft:
            created(self.post("catalog_admin", f"{path}/draft"), "draft")
        return code


def consent_body(case_no: str) -> dict[str, Any]:
    return {
        "consumer": DEPARTMENT,
        "resource": "population",
        "fields": ["name", "registered_region"],
        "purpose": "case_prefill",
        "case_id": case_no,
        "expires_at": in_days(30),
    }


def item_body(code: str) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"犬只登记证办理（合成数据）{code.rsplit('_', 1)[-1]}",
        "aliases": [],
        "keywords": ["犬只"],
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
        "materials": [],
        "form_schema": {
            "type": "object",
            "properties": {"dog_breed": {"type": "string", "title": "犬只品种", "maxLength": 50}},
            "required": ["dog_breed"],
            "additionalProperties": False,
        },
        "offered_in": ["330302"],
        "illustrative": [],
        "notes": "合成数据：授权矩阵测试用事项",
    }


def build_world(
    gateway: httpx.Client,
    var_dir: Path,
    platform_admin: str,
    end_face_window: Callable[[str], None],
) -> World:
    cast = make_cast(
        gateway,
        var_dir=var_dir,
        platform_admin=platform_admin,
        department=DEPARTMENT,
        other_departments=OTHER_DEPARTMENTS,
        loa3=person(LOA3_ID_NUMBER),
        loa2=person(LOA2_ID_NUMBER),
        enterprise=ENTERPRISE,
        end_face_window=end_face_window,
        delegated_items=[ID_CARD_REPLACEMENT],
    )
    world = World(gateway=gateway, cast=cast, var_dir=var_dir)
    consumer = register_client(
        gateway,
        platform_admin,
        typ="department_system",
        name="民政业务系统（合成数据）",
        dept=GRANT_CONSUMER,
    )
    world.grant_consumer = Caller(
        "grant_consumer", consumer.token(gateway), lambda: consumer.token(gateway)
    )
    bundles = created(send(gateway, "GET", "/catalog/v1/bundles"), "bundles", 200)
    world.bundle = bundles["items"][0]["code"]

    filed = send(
        gateway,
        "POST",
        "/cases/v1/cases",
        json={"item_code": ID_CARD_REPLACEMENT, "form": {"contact_phone": "13957700000"}},
        headers=world.keyed("citizen_loa3"),
    )
    world.open_case = created(filed, "open case")["case_no"]
    done = send(
        gateway,
        "POST",
        "/cases/v1/cases",
        json={
            "item_code": LOSS_REPORT,
            "form": {
                "loss_reason": "lost",
                "loss_date": "2026-11-25",
                "contact_phone": "13957700000",
            },
        },
        headers=world.keyed("citizen_loa3"),
    )
    world.completed_case = created(done, "completed case")["case_no"]
    scanned = world.post(
        "citizen_loa3",
        f"/cases/v1/cases/{world.open_case}/materials",
        data={"name": "居民身份证正反面复印件"},
        files={"file": ("scan.png", SCAN_PNG, "image/png")},
    )
    rated = world.post(
        "citizen_loa3",
        "/ratings/v1/ratings",
        json={"case_no": world.completed_case, "level": 1, "tags": ["repeated_visits"]},
    )
    appealed = world.post(
        "handler",
        f"/ratings/v1/ratings/{created(rated, 'rating')['id']}/appeal",
        json=APPEAL,
    )
    world.employee_phone = register_citizen(gateway, var_dir).phone
    world.values.update(
        {
            "case_no": world.open_case,
            "material_id": created(scanned, "material")["id"],
            "rating_id": created(rated, "rating")["id"],
            # Her review was a bad one: the bureau's rectification.
            "rectification_id": created(rated, "rating")["rectification_id"],
            # The bureau appealed it, to Wenzhou's bureau.
            "appeal_id": created(appealed, "appeal")["id"],
            "consent_id": world.spare_consent(),
            "draft_no": world.spare_draft(),
            "bundle_draft_no": world.spare_bundle_draft(),
            "message_id": world.first_message(),
            "application_no": created(
                world.post(
                    "citizen_loa3",
                    "/cases/v1/bundle-applications",
                    json=WATER_CONNECTION,
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                ),
                "bundle application",
            )["application_no"],
            "delegation_id": world.spare_delegation(),
            "session_id": world.spare_session(),
            "credit_code": ENTERPRISE,
            "member_id": world.spare_member(world.employee_phone),
            "client_id": world.spare_client(),
            "staff_id": world.spare_staff(),
            "department_id": DEPARTMENT,
            "item_code": LOSS_REPORT,
            "region_code": "330302",
            "account": cast.accounts["citizen_loa3"].account_id,
        }
    )
    world.grants = {
        "read": world.grant(),
        "approve": world.grant(),
        "refuse": world.grant(),
        "revoke": world.grant(approve=True),
    }
    # Lucheng's bureau reads the registry for its cases: its own grant, decided by its steward.
    world.grant(approve=True, consumer=cast.callers["department_system"])
    world.hears_of_births(platform_admin)
    world.values["subscription_id"] = world.spare_subscription()
    hospital = register_client(
        gateway,
        platform_admin,
        typ="department_system",
        name="医院信息系统（合成数据）",
        dept="330302-health",
    )
    world.hospital = Caller("hospital", hospital.token(gateway), lambda: hospital.token(gateway))
    world.values["offer_id"] = world.spare_offer()
    world.changes = {
        "read": world.record_change(CHANGED_RESIDENTS[0]),
        "approve": world.record_change(CHANGED_RESIDENTS[1]),
        "refuse": world.record_change(CHANGED_RESIDENTS[2]),
    }
    world.items = {
        "draft": world.catalog_item(draft=True),
        "withdraw": world.catalog_item(draft=False),
    }
    return world


# --- the requests ------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    #: A multipart form's files: field → (file name, content, declared type).
    files: dict[str, tuple[str, bytes, str]] | None = None


def documented_call(operation: str, document: dict[str, Any], values: dict[str, str]) -> Call:
    """The operation as its documentation shows it: path parameters of the world's resources
    (else the documented examples), required query parameters and the body from the examples,
    an Idempotency-Key where the operation takes one."""
    method, template = operation.split(" ", 1)
    spec = operations_of(document)[operation]
    for name, value in values.items():
        template = template.replace(f"{{{name}}}", value)
    path = example_path(template, spec)
    call = Call(method, path)
    for parameter in spec.get("parameters", []):
        if parameter["in"] == "header" and parameter["name"].lower() == "idempotency-key":
            call.headers["Idempotency-Key"] = str(uuid.uuid4())
        elif parameter["in"] == "query" and parameter.get("required"):
            examples = parameter.get("schema", {}).get("examples") or []
            if examples:
                call.params[parameter["name"]] = str(examples[0])
    body = request_example(spec, document)
    if body is not None:
        media_type, example = body
        if media_type == "application/x-www-form-urlencoded":
            call.data = example
        else:
            call.json = example
    return call


#: How an operation's documented call is changed for a caller of a kind: (world, kind, call).
Adjust = Callable[[World, str, Call], Call]


def _path(**values: Callable[[World], str]) -> Adjust:
    def adjust(world: World, _kind: str, call: Call) -> Call:
        path = call.path
        for name, value in values.items():
            path = path.replace(f"{{{name}}}", value(world))
        return replace(call, path=path)

    return adjust


def _body(make: Callable[[World, str], Any]) -> Adjust:
    return lambda world, kind, call: replace(call, json=make(world, kind))


def _both(*adjustments: Adjust) -> Adjust:
    def adjust(world: World, kind: str, call: Call) -> Call:
        for one in adjustments:
            call = one(world, kind, call)
        return call

    return adjust


def _face_verification(world: World, kind: str, call: Call) -> Call:
    """A challenge of the caller's own and the face of the person behind the token, when the
    caller is one who may ask for a challenge."""
    holders = {"citizen_loa3": LOA3_ID_NUMBER, "citizen_loa2": LOA2_ID_NUMBER}
    if kind not in holders:
        return call
    challenge = world.post(kind, "/identity/v1/me/face/challenges")
    challenge_id = created(challenge, "face challenge")["challenge_id"]
    body = {"challenge_id": challenge_id, "template": list(person(holders[kind]).face_template)}
    return replace(call, json=body)


def _registration(world: World, _kind: str, call: Call) -> Call:
    """A new phone, and the code texted to it."""
    phone = new_phone()
    asked = send(world.gateway, "POST", "/identity/v1/sms-codes", json={"phone": phone})
    created(asked, "sms code", 202)
    body = {
        "phone": phone,
        "password": "Matrix-citizen-2026",
        "code": sms_code(world.var_dir, phone),
    }
    return replace(call, json=body)


def _password_change(world: World, kind: str, call: Call) -> Call:
    """Her own current password, and a new one the policy refuses: nothing changes."""
    account = world.cast.accounts.get(kind)
    current = account.password if account is not None else "Matrix-password-2026"
    return replace(call, json={"current_password": current, "new_password": "short"})


def _material_upload(_world: World, _kind: str, call: Call) -> Call:
    """The multipart form the app sends: a name, and a scanned page."""
    return replace(
        call,
        json=None,
        data={"name": "居民身份证正反面复印件"},
        files={"file": ("scan.png", SCAN_PNG, "image/png")},
    )


ADMIN_ITEM = "/catalog/v1/admin/items/{code}"
#: Per operation, how its documented call is aimed at the world (an operation not named here is
#: called as documented, on the world's resources by parameter name).
ADJUSTMENTS: dict[str, Adjust] = {
    "POST /cases/v1/cases": _body(
        lambda _world, _kind: {
            "item_code": ID_CARD_REPLACEMENT,
            "form": {"contact_phone": "13957700000"},
        }
    ),
    "POST /cases/v1/cases/{case_no}/materials": _material_upload,
    "POST /cases/v1/drafts": _body(lambda _world, _kind: {"item_code": ID_CARD_REPLACEMENT}),
    "POST /cases/v1/bundle-applications": _body(lambda _world, _kind: WATER_CONNECTION),
    "POST /cases/v1/bundle-drafts": _body(
        lambda _world, _kind: {"bundle_code": "utility_connection", "answers": {"needs_gas": False}}
    ),
    "POST /cases/v1/cases/{case_no}/certificates": _body(
        lambda _world, _kind: {"certificate_number": LOA3_LICENCE}
    ),
    "POST /exchange/v1/calls": _body(
        lambda world, _kind: {
            "resource": "population",
            "subject": {"id_number": LOA3_ID_NUMBER},
            "fields": ["registered_region"],
            "purpose": "case_prefill",
            "case_id": world.open_case,
        }
    ),
    "POST /exchange/v1/certificates": _body(
        lambda world, _kind: {
            "subject": {"id_number": LOA3_ID_NUMBER},
            "certificate_type": "driving_licence",
            "certificate_number": ISSUED_LICENCE,
            "valid_from": "2026-11-26",
            "valid_until": "2032-11-26",
            "case_id": world.open_case,
        }
    ),
    # From the start: the cursor of an event it never got would be refused (404).
    "POST /exchange/v1/subscriptions/{subscription_id}/redeliveries": _body(
        lambda _world, _kind: {}
    ),
    "POST /exchange/v1/matches": _body(
        lambda world, _kind: {
            "resource": "population",
            "subject": {"id_number": LOA3_ID_NUMBER},
            "claims": {"name": person(LOA3_ID_NUMBER).name},
            "purpose": "case_review",
            "case_id": world.open_case,
        }
    ),
    "POST /catalog/v1/admin/items": _body(
        lambda _world, kind: item_body(f"public_security.matrix_{kind}_{secrets.token_hex(3)}")
    ),
    **{
        f"{method} {ADMIN_ITEM}{tail}": _path(code=lambda world: world.items["draft"])
        for method, tail in (
            ("GET", "/audit"),
            ("GET", "/draft"),
            ("POST", "/draft"),
            ("PATCH", "/draft"),
            ("POST", "/draft/approval"),
            ("POST", "/publish"),
            ("GET", "/versions"),
        )
    },
    f"POST {ADMIN_ITEM}/withdraw": _path(code=lambda world: world.items["withdraw"]),
    "GET /catalog/v1/bundles/{code}": _path(code=lambda world: world.bundle),
    "PUT /exchange/v1/citizen-links/{account}": _body(
        lambda _world, _kind: {"id_number": LOA3_ID_NUMBER}
    ),
    "GET /exchange/v1/grants/{grant_id}": _path(grant_id=lambda world: world.grants["read"]),
    "POST /exchange/v1/grants/{grant_id}/approve": _both(
        _path(grant_id=lambda world: world.grants["approve"]),
        _body(lambda _world, _kind: {"expires_at": in_days(30), "region": "330302"}),
    ),
    "POST /exchange/v1/grants/{grant_id}/refuse": _path(
        grant_id=lambda world: world.grants["refuse"]
    ),
    "POST /exchange/v1/grants/{grant_id}/revoke": _path(
        grant_id=lambda world: world.grants["revoke"]
    ),
    **{
        f"GET /ratings/v1/statistics{tail}": lambda _world, _kind, call: replace(
            call, params={"from": "2026-01-01", "to": "2030-12-31"}
        )
        for tail in (
            "/departments/{department_id}",
            "/items/{item_code}",
            "/regions/{region_code}",
            "/regions/{region_code}/rankings",
        )
    },
    "GET /exchange/v1/ledger/consistency": lambda _world, _kind, call: replace(
        call, params={"first": "1", "second": "2"}
    ),
    "GET /exchange/v1/ledger/entries/{seq}/proof": _path(seq=lambda _world: "1"),
    "POST /exchange/v1/me/consents": _body(lambda world, _kind: consent_body(world.open_case)),
    "GET /exchange/v1/record-changes/{change_id}": _path(
        change_id=lambda world: world.changes["read"]
    ),
    "POST /exchange/v1/record-changes/{change_id}/approve": _path(
        change_id=lambda world: world.changes["approve"]
    ),
    "POST /exchange/v1/record-changes/{change_id}/refuse": _path(
        change_id=lambda world: world.changes["refuse"]
    ),
    "GET /exchange/v1/resources/{code}": _path(code=lambda _world: "population"),
    "POST /exchange/v1/resources/{code}/records": _both(
        # citizen_loa3's record as the registry holds it: loading it changes nothing.
        _path(code=lambda _world: "population"),
        _body(lambda _world, _kind: registry_record(LOA3_ID_NUMBER)),
    ),
    "POST /identity/v1/citizens": _registration,
    "POST /identity/v1/clients": _body(
        lambda _world, _kind: {
            "name": "业务系统（合成数据）",
            "typ": "department_system",
            "dept": DEPARTMENT,
        }
    ),
    "POST /identity/v1/enterprises": _body(lambda _world, _kind: {"credit_code": ENTERPRISE}),
    "POST /identity/v1/enterprises/{credit_code}/agents": _body(
        lambda world, _kind: {"agent_phone": world.employee_phone, "valid_until": in_days(60)}
    ),
    "POST /identity/v1/me/delegations": _body(
        lambda world, _kind: {
            "delegate_phone": world.cast.accounts["citizen_loa1"].phone,
            "valid_until": in_days(7),
        }
    ),
    "POST /identity/v1/me/face/verifications": _face_verification,
    "PUT /identity/v1/me/password": _password_change,
    "POST /identity/v1/me/real-name": _body(
        lambda _world, _kind: {"name": person(LOA3_ID_NUMBER).name, "id_number": LOA3_ID_NUMBER}
    ),
    "POST /identity/v1/sms-codes": _body(
        lambda _world, _kind: {"phone": new_phone(), "purpose": "login"}
    ),
    "POST /identity/v1/staff": _body(
        lambda _world, _kind: {
            "phone": new_phone("137"),
            "password": "Lucheng-Staff-2026",
            "dept": DEPARTMENT,
            "roles": ["handler"],
        }
    ),
    "POST /identity/v1/token": lambda world, _kind, call: replace(
        call,
        data={
            "grant_type": "password",
            "username": world.cast.accounts["citizen_loa1"].phone,
            "password": world.cast.accounts["citizen_loa1"].password,
        },
    ),
    "POST /ratings/v1/rectifications/{rectification_id}/call-back": _body(
        lambda _world, _kind: {
            "called_back_at": dt.datetime.now(dt.UTC).isoformat(),
            "channel": "phone",
            "note": "已电话回访（合成数据）",
        }
    ),
    "POST /ratings/v1/ratings/{rating_id}/appeal": _body(lambda _world, _kind: APPEAL),
    "POST /ratings/v1/appeals/{appeal_id}/decision": _body(
        lambda _world, _kind: {"outcome": "rejected", "note": "证据不足（合成数据）"}
    ),
    "POST /ratings/v1/ratings": _body(
        lambda world, _kind: {
            "case_no": world.completed_case,
            "level": 5,
        }
    ),
}
#: Operations that consume their resource: each caller let through gets a fresh one.
CONSUMING: dict[str, Callable[[World], dict[str, str]]] = {
    "DELETE /exchange/v1/me/consents/{consent_id}": lambda world: {
        "consent_id": world.spare_consent()
    },
    "DELETE /identity/v1/clients/{client_id}": lambda world: {"client_id": world.spare_client()},
    "DELETE /exchange/v1/subscriptions/{subscription_id}": lambda world: {
        "subscription_id": world.spare_subscription()
    },
    "POST /identity/v1/me/offers/{offer_id}/confirmation": lambda world: {
        "offer_id": world.spare_offer()
    },
    "POST /identity/v1/me/offers/{offer_id}/decline": lambda world: {
        "offer_id": world.spare_offer()
    },
    "POST /cases/v1/drafts/{draft_no}/submission": lambda world: {"draft_no": world.spare_draft()},
    "POST /cases/v1/bundle-drafts/{bundle_draft_no}/submission": lambda world: {
        "bundle_draft_no": world.spare_bundle_draft()
    },
    "POST /identity/v1/staff/{staff_id}/disable": lambda world: {"staff_id": world.spare_staff()},
    "DELETE /identity/v1/enterprises/{credit_code}/members/{member_id}": lambda world: {
        "member_id": world.spare_member()
    },
    "DELETE /identity/v1/me/delegations/{delegation_id}": lambda world: {
        "delegation_id": world.spare_delegation()
    },
    "DELETE /identity/v1/me/sessions/{session_id}": lambda world: {
        "session_id": world.spare_session()
    },
}


def call_as(
    world: World, document: dict[str, Any], operation: str, kind: str, *, fresh: bool
) -> httpx.Response:
    values = dict(world.values)
    if fresh and operation in CONSUMING:
        values.update(CONSUMING[operation](world))
    call = documented_call(operation, document, values)
    adjust = ADJUSTMENTS.get(operation)
    if adjust is not None:
        call = adjust(world, kind, call)
    caller = world.cast.callers[kind]
    return send(
        world.gateway,
        call.method,
        call.path,
        params=call.params,
        headers={**call.headers, **caller.headers()},
        json=call.json,
        data=call.data,
        files=call.files,
    )


@dataclass(frozen=True)
class Answer:
    kind: str
    expected: str
    status: int
    code: str | None

    @property
    def fits(self) -> bool:
        return fits(self.expected, self.status)

    def __str__(self) -> str:
        return f"{self.kind}: expected {self.expected}, got {self.status} {self.code or ''}"


def answers_of(world: World, document: dict[str, Any], operation: str) -> list[Answer]:
    """The operation called by every kind of caller, refusals first."""
    expected = MATRIX.expected[operation]
    let_through = set(MATRIX.let_through(operation))
    answers = []
    for kind in MATRIX.call_order(operation):
        response = call_as(world, document, operation, kind, fresh=kind in let_through)
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        code = response.json().get("code") if problem else None
        assert response.status_code < 500, f"{operation} as {kind}: {response.text}"
        if 400 <= response.status_code < 500:
            assert problem, f"{operation} as {kind}: {response.status_code} is no problem+json"
        answers.append(Answer(kind, expected[kind], response.status_code, code))
    return answers


# --- the tests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document(platform: Platform, gateway_url: str) -> dict[str, Any]:
    if platform.config.database_urls:
        pytest.skip("who may call what does not depend on the backend: checked on SQLite")
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        merged: dict[str, Any] = client.get("/openapi.json").json()
    assert merged["x-unavailable"] == []
    return merged


@pytest.fixture(scope="module")
def gateway_url(platform: Platform) -> str:
    return platform.config.gateway_url


@pytest.fixture(scope="module")
def world(
    platform: Platform,
    document: dict[str, Any],
    gateway_url: str,
    platform_admin: str,
    end_face_window: Callable[[str], None],
) -> Iterator[World]:
    with httpx.Client(base_url=gateway_url, timeout=30.0) as client:
        made = build_world(client, platform.config.var_dir, platform_admin, end_face_window)
        assert list(made.cast.callers) == list(MATRIX.kinds), "the matrix's columns are the cast"
        yield made


def test_the_matrix_places_every_operation_of_the_document_and_no_other(
    document: dict[str, Any],
) -> None:
    documented = set(operations_of(document))
    placed = set(MATRIX.operations)
    assert not documented - placed, f"operations the matrix does not place: {documented - placed}"
    assert not placed - documented, f"operations the document no longer has: {placed - documented}"


def test_every_class_of_answer_is_told_apart_from_a_refusal() -> None:
    """No status fits both a class that lets a caller through and one that refuses them."""
    refusals = {"unauthenticated", "forbidden", "hidden"}
    for status in range(200, 600):
        fitting = {name for name in ANSWER_CLASSES if fits(name, status)}
        assert not (fitting & refusals and fitting - refusals), (status, fitting)
        assert status < 500 or not fitting


_KINDS = {"kinds": ["anonymous", "citizen", "staff"], "groups": {"people": ["citizen", "staff"]}}


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ({"ok": ["citizen"]}, "staff placed nowhere"),
        ({"ok": ["people"], "forbidden": ["staff"]}, "staff placed twice"),
        ({"ok": ["*"], "hidden": ["*"]}, "'*' in one class only"),
        ({"served": ["*"]}, "not a class"),
        ({"ok": ["clerk"], "hidden": ["*"]}, "neither a kind of caller nor a group"),
        ({"ok": ["*"], "finding": {"callers": ["anonymous"]}}, "finding"),
    ],
)
def test_a_matrix_written_otherwise_than_its_header_says_is_refused(
    table: dict[str, Any], error: str
) -> None:
    data = {"callers": _KINDS, "defaults": {"anonymous": "unauthenticated"}, "GET /x": table}
    with pytest.raises(MatrixError, match=re.escape(error)):
        parse_matrix(data)


def test_a_kind_takes_its_own_class_then_the_default_then_the_rest() -> None:
    data = {
        "callers": _KINDS,
        "defaults": {"anonymous": "unauthenticated"},
        "GET /x": {"ok": ["citizen"], "hidden": ["*"]},
        "GET /y": {"ok": ["anonymous", "*"]},
    }
    matrix = parse_matrix(data)
    assert matrix.expected["GET /x"] == {
        "anonymous": "unauthenticated",
        "citizen": "ok",
        "staff": "hidden",
    }
    assert set(matrix.expected["GET /y"].values()) == {"ok"}
    assert matrix.call_order("GET /x") == ["anonymous", "staff", "citizen"]


class KnownFinding(AssertionError):
    """The callers a known open defect concerns do not get their class yet."""


def _cases() -> Iterator[Any]:
    for operation in MATRIX.operations:
        finding = MATRIX.findings.get(operation)
        marks = (
            [pytest.mark.xfail(reason=finding.reason, raises=KnownFinding, strict=True)]
            if finding is not None
            else []
        )
        yield pytest.param(operation, id=operation, marks=marks)


@pytest.mark.parametrize("operation", list(_cases()))
def test_each_kind_of_caller_gets_the_answer_the_matrix_gives(
    operation: str, world: World, document: dict[str, Any]
) -> None:
    answers = answers_of(world, document, operation)
    wrong = [answer for answer in answers if not answer.fits]
    finding = MATRIX.findings.get(operation)
    known = finding.callers if finding is not None else frozenset()
    unexplained = [answer for answer in wrong if answer.kind not in known]
    assert not unexplained, f"{operation}:\n" + "\n".join(map(str, unexplained))
    if wrong:
        raise KnownFinding(f"{operation}: " + "; ".join(map(str, wrong)))
