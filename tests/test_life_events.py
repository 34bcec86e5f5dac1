"""A birth, told once: a hospital's system records it through the exchange's provider API, end
to end through the gateway between real processes; the departments that need it and whose
grants allow it get it pushed to their own endpoints, signed; one that was down gets it once it
is back; one whose grant does not allow births cannot subscribe; and the mother finds, in her
inbox, an offer to confirm the birth bundle, which one call files as one application.

The tests in this module run in order and share the people, as the story does.
"""

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from onevisit_dev.answers import bearer, problem
from onevisit_dev.callers import (
    Client,
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    register_client,
    verify_face,
)
from onevisit_dev.platform import Platform
from servicekit.webhooks import DeliveryRejected, signed_headers, verify_delivery

pytestmark = pytest.mark.e2e

#: From the synthetic population, in no other story: a Fenghua (Ningbo) woman with no child on
#: record yet, and the phone the registry holds for her.
MOTHER = ("董美", "330213199401167566")
REGION = "330213"
HOSPITAL = f"{REGION}-health"
#: Registers the newborn's household: hears of births.
BUREAU = f"{REGION}-public_security"
#: The county's civil-affairs bureau: it holds no grant of birth certificates.
CIVIL_AFFAIRS = f"{REGION}-civil_affairs"
BIRTHS = "life.birth_registered"


@dataclass
class Push:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Departments:
    """The departments' own endpoints: a real HTTP server on this machine, recording what is
    pushed to it; a path that is ``down`` answers 503."""

    url: str = ""
    pushes: list[Push] = field(default_factory=list)
    down: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[Push]:
        with self.lock:
            return [push for push in self.pushes if push.path == path]


@pytest.fixture(scope="module")
def departments() -> Iterator[Departments]:
    received = Departments()

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            with received.lock:
                received.pushes.append(Push(self.path, headers, body))
                status = 503 if self.path in received.down else 204
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    received.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield received
    server.shutdown()
    server.server_close()


