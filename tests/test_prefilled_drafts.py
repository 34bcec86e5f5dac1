"""Pre-filled draft applications, end to end through the gateway between real processes: a
Lucheng resident files a housing provident-fund withdrawal from a draft (it lives in Wenzhou's
case-svc) whose identity fields the platform filled from her verified identity; and an ID card
replacement from a draft whose registered address the population registry filled once she
consented to the draft. Every field keeps its provenance into the case; the pre-fill read is in
her access log as the handling bureau's, purpose case_prefill, and its receipt verifies."""

import datetime as dt
from typing import Any

import httpx
import pytest

from onevisit_dev.answers import bearer
from onevisit_dev.callers import Person, claim_real_name, register_citizen, verify_face
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

WITHDRAWAL = "housing_provident_fund.withdrawal"
REPLACEMENT = "public_security.id_card_replacement"
#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story.
APPLICANT = ("姚婷婷", "330302198908041104")
REGISTERED_ADDRESS = "浙江省温州市鹿城区滨江街道陡门社区（合成数据）"
BUREAU = "330302-public_security"


def _sources(provenance: dict[str, Any]) -> dict[str, str]:
    return {name: entry["source"] for name, entry in provenance.items()}


def _submit(gateway: httpx.Client, token: str, draft_no: str, key: str) -> dict[str, Any]:
    filed = gateway.post(
        f"/cases/v1/drafts/{draft_no}/submission",
        headers={**bearer(token), "Idempotency-Key": key},
    )
    assert filed.status_code == 201, filed.text
    case: dict[str, Any] = filed.json()
    return case


def test_she_files_from_pre_filled_drafts_and_every_field_keeps_its_provenance(
    gateway: httpx.Client, platform: Platform, face_of: Any
) -> None:
    name, id_number = APPLICANT
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    person = Person(name, id_number, face_of(id_number))
    claim_real_name(gateway, token, person)
    token = verify_face(gateway, token, person)

    # The withdrawal: her identity filled and locked; the rest she types.
    opened = gateway.post("/cases/v1/drafts", json={"item_code": WITHDRAWAL}, headers=bearer(token))
    assert opened.status_code == 201, opened.text
    draft = opened.json()
    assert draft["draft_no"].startswith("330300-D")
    assert draft["form"] == {"name": name, "id_number": id_number}
    assert all(entry["locked"] for entry in draft["provenance"].values())
    locked = gateway.patch(
        f"/cases/v1/drafts/{draft['draft_no']}",
        json={"form": {"name": "别人"}},
        headers=bearer(token),
    )
    assert locked.status_code == 422, locked.text
    assert locked.json()["code"] == "identity_field_locked"
    typed = gateway.patch(
        f"/cases/v1/drafts/{draft['draft_no']}",
        json={
            "form": {
                "withdrawal_reason": "rent",
                "amount_cny": "6000",
                "bank_account": "6222020200112233447",
                "contact_phone": "13957700002",
            }
        },
        headers=bearer(token),
    )
    assert typed.status_code == 200, typed.text
    case = _submit(gateway, token, draft["draft_no"], "withdrawal-from-a-draft-1")
    assert case["case_no"].startswith("330300-")
    assert _sources(case["form_provenance"]) == {
        "name": "verified_identity",
        "id_number": "verified_identity",
        "withdrawal_reason": "typed",
        "amount_cny": "typed",
        "bank_account": "typed",
        "contact_phone": "typed",
    }
    shown = gateway.get(f"/cases/v1/cases/{case['case_no']}", headers=bearer(token))
    assert shown.json()["form_provenance"] == case["form_provenance"]

    # The replacement: her registered address, once she consents to the draft.
    opened = gateway.post(
        "/cases/v1/drafts", json={"item_code": REPLACEMENT}, headers=bearer(token)
    )
    assert opened.status_code == 201, opened.text
    draft = opened.json()
    draft_no = draft["draft_no"]
    # One consent per data resource is asked for; she gives the registry's.
    [asked] = [wanted for wanted in draft["consents_to_fill"] if wanted["resource"] == "population"]
    assert asked == {
        "consumer": BUREAU,
        "resource": "population",
        "fields": ["registered_address"],
        "purpose": "case_prefill",
        "case_id": draft_no,
        "form_fields": ["registered_address"],
    }
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
    consent = gateway.post(
        "/exchange/v1/me/consents",
        json={key: asked[key] for key in ("consumer", "resource", "fields", "purpose", "case_id")}
        | {"expires_at": expires_at},
        headers=bearer(token),
    )
    assert consent.status_code == 201, consent.text
    filled = gateway.post(f"/cases/v1/drafts/{draft_no}/prefill", headers=bearer(token))
    assert filled.status_code == 200, filled.text
    assert filled.json()["form"]["registered_address"] == REGISTERED_ADDRESS
    address = filled.json()["provenance"]["registered_address"]
    assert (address["source"], address["resource"], address["provider_department_type"]) == (
        "data_resource",
        "population",
        "public_security",
    )
    assert address["consent"] == {
        "consumer": BUREAU,
        "purpose": "case_prefill",
        "case_id": draft_no,
        "consent_ids": [consent.json()["id"]],
    }
    assert address["source_time"] is not None
    entry = address["receipt"]["entry"]
    assert (entry["consumer"], entry["actor"], entry["purpose"], entry["case_id"]) == (
        BUREAU,
        "case-svc",
        "case_prefill",
        draft_no,
    )
    with platform.client() as anyone:
        verdict = anyone.post("/exchange/v1/ledger/receipts/verify", json=address["receipt"])
    assert verdict.status_code == 200, verdict.text
    assert verdict.json() == {"valid": True, "failure": None}

    log = gateway.get("/exchange/v1/me/access-log", params={"limit": 100}, headers=bearer(token))
    assert log.status_code == 200, log.text
    # Her opening of the draft was refused a read (no consent yet); the read she consented to:
    reads = [
        item
        for item in log.json()["items"]
        if item["purpose"] == "case_prefill" and item["outcome"] == "allowed"
    ]
    assert [(item["call_id"], item["consumer"], item["case_id"]) for item in reads] == [
        (address["call_id"], BUREAU, draft_no)
    ]

    gateway.patch(
        f"/cases/v1/drafts/{draft_no}",
        json={"form": {"contact_phone": "13957700002"}},
        headers=bearer(token),
    )
    case = _submit(gateway, token, draft_no, "replacement-from-a-draft-1")
    assert case["department_id"] == BUREAU
    assert case["form"]["registered_address"] == REGISTERED_ADDRESS
    assert case["form_provenance"]["registered_address"] == address
