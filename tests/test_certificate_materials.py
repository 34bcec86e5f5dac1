"""An electronic certificate as a material, end to end through the gateway between real
processes: a Lucheng resident files a housing provident-fund withdrawal (it lands in Wenzhou's
case-svc) and attaches her senior citizen card by its number instead of a scan; case-svc reads it
from the exchange's certificate registry as itself, for her case, and the ledger receipt of that
read verifies at the exchange's public receipt check."""

from typing import Any

import httpx
import pytest

from onevisit_dev.answers import bearer
from onevisit_dev.callers import Person, claim_real_name, register_citizen, verify_face
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

WITHDRAWAL = "housing_provident_fund.withdrawal"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story, and
#: her senior citizen card in the synthetic certificate registry (electronic_certificate.csv).
HOLDER = ("金兰燕", "330302194503256686")
SENIOR_CARD = "33030213787894"


def test_she_attaches_her_senior_card_and_its_receipt_verifies_at_the_exchange(
    gateway: httpx.Client, platform: Platform, face_of: Any
) -> None:
    name, id_number = HOLDER
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    person = Person(name, id_number, face_of(id_number))
    claim_real_name(gateway, token, person)
    token = verify_face(gateway, token, person)
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": WITHDRAWAL,
            "form": {
                "withdrawal_reason": "retirement",
                "amount_cny": "20000",
                "bank_account": "6222020200112233446",
                "contact_phone": "13957700001",
            },
        },
        headers={**bearer(token), "Idempotency-Key": "withdrawal-of-the-card-holder-1"},
    )
    assert filed.status_code == 201, filed.text
    case_no = filed.json()["case_no"]

    attached = gateway.post(
        f"/cases/v1/cases/{case_no}/certificates",
        json={"certificate_number": SENIOR_CARD},
        headers={**bearer(token), "Idempotency-Key": "senior-card-of-the-holder-1"},
    )

    assert attached.status_code == 201, attached.text
    material = attached.json()
    assert material["kind"] == "certificate"
    assert material["certificate"] == {
        "type": "senior_citizen_card",
        "name": "老年人优待证",
        "number": SENIOR_CARD,
        "issuing_department": "330302-civil_affairs",
        "valid_from": "2020-02-18",
        "valid_until": None,
        "status": "valid",
    }
    entry = material["receipt"]["entry"]
    assert (entry["consumer"], entry["actor"], entry["resource"]) == (
        "case-svc",
        "case-svc",
        "electronic_certificate",
    )
    assert (entry["case_id"], entry["purpose"], entry["outcome"]) == (
        case_no,
        "case_review",
        "allowed",
    )
    assert "holder_name" not in entry["fields"]
    listed = gateway.get(f"/cases/v1/cases/{case_no}/materials", headers=bearer(token))
    assert listed.json()["items"] == [material]

    # Anyone holding the receipt checks it at the exchange, without an account.
    with platform.client() as anyone:
        verdict = anyone.post("/exchange/v1/ledger/receipts/verify", json=material["receipt"])

    assert verdict.status_code == 200, verdict.text
    assert verdict.json() == {"valid": True, "failure": None}

    # Again, as a new request: refused by the case, and the registry is not read a second time.
    again = gateway.post(
        f"/cases/v1/cases/{case_no}/certificates",
        json={"certificate_number": SENIOR_CARD},
        headers={**bearer(token), "Idempotency-Key": "senior-card-of-the-holder-2"},
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "certificate_already_attached"
    log = gateway.get("/exchange/v1/me/access-log", params={"limit": 100}, headers=bearer(token))
    assert log.status_code == 200, log.text
    reads = [entry for entry in log.json()["items"] if entry["consumer"] == "case-svc"]
    assert [entry["call_id"] for entry in reads] == [material["call_id"]]