def wait_for(condition: Any, seconds: float = 60.0) -> None:
    """The relays push in the background: wait for ``condition``, at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {seconds} s")
        time.sleep(0.05)


class Story:
    hospital: Client
    bureau: Client
    secret: str
    subscription: str
    mother: str
    offer: dict[str, Any]


def test_0_the_mother_uses_the_app(gateway: httpx.Client, platform: Platform, face_of: Any) -> None:
    """She registered, and proved her name and face: her account is linked to her registry
    record, so that what the registries learn of her reaches her inbox."""
    name, id_number = MOTHER
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    claim_real_name(gateway, token, Person(name, id_number, face_of(id_number)))
    Story.mother = verify_face(gateway, token, Person(name, id_number, face_of(id_number)))


def test_1_a_department_subscribes_to_the_births_its_grant_allows(
    gateway: httpx.Client, platform_admin: str, departments: Departments
) -> None:
    Story.hospital = register_client(
        gateway,
        platform_admin,
        typ="department_system",
        name="医院信息系统（合成数据）",
        dept=HOSPITAL,
    )
    Story.bureau = register_client(
        gateway,
        platform_admin,
        typ="department_system",
        name="户籍业务系统（合成数据）",
        dept=BUREAU,
    )
    bureau = bearer(Story.bureau.token(gateway))
    # Its grant of the health bureau's birth certificates, decided by that bureau's steward.
    applied = gateway.post(
        "/exchange/v1/grants",
        json={
            "resource": "child_birth_certificate",
            "fields": ["child_name", "child_sex", "child_birth_date", "birth_region"],
            "purposes": ["service_delivery"],
            "legal_basis": "《户口登记条例》第七条（合成数据）",
            "rate_limit": {"per_minute": 600},
        },
        headers=bureau,
    )
    assert applied.status_code == 201, applied.text
    steward = create_staff(gateway, platform_admin, HOSPITAL, ["data_steward"])
    approved = gateway.post(
        f"/exchange/v1/grants/{applied.json()['id']}/approve",
        json={
            "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=365)).isoformat(),
            "region": REGION,
        },
        headers=bearer(steward.sign_in(gateway)),
    )
    assert approved.status_code == 200, approved.text

    subscribed = gateway.post(
        "/exchange/v1/subscriptions",
        json={
            "event_type": BIRTHS,
            "endpoint": f"{departments.url}/{BUREAU}/births",
            "purpose": "service_delivery",
        },
        headers=bureau,
    )
    assert subscribed.status_code == 201, subscribed.text
    Story.secret, Story.subscription = subscribed.json()["secret"], subscribed.json()["id"]
    assert subscribed.json()["fields"] == [
        "child_name",
        "child_sex",
        "child_birth_date",
        "birth_region",
    ]

    # The civil-affairs bureau's system holds no such grant: it cannot subscribe.
    civil = register_client(
        gateway,
        platform_admin,
        typ="department_system",
        name="民政业务系统（合成数据）",
        dept=CIVIL_AFFAIRS,
    )
    refused = gateway.post(
        "/exchange/v1/subscriptions",
        json={
            "event_type": BIRTHS,
            "endpoint": f"{departments.url}/{CIVIL_AFFAIRS}/births",
            "purpose": "service_delivery",
        },
        headers=bearer(civil.token(gateway)),
    )
    problem(refused, 403, "event_type_not_granted")


def record_birth(gateway: httpx.Client, number: str, born: dt.date) -> httpx.Response:
    _, id_number = MOTHER
    return gateway.post(
        "/exchange/v1/resources/child_birth_certificate/records",
        json={
            "records": [
                {
                    "subject": {"id_number": id_number},
                    "fields": {
                        "certificate_number": number,
                        "child_name": "董小禾",
                        "child_sex": "female",
                        "child_birth_date": born.isoformat(),
                        "birth_region": REGION,
                        "hospital_name": "宁波市奉化区人民医院（合成数据）",
                    },
                }
            ]
        },
        headers=bearer(Story.hospital.token(gateway)),
    )


def test_2_the_birth_a_hospital_records_reaches_the_bureau_signed_and_down_and_back(
    gateway: httpx.Client, departments: Departments
) -> None:
    path = f"/{BUREAU}/births"
    # The bureau's endpoint is down when the hospital records the birth.
    departments.down.add(path)
    born = dt.date.today() - dt.timedelta(days=2)
    recorded = record_birth(gateway, "N990000001", born)
    assert recorded.status_code == 200, recorded.text

    wait_for(lambda: len(departments.to(path)) >= 2)
    departments.down.discard(path)
    failed = len(departments.to(path))

    def delivered() -> bool:
        listed = gateway.get(
            f"/exchange/v1/subscriptions/{Story.subscription}/deliveries",
            headers=bearer(Story.bureau.token(gateway)),
        )
        assert listed.status_code == 200, listed.text
        return bool(listed.json()["items"][0]["status"] == "delivered")

    wait_for(delivered)
    pushes = departments.to(path)
    assert len(pushes) > failed
    push = pushes[-1]
    event = verify_delivery(push.body, push.headers, Story.secret)
    assert event["type"] == BIRTHS
    assert event["data"]["subject"] == {"id_number": MOTHER[1]}
    # What its grant names: not the hospital's name.
    assert event["data"]["fields"] == {
        "child_name": "董小禾",
        "child_sex": "female",
        "child_birth_date": born.isoformat(),
        "birth_region": REGION,
    }
    # Its ledger receipt verifies, as anyone's does.
    verdict = gateway.post("/exchange/v1/ledger/receipts/verify", json=event["data"]["receipt"])
    assert verdict.status_code == 200, verdict.text
    assert verdict.json()["valid"] is True

    # A forged push (another secret), an altered one, or a replay of an old one: refused by
    # the department's check.
    forged = signed_headers(
        "whsec_" + "A" * 43 + "=",
        message_id=event["id"],
        body=push.body,
        at=dt.datetime.now(dt.UTC),
    )
    stale = signed_headers(
        Story.secret,
        message_id=event["id"],
        body=push.body,
        at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10),
    )
    for body, headers in (
        (push.body, forged),
        (push.body.replace("董小禾".encode(), "林小禾".encode()), push.headers),
        (push.body.replace(b'"female"', b'"male"'), push.headers),
        (push.body, stale),
    ):
        with pytest.raises(DeliveryRejected):
            verify_delivery(body, headers, Story.secret)
    assert json.loads(push.body)["id"] == push.headers["webhook-id"]


def test_3_the_mother_finds_an_offer_and_one_confirmation_files_the_birth_bundle(
    gateway: httpx.Client,
) -> None:
    mine = bearer(Story.mother)

    def offers() -> list[dict[str, Any]]:
        listed = gateway.get("/identity/v1/me/offers", headers=mine)
        assert listed.status_code == 200, listed.text
        items: list[dict[str, Any]] = listed.json()["items"]
        return items

    wait_for(lambda: bool(offers()))
    (offer,) = offers()
    assert (offer["status"], offer["files"]) == ("open", {"kind": "bundle", "code": "birth"})
    inbox = gateway.get("/identity/v1/me/inbox", headers=mine).json()["items"]
    assert [message["kind"] for message in inbox if message.get("offer")] == ["offer"]
    # Nothing is filed before she confirms.
    assert gateway.get("/cases/v1/cases", headers=mine).json()["items"] == []

    confirmed = gateway.post(
        f"/identity/v1/me/offers/{offer['id']}/confirmation",
        json={"answers": {"mother_employee_insured": True}},
        headers={**mine, "Idempotency-Key": f"offer-{offer['id']}"},
    )
    assert confirmed.status_code == 201, confirmed.text
    filed = confirmed.json()
    Story.offer = filed["offer"]
    assert filed["offer"]["status"] == "confirmed"
    assert filed["application_no"] == filed["offer"]["application_no"]
    assert filed["application_no"].startswith(f"{REGION}-B")
    children = filed["children"]
    assert len(children) >= 2
    # One application: its children are her cases, each with the birth as the hospital
    # recorded it, read from the registry on her confirmation, not typed.
    mine_now = gateway.get("/cases/v1/cases", headers=mine).json()["items"]
    assert sorted(case["case_no"] for case in mine_now) == sorted(
        child["case_no"] for child in children
    )
    case = gateway.get(f"/cases/v1/cases/{children[0]['case_no']}", headers=mine).json()
    assert case["form"]["child_name"] == "董小禾"
    assert case["form_provenance"]["child_name"]["source"] == "data_resource"

    # Her retry (the answer lost) is the same application; a second confirmation files nothing.
    again = gateway.post(
        f"/identity/v1/me/offers/{offer['id']}/confirmation",
        json={"answers": {"mother_employee_insured": True}},
        headers={**mine, "Idempotency-Key": f"offer-{offer['id']}"},
    )
    assert again.json()["application_no"] == filed["application_no"]
    problem(
        gateway.post(
            f"/identity/v1/me/offers/{offer['id']}/confirmation",
            json={},
            headers={**mine, "Idempotency-Key": f"offer-{offer['id']}-2"},
        ),
        409,
        "offer_not_open",
    )


def test_4_every_access_to_her_data_since_reaches_her_inbox_once_as_her_log_shows_it(
    gateway: httpx.Client,
) -> None:
    """The birth pushed to the bureau, told to her account for the offer, and read to fill her
    forms: each access the exchange's ledger recorded about her is a notice in her inbox, once,
    saying what her access log says of it, with no text."""
    mine = bearer(Story.mother)
    read = gateway.get("/exchange/v1/me/access-log", params={"limit": 100}, headers=mine)
    assert read.status_code == 200, read.text
    logged = {
        entry["seq"]: entry
        for entry in read.json()["items"]
        if entry["outcome"] == "allowed" and entry["kind"] in ("call", "match", "delivery")
    }
    # Since the birth reached the bureau: her account was linked long before.
    (to_the_bureau,) = [
        seq
        for seq, entry in logged.items()
        if (entry["kind"], entry["consumer"]) == ("delivery", BUREAU)
    ]
    expected = {seq for seq in logged if seq >= to_the_bureau}
    assert any(logged[seq]["kind"] == "call" for seq in expected)

    def notices() -> list[dict[str, Any]]:
        inbox = gateway.get("/identity/v1/me/inbox", params={"limit": 100}, headers=mine)
        assert inbox.status_code == 200, inbox.text
        return [m for m in inbox.json()["items"] if m["kind"] == "data_accessed"]

    wait_for(lambda: expected <= {m["access"]["ledger_seq"] for m in notices()})
    told = notices()
    seqs = [m["access"]["ledger_seq"] for m in told]
    assert len(seqs) == len(set(seqs))
    for message in told:
        access = message["access"]
        entry = logged[access["ledger_seq"]]
        assert {name: access[name] for name in ("kind", "consumer", "purpose", "resource")} == {
            name: entry[name] for name in ("kind", "consumer", "purpose", "resource")
        }
        assert (access["fields"], access["case_id"]) == (entry["fields"], entry["case_id"])
        assert message["texted"] is False
