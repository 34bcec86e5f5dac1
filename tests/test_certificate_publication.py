"""A completed case publishes the certificate it issues, end to end through the gateway between
real processes: a Lucheng resident applies to replace her driving licence (Wenzhou's traffic
police, in Wenzhou's case-svc); a handler approves it and delivers the new licence's number;
case-svc's publisher sends it to the exchange's certificate library for the traffic police; the
case shows the ledger receipt, which verifies at the exchange; and her next application takes
the new licence from the library instead of an upload."""

import datetime as dt
import secrets
import time
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from onevisit_dev.answers import bearer
from onevisit_dev.callers import (
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

REPLACEMENT = "traffic_police.driving_licence_replacement"
WITHDRAWAL = "housing_provident_fund.withdrawal"
TRAFFIC_POLICE = "330300-traffic_police"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story.
DRIVER = ("叶勇兴", "330302198402162259")
#: case-svc's publisher runs every 5 s by default: a generous bound for two shared cores (the
#: bound of a wait, not a timing).
PUBLISHED_WITHIN_SECONDS = 60.0


def _published(gateway: httpx.Client, token: str, case_no: str) -> dict[str, Any]:
    """The case's certificate once its publication is no longer pending (or as it stands when
    the wait ends, for the assert)."""
    deadline = time.monotonic() + PUBLISHED_WITHIN_SECONDS
    while True:
        case = gateway.get(f"/cases/v1/cases/{case_no}", headers=bearer(token))
        assert case.status_code == 200, case.text
        certificate: dict[str, Any] = case.json()["certificate"]
        if certificate["publication"]["status"] != "pending" or time.monotonic() > deadline:
            return certificate
        time.sleep(0.5)


def test_the_delivered_licence_is_published_and_her_next_application_takes_it(
    gateway: httpx.Client, platform: Platform, platform_admin: str, face_of: Any
) -> None:
    name, id_number = DRIVER
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    person = Person(name, id_number, face_of(id_number))
    claim_real_name(gateway, token, person)
    token = verify_face(gateway, token, person)
    handler = create_staff(gateway, platform_admin, TRAFFIC_POLICE, ["handler"]).sign_in(gateway)
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": REPLACEMENT,
            "form": {"contact_phone": "13957700002", "mailing_address": "温州市鹿城区（合成数据）"},
        },
        headers={**bearer(token), "Idempotency-Key": "licence-replacement-of-the-driver-1"},
    )
    assert filed.status_code == 201, filed.text
    case_no, etag = filed.json()["case_no"], filed.headers["etag"]
    assert filed.json()["issues_certificate"] == "driving_licence"

    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()
    number = f"3303{secrets.randbelow(10**8):08d}"
    licence = {
        "number": number,
        "valid_from": today.isoformat(),
        "valid_until": today.replace(year=today.year + 6).isoformat(),
    }
    for action, body in (
        ("claim", None),
        ("accept", {}),
        ("start_review", {}),
        ("approve", {}),
        ("deliver", {"note": "补领驾驶证已制证", "certificate": licence}),
    ):
        headers = {**bearer(handler), "If-Match": etag}
        path = f"/cases/v1/cases/{case_no}"
        if body is None:
            moved = gateway.post(f"{path}/claim", headers=headers)
        else:
            moved = gateway.post(
                f"{path}/transitions", json={"action": action, **body}, headers=headers
            )
        assert moved.status_code == 200, moved.text
        etag = moved.headers["etag"]

    certificate = _published(gateway, token, case_no)

    assert (certificate["type"], certificate["number"]) == ("driving_licence", number)
    publication = certificate["publication"]
    assert publication["status"] == "published", publication
    entry = publication["receipt"]["entry"]
    assert (entry["kind"], entry["consumer"], entry["actor"]) == (
        "load",
        TRAFFIC_POLICE,
        "case-svc",
    )
    assert (entry["resource"], entry["purpose"], entry["case_id"]) == (
        "electronic_certificate",
        "certificate_issuance",
        case_no,
    )
    assert entry["call_id"] == publication["call_id"]
    with platform.client() as anyone:
        verdict = anyone.post("/exchange/v1/ledger/receipts/verify", json=publication["receipt"])
    assert verdict.status_code == 200, verdict.text
    assert verdict.json() == {"valid": True, "failure": None}

    # Her next application: the licence comes from the library, not an upload.
    withdrawal = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": WITHDRAWAL,
            "form": {
                "withdrawal_reason": "rent",
                "amount_cny": "6000",
                "bank_account": "6222020200112233447",
                "contact_phone": "13957700002",
            },
        },
        headers={**bearer(token), "Idempotency-Key": "withdrawal-of-the-driver-1"},
    )
    assert withdrawal.status_code == 201, withdrawal.text
    attached = gateway.post(
        f"/cases/v1/cases/{withdrawal.json()['case_no']}/certificates",
        json={"certificate_number": number},
        headers={**bearer(token), "Idempotency-Key": "new-licence-of-the-driver-1"},
    )
    assert attached.status_code == 201, attached.text
    assert attached.json()["certificate"]["issuing_department"] == TRAFFIC_POLICE
