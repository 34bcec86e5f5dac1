"""An enterprise's journey, end to end over real HTTP through the gateway: the demo citizen's
grandson, the registered legal representative of a small Lucheng company (synthetic), proves who
he is, claims the company (identity-svc asks the market-regulation registry in
data-exchange-svc, yes or no), exchanges his token for one acting for it, and applies for
invoices for the company, in its name and no other; the case keeps both the company and him.

The tests in this module run in order and share him, as his journey does.
"""

import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt

from onevisit_dev.answers import bearer, register_citizen
from onevisit_dev.platform import Platform

#: From data-exchange-svc/data/README.md: the first enterprise of the synthetic registry and its
#: legal representative, the demo citizen's grandson.
COMPANY = "91330302MA1P3D8712"
COMPANY_NAME = "温州市鹿城区浩宇网络科技有限公司（合成数据）"
NAME, ID_NUMBER = "林浩宇", "330302199807160512"
#: Another enterprise of the synthetic registry, which he does not act for.
OTHER_COMPANY, OTHER_COMPANY_NAME = "92330681474963757W", "绍兴市诸暨市国清鑫便利店（合成数据）"
#: Someone of the synthetic population who represents no company.
OTHER_NAME, OTHER_ID_NUMBER = "严文峰", "330225200509013578"
PASSWORD = "Haoyu-1998-invoices"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def claims_of(token: str) -> dict[str, Any]:
    # The gateway and the services verified it; here only its content is looked at.
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def real_named(
    gateway: httpx.Client, var_dir: Path, name: str, id_number: str, face: list[float]
) -> str:
    """A new account whose real name the person's face bound: its access token."""
    phone = "138" + "".join(secrets.choice("0123456789") for _ in range(8))
    register_citizen(gateway, var_dir, phone, PASSWORD)
    token = gateway.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": PASSWORD},
    ).json()["access_token"]
    claimed = gateway.post(
        "/identity/v1/me/real-name",
        json={"name": name, "id_number": id_number},
        headers=bearer(token),
    )
    assert claimed.status_code == 200, claimed.text
    challenge = gateway.post("/identity/v1/me/face/challenges", headers=bearer(token))
    assert challenge.status_code == 201, challenge.text
    verified = gateway.post(
        "/identity/v1/me/face/verifications",
        json={"challenge_id": challenge.json()["challenge_id"], "template": face},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    bound: str = verified.json()["access_token"]
    return bound


class Grandson:
    access_token = ""
    company_token = ""


def test_1_the_registered_legal_representative_claims_his_company(
    gateway: httpx.Client, platform: Platform, face_of: Callable[[str], list[float]]
) -> None:
    var_dir = platform.config.var_dir
    Grandson.access_token = real_named(gateway, var_dir, NAME, ID_NUMBER, face_of(ID_NUMBER))
    claimed = gateway.post(
        "/identity/v1/enterprises",
        json={"credit_code": COMPANY},
        headers=bearer(Grandson.access_token),
    )
    assert claimed.status_code == 201, claimed.text
    body = claimed.json()
    assert (body["role"], body["enterprise"]["name"]) == ("legal_representative", COMPANY_NAME)
    assert body["enterprise"]["registration_status"] == "active"


def test_1b_someone_the_registry_does_not_name_cannot_claim_it(
    gateway: httpx.Client, platform: Platform, face_of: Callable[[str], list[float]]
) -> None:
    other = real_named(
        gateway, platform.config.var_dir, OTHER_NAME, OTHER_ID_NUMBER, face_of(OTHER_ID_NUMBER)
    )
    refused = gateway.post(
        "/identity/v1/enterprises", json={"credit_code": COMPANY}, headers=bearer(other)
    )
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "not_legal_representative"


def test_2_he_gets_a_token_acting_for_the_company(gateway: httpx.Client) -> None:
    exchanged = gateway.post(
        "/identity/v1/token",
        data={"grant_type": EXCHANGE, "subject": COMPANY, "actor_token": Grandson.access_token},
    )
    assert exchanged.status_code == 200, exchanged.text
    Grandson.company_token = exchanged.json()["access_token"]
    claims = claims_of(Grandson.company_token)
    assert (claims["typ"], claims["sub"], claims["roles"]) == (
        "enterprise",
        COMPANY,
        ["legal_representative"],
    )
    assert claims["act"] == {"sub": claims_of(Grandson.access_token)["sub"]}


def test_3_he_applies_for_invoices_for_the_company_and_the_case_keeps_both(
    gateway: httpx.Client,
) -> None:
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": "tax.invoice_issuance",
            "form": {
                "enterprise_name": COMPANY_NAME,
                "unified_social_credit_code": COMPANY,
                "invoice_kind": "ordinary_vat",
                "quantity": 25,
            },
        },
        headers={**bearer(Grandson.company_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    case = filed.json()
    # Handled by the Lucheng tax bureau (the company's registered county), in Wenzhou's instance.
    assert case["case_no"].startswith("330302-")
    read = gateway.get(f"/cases/v1/cases/{case['case_no']}", headers=bearer(Grandson.company_token))
    assert read.status_code == 200, read.text
    text = read.text
    assert COMPANY in text
    assert claims_of(Grandson.access_token)["sub"] in text


def test_3b_an_application_in_another_companys_name_is_refused_and_nothing_is_filed(
    gateway: httpx.Client,
) -> None:
    before = company_cases(gateway)
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": "tax.invoice_issuance",
            "form": {
                "enterprise_name": OTHER_COMPANY_NAME,
                "unified_social_credit_code": OTHER_COMPANY,
                "invoice_kind": "ordinary_vat",
                "quantity": 25,
            },
        },
        headers={**bearer(Grandson.company_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 422, filed.text
    body = filed.json()
    assert body["code"] == "applicant_mismatch"
    assert sorted(error["field"] for error in body["errors"]) == [
        "form.enterprise_name",
        "form.unified_social_credit_code",
    ]
    assert OTHER_COMPANY not in filed.text
    assert company_cases(gateway) == before


def test_3c_leaving_the_companys_name_and_code_out_files_in_the_companys_name(
    gateway: httpx.Client,
) -> None:
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": "tax.invoice_issuance",
            "form": {"invoice_kind": "ordinary_vat", "quantity": 5},
        },
        headers={**bearer(Grandson.company_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    form = filed.json()["form"]
    assert (form["enterprise_name"], form["unified_social_credit_code"]) == (COMPANY_NAME, COMPANY)


def company_cases(gateway: httpx.Client) -> list[str]:
    listed = gateway.get("/cases/v1/cases", headers=bearer(Grandson.company_token))
    assert listed.status_code == 200, listed.text
    return [case["case_no"] for case in listed.json()["items"]]


def test_4_his_own_citizen_token_does_not_act_for_the_company(gateway: httpx.Client) -> None:
    filed = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": "tax.invoice_issuance",
            "form": {
                "enterprise_name": COMPANY_NAME,
                "unified_social_credit_code": COMPANY,
                "invoice_kind": "ordinary_vat",
                "quantity": 1,
            },
        },
        headers={**bearer(Grandson.access_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 403, filed.text
    assert filed.headers["content-type"].startswith("application/problem+json")
    assert filed.json()["code"] == "wrong_subject"
