"""The department plane, tried as an attacker with a county department's credentials would, end
to end over real HTTP through the gateway: a Lucheng (330302) department admin registers a
police system, and the system tries to rewrite records beyond its county or to swap a
resident's face template without a second person.
"""

import csv
import secrets
from pathlib import Path
from typing import Any

import httpx

from data_exchange_svc.registry.faces import template_from_seed
from onevisit_dev.answers import bearer, problem, register_citizen
from onevisit_dev.platform import Platform

REPO_ROOT = Path(__file__).resolve().parents[1]
LUCHENG_POLICE = "330302-public_security"
WENZHOU_POLICE = "330300-public_security"


def residents() -> list[dict[str, str]]:
    path = REPO_ROOT / "data-exchange-svc/data/population.csv"
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def staff_token(gateway: httpx.Client, admin: str, dept: str, roles: list[str]) -> str:
    phone = "137" + "".join(secrets.choice("0123456789") for _ in range(8))
    password = f"Staff-{secrets.token_hex(6)}"
    created = gateway.post(
        "/identity/v1/staff",
        json={"phone": phone, "password": password, "dept": dept, "roles": roles},
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    signed_in = gateway.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
    )
    assert signed_in.status_code == 200, signed_in.text
    token: str = signed_in.json()["access_token"]
    return token


def system_token(gateway: httpx.Client, department_admin: str, dept: str) -> str:
    registered = gateway.post(
        "/identity/v1/clients",
        json={"name": "户籍业务系统（合成数据）", "typ": "department_system", "dept": dept},
        headers=bearer(department_admin),
    )
    assert registered.status_code == 201, registered.text
    client = registered.json()
    issued = gateway.post(
        "/identity/v1/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert issued.status_code == 200, issued.text
    token: str = issued.json()["access_token"]
    return token


def as_loaded(person: dict[str, str], **changes: Any) -> dict[str, Any]:
    fields = {
        "name": person["name"],
        "sex": person["sex"],
        "birth_date": person["birth_date"],
        "ethnicity": person["ethnicity"],
        "registered_address": person["registered_address"],
        "registered_region": person["registered_region"],
        "face_template": template_from_seed(int(person["face_seed"])),
        "id_card_status": person["id_card_status"],
        **changes,
    }
    return {"records": [{"subject": {"id_number": person["id_number"]}, "fields": fields}]}


def test_a_county_police_system_cannot_take_over_a_hangzhou_residents_identity(
    gateway: httpx.Client, platform_admin: str
) -> None:
    county_admin = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["department_admin"])
    lucheng_system = system_token(gateway, county_admin, LUCHENG_POLICE)
    hangzhou_resident = next(p for p in residents() if p["registered_region"].startswith("3301"))
    attack = as_loaded(
        hangzhou_resident, registered_region="330302026003", face_template=template_from_seed(1)
    )
    refusal = problem(
        gateway.post(
            "/exchange/v1/resources/population/records",
            json=attack,
            headers=bearer(lucheng_system),
        ),
        403,
        "outside_jurisdiction",
    )
    assert refusal["department"] == LUCHENG_POLICE
    assert hangzhou_resident["id_number"] not in str(refusal)


def test_a_new_face_for_a_lucheng_resident_waits_for_a_data_steward(
    gateway: httpx.Client, platform_admin: str
) -> None:
    county_admin = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["department_admin"])
    lucheng_system = system_token(gateway, county_admin, LUCHENG_POLICE)
    # A Lucheng resident no other journey uses (the demo citizen is the first row).
    resident = [p for p in residents() if p["registered_region"].startswith("330302")][-1]
    held = gateway.post(
        "/exchange/v1/resources/population/records",
        json=as_loaded(resident, face_template=template_from_seed(99_999)),
        headers=bearer(lucheng_system),
    )
    assert held.status_code == 202, held.text
    change = held.json()
    assert change["changes"] == [{"row": 0, "fields": ["face_template"]}]
    path = f"/exchange/v1/record-changes/{change['id']}"
    # The county admin who registered the system cannot appoint the second person himself.
    refused = gateway.post(
        "/identity/v1/staff",
        json={
            "phone": "137" + "".join(secrets.choice("0123456789") for _ in range(8)),
            "password": "Steward-2026-x",
            "dept": LUCHENG_POLICE,
            "roles": ["data_steward"],
        },
        headers=bearer(county_admin),
    )
    problem(refused, 403, "role_beyond_tier")
    problem(
        gateway.post(f"{path}/approve", headers=bearer(county_admin)), 403, "data_steward_required"
    )
    steward = staff_token(gateway, platform_admin, WENZHOU_POLICE, ["data_steward"])
    approved = gateway.post(f"{path}/approve", headers=bearer(steward))
    assert approved.status_code == 200, approved.text
    assert approved.json()["load"]["replaced"] == 1


def test_the_ledger_is_public_like_a_transparency_log(gateway: httpx.Client) -> None:
    checkpoint = gateway.get("/exchange/v1/ledger/checkpoints/latest")
    assert checkpoint.status_code == 200, checkpoint.text
    assert gateway.get("/exchange/v1/ledger/public-key").status_code == 200
    size = checkpoint.json()["tree_size"]
    assert gateway.get(f"/exchange/v1/ledger/entries/{size}/proof").status_code == 200


def test_a_resident_never_reaches_the_registry_loads(
    gateway: httpx.Client, platform: Platform
) -> None:
    phone = "136" + "".join(secrets.choice("0123456789") for _ in range(8))
    register_citizen(gateway, platform.config.var_dir, phone, "Resident-2026-x")
    token = gateway.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": "Resident-2026-x"},
    ).json()["access_token"]
    refused = gateway.post(
        "/exchange/v1/resources/population/records", json={}, headers=bearer(token)
    )
    problem(refused, 403, "token_type_not_allowed")


def test_an_administrator_cannot_mint_client_secrets_without_limit(
    gateway: httpx.Client, platform_admin: str
) -> None:
    county_admin = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["department_admin"])
    answers = [
        gateway.post(
            "/identity/v1/clients",
            json={
                "name": "批量注册（合成数据）",
                "typ": "department_system",
                "dept": LUCHENG_POLICE,
            },
            headers=bearer(county_admin),
        )
        for _ in range(30)
    ]
    statuses = [answer.status_code for answer in answers]
    # Each registration hashes a secret: a burst of ten, then one every two seconds, so thirty
    # in a row cannot all be made however slowly each is answered here.
    assert statuses[:10] == [201] * 10, statuses
    refused = [answer for answer in answers if answer.status_code == 429]
    assert refused, statuses
    problem(refused[0], 429, "rate_limited")
    assert int(refused[0].headers["retry-after"]) >= 1
