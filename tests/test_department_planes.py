"""The department plane, tried as an attacker with a county department's credentials would, end
to end over real HTTP through the gateway: a Lucheng (330302) department admin registers a
police system, and the system tries to rewrite records beyond its county or to swap a
resident's face template without a second person; Zhuji's market regulator tries to rewrite a
Wenzhou company's legal representative; a department admin registers a client that would pass
for identity-svc or another county's system; a department writes text, or another person's
case, into a citizen's access log. And the registry's own change of a company's legal
representative, approved by a steward, ends the authorisations the old one gave until the new
one confirms them.
"""

import csv
import datetime as dt
import secrets
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from data_exchange_svc.registry.faces import template_from_seed
from onevisit_dev import callers
from onevisit_dev.answers import bearer, problem, register_citizen, send
from onevisit_dev.callers import Person
from onevisit_dev.platform import Platform

REPO_ROOT = Path(__file__).resolve().parents[1]
LUCHENG_POLICE = "330302-public_security"
WENZHOU_POLICE = "330300-public_security"

FaceOf = Callable[[str], list[float]]


def in_days(days: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat()


def residents() -> list[dict[str, str]]:
    path = REPO_ROOT / "data-exchange-svc/data/population.csv"
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def staff_token(gateway: httpx.Client, admin: str, dept: str, roles: list[str]) -> str:
    phone = "137" + "".join(secrets.choice("0123456789") for _ in range(8))
    password = f"Staff-{secrets.token_hex(6)}"
    created = send(
        gateway,
        "POST",
        "/identity/v1/staff",
        json={"phone": phone, "password": password, "dept": dept, "roles": roles},
        headers=bearer(admin),
    )
    assert created.status_code == 201, created.text
    signed_in = send(
        gateway,
        "POST",
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
    )
    assert signed_in.status_code == 200, signed_in.text
    token: str = signed_in.json()["access_token"]
    return token


def system_token(gateway: httpx.Client, department_admin: str, dept: str) -> str:
    registered = send(
        gateway,
        "POST",
        "/identity/v1/clients",
        json={
            "name": "业务系统（合成数据）",
            "typ": "department_system",
            "dept": dept,
            "scopes": list(callers.DEPARTMENT_SYSTEM_SCOPES),
        },
        headers=bearer(department_admin),
    )
    assert registered.status_code == 201, registered.text
    client = registered.json()
    issued = send(
        gateway,
        "POST",
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


@pytest.fixture(scope="module")
def county_admin(platform: Platform, platform_admin: str) -> Iterator[str]:
    """A department admin of Lucheng's police, appointed once for the module's stories."""
    with platform.client() as gateway:
        yield staff_token(gateway, platform_admin, LUCHENG_POLICE, ["department_admin"])


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


# --- Finding 4: employees end with the representative who authorised them -----------------------

#: A Lucheng company of the synthetic registry no other story uses, its registered legal
#: representative, and the Lucheng resident the registry names after her.
CHANGED_COMPANY = "91330302671142202T"
OLD_REPRESENTATIVE = "330302194004151708"
NEW_REPRESENTATIVE = "33030219741210535X"
LUCHENG_MARKET = "330302-market_regulation"
WENZHOU_MARKET = "330300-market_regulation"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def resident(id_number: str) -> dict[str, str]:
    return next(person for person in residents() if person["id_number"] == id_number)


def enterprise_record(credit_code: str) -> dict[str, str]:
    path = REPO_ROOT / "data-exchange-svc/data/business_registration.csv"
    with path.open(encoding="utf-8", newline="") as source:
        return next(row for row in csv.DictReader(source) if row["credit_code"] == credit_code)


def enterprise_load(credit_code: str, representative: dict[str, str]) -> dict[str, Any]:
    """The company's registry record as its registration authority loads it, naming
    ``representative`` (a resident) as its legal representative."""
    row = enterprise_record(credit_code)
    fields: dict[str, Any] = {
        name: value or None for name, value in row.items() if name != "credit_code"
    }
    fields["legal_representative_name"] = representative["name"]
    fields["legal_representative_id_number"] = representative["id_number"]
    return {"records": [{"subject": {"credit_code": credit_code}, "fields": fields}]}


def real_named(gateway: httpx.Client, platform: Platform, face_of: FaceOf, id_number: str) -> str:
    """The access token of a new account whose real name the resident's own face bound."""
    citizen = callers.register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    person = Person(resident(id_number)["name"], id_number, face_of(id_number))
    callers.claim_real_name(gateway, token, person)
    return callers.verify_face(gateway, token, person)


def company_token(gateway: httpx.Client, credit_code: str, actor_token: str) -> httpx.Response:
    form = {"grant_type": EXCHANGE, "subject": credit_code, "actor_token": actor_token}
    return send(gateway, "POST", "/identity/v1/token", data=form)


def test_an_employee_waits_for_the_new_legal_representative_the_registry_names(
    gateway: httpx.Client, platform: Platform, platform_admin: str, face_of: FaceOf
) -> None:
    old = real_named(gateway, platform, face_of, OLD_REPRESENTATIVE)
    claimed = send(
        gateway,
        "POST",
        "/identity/v1/enterprises",
        json={"credit_code": CHANGED_COMPANY},
        headers=bearer(old),
    )
    assert claimed.status_code == 201, claimed.text
    employee = callers.register_citizen(gateway, platform.config.var_dir)
    authorised = send(
        gateway,
        "POST",
        f"/identity/v1/enterprises/{CHANGED_COMPANY}/agents",
        json={"agent_phone": employee.phone, "valid_until": in_days(300)},
        headers=bearer(old),
    )
    assert authorised.status_code == 201, authorised.text
    acting = company_token(gateway, CHANGED_COMPANY, employee.sign_in(gateway))
    assert acting.status_code == 200, acting.text

    # Lucheng's market regulator registers the new representative; a steward approves it.
    market_admin = staff_token(gateway, platform_admin, LUCHENG_MARKET, ["department_admin"])
    market_system = system_token(gateway, market_admin, LUCHENG_MARKET)
    held = send(
        gateway,
        "POST",
        "/exchange/v1/resources/business_registration/records",
        json=enterprise_load(CHANGED_COMPANY, resident(NEW_REPRESENTATIVE)),
        headers=bearer(market_system),
    )
    assert held.status_code == 202, held.text
    assert held.json()["changes"] == [
        {"row": 0, "fields": ["legal_representative_name", "legal_representative_id_number"]}
    ]
    steward = staff_token(gateway, platform_admin, WENZHOU_MARKET, ["data_steward"])
    approved = send(
        gateway,
        "POST",
        f"/exchange/v1/record-changes/{held.json()['id']}/approve",
        headers=bearer(steward),
    )
    assert approved.status_code == 200, approved.text

    # The employee's authorisation was the old representative's to give: it waits now.
    refused = company_token(gateway, CHANGED_COMPANY, employee.sign_in(gateway))
    problem(refused, 400, "authorisation_unconfirmed")
    new = real_named(gateway, platform, face_of, NEW_REPRESENTATIVE)
    claimed = send(
        gateway,
        "POST",
        "/identity/v1/enterprises",
        json={"credit_code": CHANGED_COMPANY},
        headers=bearer(new),
    )
    assert claimed.status_code == 201, claimed.text
    members_path = f"/identity/v1/enterprises/{CHANGED_COMPANY}/members"
    listed = send(gateway, "GET", members_path, headers=bearer(new))
    assert listed.status_code == 200, listed.text
    agent = next(m for m in listed.json()["items"] if m["role"] == "agent")
    assert agent["status"] == "awaiting_confirmation"
    problem(
        company_token(gateway, CHANGED_COMPANY, employee.sign_in(gateway)),
        400,
        "authorisation_unconfirmed",
    )
    confirmed = send(
        gateway, "POST", f"{members_path}/{agent['id']}/confirmation", headers=bearer(new)
    )
    assert confirmed.status_code == 200, confirmed.text
    acting = company_token(gateway, CHANGED_COMPANY, employee.sign_in(gateway))
    assert acting.status_code == 200, acting.text


# --- Finding 7: client ids are the platform's to control -------------------------------------


@pytest.mark.parametrize(
    ("admin", "body", "status", "code"),
    [
        (
            "department",
            {"client_id": "identity-svc", "typ": "department_system", "dept": LUCHENG_POLICE},
            422,
            "client_id_outside_namespace",
        ),
        (
            "department",
            {
                "client_id": "ds-330303-public-security-records",
                "typ": "department_system",
                "dept": LUCHENG_POLICE,
            },
            422,
            "client_id_outside_namespace",
        ),
        (
            "department",
            {
                "client_id": "ds-330303-public-security-records",
                "typ": "department_system",
                "dept": "330303-public_security",
            },
            403,
            "other_department",
        ),
        (
            "department",
            {"client_id": "identity-svc", "typ": "service"},
            403,
            "staff_admin_required",
        ),
        (
            "platform",
            {"client_id": "identity-svc", "typ": "service"},
            422,
            "client_id_outside_namespace",
        ),
        (
            "platform",
            {"client_id": "ds-330302-public-security-x", "typ": "service"},
            422,
            "client_id_outside_namespace",
        ),
    ],
    ids=[
        "identity-svc-as-a-system",
        "another-countys-namespace",
        "another-countys-system",
        "a-service-by-a-department",
        "identity-svc-as-a-service",
        "a-service-in-a-departments-namespace",
    ],
)
def test_no_administrator_registers_a_client_that_passes_for_another(
    gateway: httpx.Client,
    platform_admin: str,
    county_admin: str,
    admin: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    token = county_admin if admin == "department" else platform_admin
    refused = send(
        gateway,
        "POST",
        "/identity/v1/clients",
        json={"name": "冒名系统（合成数据）", **body},
        headers=bearer(token),
    )
    problem(refused, status, code)


def test_a_county_system_gets_an_id_in_its_departments_namespace(
    gateway: httpx.Client, county_admin: str
) -> None:
    registered = send(
        gateway,
        "POST",
        "/identity/v1/clients",
        json={
            "name": "户籍业务系统（合成数据）",
            "typ": "department_system",
            "dept": LUCHENG_POLICE,
        },
        headers=bearer(county_admin),
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["client_id"].startswith("ds-330302-public-security-")


# --- Finding 8: nothing but a case of hers reaches a citizen's access log -----------------------

#: Lucheng residents no other story uses: the one whose log is read, and another applicant.
LOGGED_RESIDENT = "330302196710065873"
OTHER_APPLICANT = "330302199208176803"
#: Reviewed by Lucheng's police: a case stays open, submitted.
ID_CARD_REPLACEMENT = "public_security.id_card_replacement"
PHISHING = "请致电4000000000领取补贴"


def filed_case(gateway: httpx.Client, token: str) -> str:
    filed = send(
        gateway,
        "POST",
        "/cases/v1/cases",
        json={"item_code": ID_CARD_REPLACEMENT, "form": {"contact_phone": "13957700000"}},
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert filed.status_code == 201, filed.text
    case_no: str = filed.json()["case_no"]
    return case_no


def granted_police_system(gateway: httpx.Client, platform_admin: str, county_admin: str) -> str:
    """A system of Lucheng's police holding a grant on Lucheng residents' names, for reviewing
    cases and filling forms, approved by the bureau's data steward."""
    system = system_token(gateway, county_admin, LUCHENG_POLICE)
    applied = send(
        gateway,
        "POST",
        "/exchange/v1/grants",
        json={
            "resource": "population",
            "fields": ["name"],
            "purposes": ["case_review", "case_prefill"],
            "legal_basis": "《浙江省公共数据条例》第二十三条（合成数据）",
            "rate_limit": {"per_minute": 600, "burst": 60},
        },
        headers={**bearer(system), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert applied.status_code == 201, applied.text
    steward = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["data_steward"])
    approved = send(
        gateway,
        "POST",
        f"/exchange/v1/grants/{applied.json()['id']}/approve",
        json={"expires_at": in_days(30), "region": "330302"},
        headers=bearer(steward),
    )
    assert approved.status_code == 200, approved.text
    return system


def test_a_department_writes_no_text_and_no_other_case_into_a_citizens_access_log(
    gateway: httpx.Client,
    platform: Platform,
    platform_admin: str,
    county_admin: str,
    face_of: FaceOf,
) -> None:
    citizen = real_named(gateway, platform, face_of, LOGGED_RESIDENT)
    other = real_named(gateway, platform, face_of, OTHER_APPLICANT)
    her_case, other_case = filed_case(gateway, citizen), filed_case(gateway, other)
    system = granted_police_system(gateway, platform_admin, county_admin)
    subject = {"id_number": LOGGED_RESIDENT}
    name = resident(LOGGED_RESIDENT)["name"]

    def match(case_id: str) -> httpx.Response:
        body = {
            "resource": "population",
            "subject": subject,
            "claims": {"name": name},
            "purpose": "case_review",
            "case_id": case_id,
        }
        return send(gateway, "POST", "/exchange/v1/matches", json=body, headers=bearer(system))

    def call(case_id: str) -> httpx.Response:
        body = {
            "resource": "population",
            "subject": subject,
            "fields": ["name"],
            "purpose": "case_prefill",
            "case_id": case_id,
        }
        return send(gateway, "POST", "/exchange/v1/calls", json=body, headers=bearer(system))

    problem(call(PHISHING), 422, "validation_failed")
    problem(match(PHISHING), 422, "validation_failed")
    # A real case, but another resident's: refused without her consent, and refused as a match.
    refused_call = problem(call(other_case), 403, "consent_required")
    refused_match = problem(match(other_case), 422, "case_not_of_subject")
    allowed = match(her_case)
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["match"] is True

    log = send(gateway, "GET", "/exchange/v1/me/access-log", headers=bearer(citizen))
    assert log.status_code == 200, log.text
    assert "4000000000" not in log.text
    assert other_case not in log.text
    entries = {item["call_id"]: item for item in log.json()["items"]}
    assert (
        entries[refused_call["call_id"]]["code"],
        entries[refused_call["call_id"]]["case_id"],
    ) == (
        "consent_required",
        None,
    )
    assert (
        entries[refused_match["call_id"]]["code"],
        entries[refused_match["call_id"]]["case_id"],
    ) == (
        "case_not_of_subject",
        None,
    )
    mine = entries[allowed.json()["call_id"]]
    assert (mine["outcome"], mine["case_id"]) == ("allowed", her_case)


# --- Finding 1: a county regulator keeps to its county's enterprises ----------------------------

#: A Rui'an (Wenzhou) company of the synthetic registry no other story uses, and a Zhuji
#: (Shaoxing) resident who would like to be its legal representative.
WENZHOU_COMPANY = "91330381471533073A"
ZHUJI_ATTACKER = "330681197308137345"
ZHUJI_MARKET = "330681-market_regulation"


def test_zhujis_market_regulator_cannot_rewrite_a_wenzhou_companys_legal_representative(
    gateway: httpx.Client, platform: Platform, platform_admin: str, face_of: FaceOf
) -> None:
    zhuji_admin = staff_token(gateway, platform_admin, ZHUJI_MARKET, ["department_admin"])
    zhuji_system = system_token(gateway, zhuji_admin, ZHUJI_MARKET)
    refusal = problem(
        send(
            gateway,
            "POST",
            "/exchange/v1/resources/business_registration/records",
            json=enterprise_load(WENZHOU_COMPANY, resident(ZHUJI_ATTACKER)),
            headers=bearer(zhuji_system),
        ),
        403,
        "outside_jurisdiction",
    )
    assert refusal["department"] == ZHUJI_MARKET
    # The registry still names the company's own representative: the attacker claims nothing.
    attacker = real_named(gateway, platform, face_of, ZHUJI_ATTACKER)
    problem(
        send(
            gateway,
            "POST",
            "/identity/v1/enterprises",
            json={"credit_code": WENZHOU_COMPANY},
            headers=bearer(attacker),
        ),
        403,
        "not_legal_representative",
    )


GRANT_APPLICATION = {
    "resource": "population",
    "fields": ["name"],
    "purposes": ["case_review"],
    "legal_basis": "《浙江省公共数据条例》第二十三条（合成数据）",
    "rate_limit": {"per_minute": 60, "burst": 10},
}


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"fields": ["name", "face_template"]}, 403, "field_reserved"),
        ({"purposes": ["anything"]}, 422, "unknown_purpose"),
        ({"purposes": ["face_verification"]}, 403, "purpose_reserved"),
        ({"rate_limit": None}, 422, "rate_limit_required"),
    ],
    ids=["face-template", "purpose-off-the-list", "platform-purpose", "no-rate-limit"],
)
def test_a_county_police_steward_cannot_apply_for_what_no_one_may_hold(
    gateway: httpx.Client,
    platform_admin: str,
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    """The application of the finding: face templates, a purpose of its own making, no rate
    limit. Refused as it is sent, whoever would decide it."""
    steward = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["data_steward"])
    applied = send(
        gateway,
        "POST",
        "/exchange/v1/grants",
        json={**GRANT_APPLICATION, **changes},
        headers={**bearer(steward), "Idempotency-Key": str(uuid.uuid4())},
    )
    problem(applied, status, code)


def test_no_one_decides_their_own_grant_application(
    gateway: httpx.Client, platform_admin: str
) -> None:
    """A county police steward applies and cannot approve it; another steward of the bureau
    can, for the county only, never for the province."""
    applicant = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["data_steward"])
    applied = send(
        gateway,
        "POST",
        "/exchange/v1/grants",
        json=GRANT_APPLICATION,
        headers={**bearer(applicant), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert applied.status_code == 201, applied.text
    approve = f"/exchange/v1/grants/{applied.json()['id']}/approve"
    own = send(
        gateway,
        "POST",
        approve,
        json={"expires_at": in_days(30), "region": "330302"},
        headers=bearer(applicant),
    )
    problem(own, 403, "own_application")

    other = staff_token(gateway, platform_admin, LUCHENG_POLICE, ["data_steward"])
    province = send(
        gateway,
        "POST",
        approve,
        json={"expires_at": in_days(30), "region": "33"},
        headers=bearer(other),
    )
    problem(province, 403, "outside_jurisdiction")
    county = send(
        gateway,
        "POST",
        approve,
        json={"expires_at": in_days(30), "region": "330302"},
        headers=bearer(other),
    )
    assert county.status_code == 200, county.text
