"""The platform's own story, end to end over real HTTP through the gateway: a 74-year-old
resident of Songtai sub-district finds her ID card lost, proves who she is, and files the loss
report in minutes, then rates the service. Each way to fail along the road is checked too.

The tests in this module run in order and share one citizen, as her journey does.
"""

import asyncio
import datetime as dt
import json
import secrets
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import httpx
import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from case_svc.models import Case
from onevisit_dev.answers import bearer, invitation_to_rate, problem, register_citizen
from onevisit_dev.platform import WENZHOU_CASE, Platform
from servicekit.resident_id import check_character

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO = json.loads((REPO_ROOT / "data-exchange-svc/data/demo_face_capture.json").read_text())
NAME = "林秀英"
ID_NUMBER = "330302195203140248"
PASSWORD = "Songtai-1952-lost"
SONGTAI_COMMUNITY = "330302026003"
#: 西湖区, Hangzhou: a city without an instance of its own, served by the provincial one.
HANGZHOU_XIHU = "330106"


def new_phone() -> str:
    return "139" + "".join(secrets.choice("0123456789") for _ in range(8))


class Citizen:
    """What the app on her phone keeps between steps."""

    phone = new_phone()
    access_token = ""
    refresh_token = ""
    case_no = ""
    #: A case of hers still under review: its number and the department handling it.
    open_case: ClassVar[dict[str, Any]] = {}


def sign_in(gateway: httpx.Client, phone: str, password: str) -> dict[str, Any]:
    response = gateway.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def registered_citizen(gateway: httpx.Client, var_dir: Path) -> str:
    phone = new_phone()
    password = "Another-citizen-2026"
    register_citizen(gateway, var_dir, phone, password)
    token: str = sign_in(gateway, phone, password)["access_token"]
    return token


def test_1_she_registers_with_the_code_texted_to_her_phone_and_signs_in_with_her_password(
    gateway: httpx.Client, platform: Platform
) -> None:
    without = gateway.post(
        "/identity/v1/citizens",
        json={"phone": Citizen.phone, "password": PASSWORD, "code": "000000x"},
    )
    problem(without, 400, "invalid_sms_code")
    created = register_citizen(gateway, platform.config.var_dir, Citizen.phone, PASSWORD)
    assert created["loa"] == 1

    problem(
        gateway.post(
            "/identity/v1/token",
            data={"grant_type": "password", "username": Citizen.phone, "password": "wrong-one"},
        ),
        400,
        "invalid_grant",
    )
    tokens = sign_in(gateway, Citizen.phone, PASSWORD)
    assert tokens["token_type"] == "Bearer"
    Citizen.access_token = tokens["access_token"]
    Citizen.refresh_token = tokens["refresh_token"]
    me = gateway.get("/identity/v1/me", headers=bearer(Citizen.access_token))
    assert me.status_code == 200, me.text
    assert me.json()["loa"] == 1


def test_the_gateway_refuses_a_protected_call_without_a_token(gateway: httpx.Client) -> None:
    problem(gateway.get("/identity/v1/me"), 401, "unauthenticated")


def with_check(first17: str) -> str:
    return first17 + check_character(first17)


@pytest.mark.parametrize(
    ("id_number", "reason"),
    [
        ("330302195203140240", "check_character_mismatch"),
        (with_check("33030219520230024"), "invalid_birth_date"),  # 30 February
        (with_check("33030220990314024"), "birth_date_in_future"),
        (with_check("33999919520314024"), "unknown_region"),
        ("33030219520314024", "wrong_length"),
        ("33030219520314-248", "invalid_characters"),
    ],
)
def test_2a_each_bad_id_number_is_refused_with_its_reason(
    gateway: httpx.Client, id_number: str, reason: str
) -> None:
    response = gateway.post(
        "/identity/v1/me/real-name",
        json={"name": NAME, "id_number": id_number},
        headers=bearer(Citizen.access_token),
    )
    assert problem(response, 422, "invalid_id_number")["reason"] == reason


def test_2b_a_name_that_does_not_match_the_number_is_refused(gateway: httpx.Client) -> None:
    response = gateway.post(
        "/identity/v1/me/real-name",
        json={"name": "林秀兰", "id_number": ID_NUMBER},
        headers=bearer(Citizen.access_token),
    )
    problem(response, 422, "real_name_mismatch")


def test_2c_her_name_and_number_match_the_population_registry_and_her_face_is_next(
    gateway: httpx.Client,
) -> None:
    response = gateway.post(
        "/identity/v1/me/real-name",
        json={"name": NAME, "id_number": ID_NUMBER},
        headers=bearer(Citizen.access_token),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Her name and number alone bind nothing: anyone might know them. Her face will.
    assert (body["loa"], body["next_step"]) == (1, "face")
    assert body["id_number_masked"] == "3303**********0248"
    assert ID_NUMBER not in response.text


def loss_report_code(gateway: httpx.Client) -> str:
    found = gateway.get("/catalog/v1/items", params={"q": "身份证丢了"})
    assert found.status_code == 200, found.text
    first = found.json()["items"][0]
    assert first["name"] == "居民身份证挂失申报"
    code: str = first["code"]
    return code


def test_3a_the_loss_report_needs_face_identification_first(gateway: httpx.Client) -> None:
    response = gateway.post(
        "/cases/v1/cases",
        json={"item_code": loss_report_code(gateway), "form": loss_report_form()},
        headers={**bearer(Citizen.access_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    body = problem(response, 403, "insufficient_assurance")
    assert (body["required_loa"], body["current_loa"], body["step"]) == (3, 1, "face")


def new_challenge(gateway: httpx.Client) -> str:
    response = gateway.post("/identity/v1/me/face/challenges", headers=bearer(Citizen.access_token))
    assert response.status_code == 201, response.text
    challenge_id: str = response.json()["challenge_id"]
    return challenge_id


def test_3b_a_face_that_does_not_match_is_refused_and_counted(gateway: httpx.Client) -> None:
    other_face = [-value for value in DEMO["template"]]
    response = gateway.post(
        "/identity/v1/me/face/verifications",
        json={"challenge_id": new_challenge(gateway), "template": other_face},
        headers=bearer(Citizen.access_token),
    )
    assert problem(response, 422, "face_mismatch")["attempts_left"] >= 1


def test_3c_her_face_matches_and_a_used_challenge_cannot_be_replayed(
    gateway: httpx.Client,
) -> None:
    challenge_id = new_challenge(gateway)
    attempt = {"challenge_id": challenge_id, "template": DEMO["template"]}
    response = gateway.post(
        "/identity/v1/me/face/verifications", json=attempt, headers=bearer(Citizen.access_token)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["loa"] == 3
    Citizen.access_token = body["access_token"]
    # The face match bound her real name: her registered residence is her token's region.
    assert claims_of(Citizen.access_token)["region"] == SONGTAI_COMMUNITY

    replay = gateway.post(
        "/identity/v1/me/face/verifications", json=attempt, headers=bearer(Citizen.access_token)
    )
    problem(replay, 409, "challenge_used")


def test_3d_she_sees_who_read_her_data_and_why(gateway: httpx.Client) -> None:
    # identity-svc linked her account to her registry record when her face bound her name.
    log = gateway.get("/exchange/v1/me/access-log", headers=bearer(Citizen.access_token))
    assert log.status_code == 200, log.text
    reads = {(entry["consumer"], entry["kind"], entry["purpose"]) for entry in log.json()["items"]}
    assert ("identity-svc", "match", "real_name_verification") in reads
    assert ("identity-svc", "call", "face_verification") in reads
    assert ID_NUMBER not in log.text


def test_4_the_catalog_finds_the_item_and_the_bureau_that_handles_it_for_her(
    gateway: httpx.Client,
) -> None:
    code = loss_report_code(gateway)
    handler = gateway.get(f"/catalog/v1/items/{code}/handler", params={"region": "330302026"})
    assert handler.status_code == 200, handler.text
    department = handler.json()["department"]
    assert department["name"] == "温州市公安局鹿城区分局"
    assert department["region_code"] == "330302"
    item = gateway.get(f"/catalog/v1/items/{code}").json()
    assert item["processing_mode"] == "instant"
    assert item["min_loa"] == 3


def loss_report_form() -> dict[str, Any]:
    return {
        "name": NAME,
        "id_number": ID_NUMBER,
        "loss_reason": "lost",
        "loss_date": "2026-11-25",
        "loss_place": "温州市鹿城区松台街道",
        "contact_phone": "13957700000",
    }


def test_5_she_files_the_loss_report_once_even_when_the_phone_retries(
    gateway: httpx.Client,
) -> None:
    key = str(uuid.uuid4())
    submission = {"item_code": loss_report_code(gateway), "form": loss_report_form()}
    headers = {**bearer(Citizen.access_token), "Idempotency-Key": key}
    first = gateway.post("/cases/v1/cases", json=submission, headers=headers)
    assert first.status_code == 201, first.text
    case = first.json()
    assert case["status"] == "completed"
    assert case["case_no"].startswith("330302-")
    assert case["department_name"] == "温州市公安局鹿城区分局"

    retry = gateway.post("/cases/v1/cases", json=submission, headers=headers)
    assert retry.status_code == 201, retry.text
    assert retry.json()["case_no"] == case["case_no"]
    mine = gateway.get("/cases/v1/cases", headers=bearer(Citizen.access_token)).json()["items"]
    assert [c["case_no"] for c in mine] == [case["case_no"]]
    Citizen.case_no = case["case_no"]


def test_5b_someone_else_cannot_see_her_case(gateway: httpx.Client, platform: Platform) -> None:
    stranger = registered_citizen(gateway, platform.config.var_dir)
    response = gateway.get(f"/cases/v1/cases/{Citizen.case_no}", headers=bearer(stranger))
    problem(response, 404, "case_not_found")


def test_6_she_is_invited_to_rate_the_service_and_rates_it_once(gateway: httpx.Client) -> None:
    # case-svc told rating-svc the case was completed: it is on her list "to rate".
    invited = invitation_to_rate(gateway, Citizen.access_token, Citizen.case_no)
    assert invited is not None, "the completed case never reached her invitations"
    rating = {"case_no": Citizen.case_no, "level": 5, "tags": ["done_in_one_visit"]}
    keyed = {**bearer(Citizen.access_token), "Idempotency-Key": str(uuid.uuid4())}
    first = gateway.post("/ratings/v1/ratings", json=rating, headers=keyed)
    assert first.status_code == 201, first.text
    assert first.json()["bad_review"] is False
    # The phone lost the answer and retries with its key: the same rating, nothing new.
    retried = gateway.post("/ratings/v1/ratings", json=rating, headers=keyed)
    assert retried.status_code == 201, retried.text
    assert retried.json() == first.json()
    assert retried.headers["idempotency-replayed"] == "true"
    again = gateway.post("/ratings/v1/ratings", json=rating, headers=bearer(Citizen.access_token))
    problem(again, 409, "already_rated")
    # Rated: no longer on her list.
    listed = gateway.get("/ratings/v1/invitations", headers=bearer(Citizen.access_token))
    assert Citizen.case_no not in [item["case_no"] for item in listed.json()["items"]]


def test_6b_a_case_still_under_review_cannot_be_rated_yet(gateway: httpx.Client) -> None:
    found = gateway.get("/catalog/v1/items", params={"q": "住房公积金提取"}).json()["items"]
    item = next(entry for entry in found if entry["processing_mode"] == "review")
    detail = gateway.get(f"/catalog/v1/items/{item['code']}").json()
    submitted = gateway.post(
        "/cases/v1/cases",
        json={"item_code": item["code"], "form": example_form(detail["form_schema"])},
        headers={**bearer(Citizen.access_token), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["status"] == "submitted"
    Citizen.open_case = submitted.json()
    rating = {"case_no": submitted.json()["case_no"], "level": 3}
    response = gateway.post(
        "/ratings/v1/ratings", json=rating, headers=bearer(Citizen.access_token)
    )
    problem(response, 409, "case_not_completed")


def test_6c_she_consents_to_the_department_handling_her_open_case_and_no_other(
    gateway: httpx.Client,
) -> None:
    """data-exchange-svc asks case-svc (through the gateway, as her) before it keeps a consent."""
    case = Citizen.open_case

    def consent(case_id: str, consumer: str) -> httpx.Response:
        return gateway.post(
            "/exchange/v1/me/consents",
            json={
                "consumer": consumer,
                "resource": "population",
                "fields": ["name", "registered_address"],
                "purpose": "housing_provident_fund_withdrawal",
                "case_id": case_id,
                "expires_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat(),
            },
            headers=bearer(Citizen.access_token),
        )

    given = consent(case["case_no"], case["department_id"])
    assert given.status_code == 201, given.text
    assert given.json()["status"] == "live"
    problem(consent(case["case_no"], "330302-civil_affairs"), 422, "case_not_handled_by_consumer")
    problem(consent(Citizen.case_no, "330302-public_security"), 409, "case_closed")
    problem(consent("330302-20200101-999999", case["department_id"]), 422, "unknown_case")


def case_numbers_in(platform: Platform, instance: str) -> set[str]:
    """Every case number in the database of a case-svc instance, read there directly."""

    async def read() -> set[str]:
        engine = create_async_engine(platform.config.database_url(instance))
        try:
            async with engine.connect() as connection:
                return set((await connection.scalars(select(Case.case_no))).all())
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_7_each_case_lives_in_its_regions_instance_and_her_list_sees_them_all(
    gateway: httpx.Client, platform: Platform
) -> None:
    # Staying in Hangzhou, she reports a second loss there: the app names where she applies.
    hangzhou = gateway.post(
        "/cases/v1/cases",
        json={
            "item_code": loss_report_code(gateway),
            "form": {**loss_report_form(), "loss_place": "杭州市西湖区北山街道"},
            "applicant_region": HANGZHOU_XIHU,
        },
        headers={
            **bearer(Citizen.access_token),
            "Idempotency-Key": str(uuid.uuid4()),
            "X-Region-Code": HANGZHOU_XIHU,
        },
    )
    assert hangzhou.status_code == 201, hangzhou.text
    assert hangzhou.json()["department_name"] == "杭州市公安局西湖区分局"
    hangzhou_case = hangzhou.json()["case_no"]

    mine = gateway.get("/cases/v1/cases", headers=bearer(Citizen.access_token))
    assert mine.status_code == 200, mine.text
    listed = mine.json()
    assert listed["incomplete"] == []  # both instances answered the fan-out
    listed_numbers = [case["case_no"] for case in listed["items"]]
    wenzhou_cases = [number for number in listed_numbers if number.startswith("3303")]
    assert hangzhou_case in listed_numbers
    assert Citizen.case_no in wenzhou_cases
    assert len(listed_numbers) == len(set(listed_numbers)) == 3  # loss, fund (6b), Hangzhou
    assert listed_numbers[0] == hangzhou_case  # newest first across both instances

    # Filed with her token's region (Songtai, Wenzhou), her first cases went to Wenzhou's
    # instance; the one filed for Hangzhou, to the provincial one; neither holds the other's.
    in_wenzhou = case_numbers_in(platform, WENZHOU_CASE.name)
    in_province = case_numbers_in(platform, "case")
    assert set(wenzhou_cases) <= in_wenzhou
    assert hangzhou_case not in in_wenzhou
    assert hangzhou_case in in_province
    assert not set(wenzhou_cases) & in_province

    # Read by its number, each case is found in its own instance through the gateway.
    for number in (hangzhou_case, Citizen.case_no):
        read = gateway.get(f"/cases/v1/cases/{number}", headers=bearer(Citizen.access_token))
        assert read.status_code == 200, read.text


SOCIAL_CARD_LOSS = "human_resources_social_security.social_card_loss_report"
#: Her son, of the synthetic population (data-exchange-svc/data/README.md): someone else to
#: her forms, and the one she lets act for her.
SON_NAME, SON_ID_NUMBER = "林建华", "330302197508217559"


def her_cases(gateway: httpx.Client) -> list[str]:
    mine = gateway.get("/cases/v1/cases", headers=bearer(Citizen.access_token))
    assert mine.status_code == 200, mine.text
    return [case["case_no"] for case in mine.json()["items"]]


def file_social_card_loss(
    gateway: httpx.Client, token: str, form: dict[str, Any]
) -> httpx.Response:
    return gateway.post(
        "/cases/v1/cases",
        json={"item_code": SOCIAL_CARD_LOSS, "form": {"contact_phone": "13957700000", **form}},
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )


def test_8a_she_cannot_report_someone_elses_social_security_card_lost(
    gateway: httpx.Client,
) -> None:
    before = her_cases(gateway)

    response = file_social_card_loss(
        gateway, Citizen.access_token, {"name": SON_NAME, "id_number": SON_ID_NUMBER}
    )

    body = problem(response, 422, "applicant_mismatch")
    assert sorted(error["field"] for error in body["errors"]) == ["form.id_number", "form.name"]
    assert SON_NAME not in response.text
    assert SON_ID_NUMBER not in response.text
    assert her_cases(gateway) == before


def test_8b_leaving_her_name_and_number_out_files_the_report_in_her_verified_name(
    gateway: httpx.Client,
) -> None:
    response = file_social_card_loss(gateway, Citizen.access_token, {})

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["status"] == "completed"
    assert (case["form"]["name"], case["form"]["id_number"]) == (NAME, ID_NUMBER)


def claims_of(token: str) -> dict[str, Any]:
    # The gateway and the services verified it; here only its content is looked at.
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def face_verified(gateway: httpx.Client, token: str, template: list[float]) -> str:
    """A challenge, the phone's capture under it: the access token the match gives."""
    challenge = gateway.post("/identity/v1/me/face/challenges", headers=bearer(token))
    assert challenge.status_code == 201, challenge.text
    verified = gateway.post(
        "/identity/v1/me/face/verifications",
        json={"challenge_id": challenge.json()["challenge_id"], "template": template},
        headers=bearer(token),
    )
    assert verified.status_code == 200, verified.text
    access_token: str = verified.json()["access_token"]
    return access_token


def test_9_her_son_acting_for_her_files_in_her_name_never_in_his(
    gateway: httpx.Client, platform: Platform, face_of: Callable[[str], list[float]]
) -> None:
    son_phone, son_password = new_phone(), "Jianhua-1975-helps"
    register_citizen(gateway, platform.config.var_dir, son_phone, son_password)
    signed_in = sign_in(gateway, son_phone, son_password)["access_token"]
    claimed = gateway.post(
        "/identity/v1/me/real-name",
        json={"name": SON_NAME, "id_number": SON_ID_NUMBER},
        headers=bearer(signed_in),
    )
    assert claimed.status_code == 200, claimed.text
    son_token = face_verified(gateway, signed_in, face_of(SON_ID_NUMBER))
    delegation = gateway.post(
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": son_phone,
            "item_codes": [SOCIAL_CARD_LOSS],
            "valid_until": (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat(),
        },
        headers=bearer(Citizen.access_token),
    )
    assert delegation.status_code == 201, delegation.text
    exchanged = gateway.post(
        "/identity/v1/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject": delegation.json()["id"],
            "actor_token": son_token,
        },
    )
    assert exchanged.status_code == 200, exchanged.text
    acting = exchanged.json()["access_token"]

    # Typing his own name and number, he would report his card lost under her application.
    own = file_social_card_loss(gateway, acting, {"name": SON_NAME, "id_number": SON_ID_NUMBER})
    problem(own, 422, "applicant_mismatch")

    for form in ({}, {"name": NAME, "id_number": ID_NUMBER}):
        filed = file_social_card_loss(gateway, acting, form)
        assert filed.status_code == 201, filed.text
        case = filed.json()
        assert (case["form"]["name"], case["form"]["id_number"]) == (NAME, ID_NUMBER)
        assert case["applicant_id"] == claims_of(Citizen.access_token)["sub"]
        assert case["actor_id"] == claims_of(son_token)["sub"]


#: What she would type, or the app would fill in, for fields forms commonly share.
HER_VALUES: dict[str, Any] = {
    "name": NAME,
    "id_number": ID_NUMBER,
    "contact_phone": "13957700000",
    "registered_region": SONGTAI_COMMUNITY,
    "registered_address": "浙江省温州市鹿城区松台街道庆年坊社区（合成数据）",
    "amount_cny": "20000.00",
    "bank_account": "6222020200112233445",
}


def example_form(schema: dict[str, Any]) -> dict[str, Any]:
    """Fill the required fields of a form schema with her values, or plausible ones by type."""
    values: dict[str, Any] = {}
    for name in schema.get("required", []):
        field = schema["properties"][name]
        if name in HER_VALUES:
            values[name] = HER_VALUES[name]
        elif "enum" in field:
            values[name] = field["enum"][0]
        elif "oneOf" in field:
            values[name] = field["oneOf"][0]["const"]
        elif field.get("type") in {"number", "integer"}:
            values[name] = max(1, field.get("minimum", 1))
        elif field.get("type") == "boolean":
            values[name] = True
        elif field.get("format") == "date":
            values[name] = "2026-11-20"
        elif "pattern" in field:
            raise AssertionError(f"give the test a value for {name}: {field['pattern']}")
        else:
            values[name] = "示例"
    return values
