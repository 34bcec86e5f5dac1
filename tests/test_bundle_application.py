"""A mother files the birth bundle (出生一件事) once, end to end through the gateway between real
processes, without typing a field the government holds (a bundle draft, filled from the
registries on her consent): one application, a child case at each of five departments across
two tiers (Lucheng's health, public security, medical security and social security bureaus, and
Wenzhou's medical security bureau for her maternity allowance), each in the instance of its
department's region (Wenzhou's case-svc, tier routing); she follows it as one; each department
completes its part and she is invited to rate each; the application is then completed.

The tests in this module run in order and share the people, as the story does.
"""

import datetime as dt
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from onevisit_dev.answers import bearer, invitation_to_rate, problem
from onevisit_dev.callers import (
    Person,
    claim_real_name,
    create_staff,
    register_citizen,
    verify_face,
)
from onevisit_dev.platform import WENZHOU_CASE, Platform

from .test_case_handling import cases_in

pytestmark = pytest.mark.e2e

#: From the synthetic population and its birth certificates (data-exchange-svc/data/), in no
#: other story: a Lucheng mother and her daughter born in September.
MOTHER = ("杨雅雅", "330302199102077700")
#: What the birth bundle's forms ask of her, as the registries hold it.
BIRTH_FORM = {
    "child_name": "郭霞",
    "child_birth_date": "2026-09-24",
    "birth_hospital": "温州市鹿城区第二人民医院（合成数据）",
    "birth_certificate_number": "N000000027",
}
PATH = "/cases/v1/bundle-applications"


class Story:
    mother: str
    key: str
    application: dict[str, Any]


def test_1_she_files_the_birth_bundle_without_typing_what_the_government_holds(
    gateway: httpx.Client, platform: Platform, face_of: Any
) -> None:
    name, id_number = MOTHER
    person = Person(name, id_number, face_of(id_number))
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    claim_real_name(gateway, token, person)
    Story.mother, Story.key = verify_face(gateway, token, person), str(uuid.uuid4())

    # She answers the one question that decides an item, and consents as the draft asks.
    opened = gateway.post(
        "/cases/v1/bundle-drafts",
        json={"bundle_code": "birth", "answers": {"mother_employee_insured": True}},
        headers=bearer(Story.mother),
    )
    assert opened.status_code == 201, opened.text
    number = opened.json()["application_no"]
    expires_at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
    for asked in opened.json()["consents_to_fill"]:
        consent = gateway.post(
            "/exchange/v1/me/consents",
            json={
                key: asked[key] for key in ("consumer", "resource", "fields", "purpose", "case_id")
            }
            | {"expires_at": expires_at},
            headers=bearer(Story.mother),
        )
        assert consent.status_code == 201, consent.text
    filled = gateway.post(f"/cases/v1/bundle-drafts/{number}/prefill", headers=bearer(Story.mother))
    assert filled.status_code == 200, filled.text
    draft = filled.json()
    # Her daughter's birth, from the hospital's birth certificate, and her own phone: read from
    # the registries with her consent, each with its provenance; her identity from her verified
    # identity. She types none of it.
    for field, value in BIRTH_FORM.items():
        if field == "mother_employee_insured":
            continue
        assert draft["form"][field] == value, field
        assert draft["provenance"][field]["source"] in {"data_resource", "verified_identity"}
    assert draft["form"]["name"] == name
    assert draft["consents_to_fill"] == []

    filed = gateway.post(
        f"/cases/v1/bundle-drafts/{number}/submission",
        headers={**bearer(Story.mother), "Idempotency-Key": Story.key},
    )

    assert filed.status_code == 201, filed.text
    Story.application = filed.json()
    assert Story.application["application_no"] == number
    assert number.startswith("330302-B")
    children = Story.application["children"]
    assert [(child["department_id"], child["department_tier"]) for child in children] == [
        ("330302-health", "county"),
        ("330302-health", "county"),
        ("330302-public_security", "county"),
        ("330302-medical_security", "county"),
        ("330302-human_resources_social_security", "county"),
        ("330300-medical_security", "city"),
    ]
    assert {child["status"] for child in children} == {"submitted"}
    assert Story.application["status"] == "in_progress"
    # Every child lives where its department's region is served: Wenzhou's instance.
    assert {child["case_no"] for child in children} <= cases_in(platform, WENZHOU_CASE.name)
    # Each keeps where its values came from.
    registration = gateway.get(
        f"/cases/v1/cases/{children[2]['case_no']}", headers=bearer(Story.mother)
    ).json()
    assert registration["form_provenance"]["birth_certificate_number"]["source"] == "data_resource"

    # Her retry (a lost answer) is the same application; nothing is filed twice.
    again = gateway.post(
        f"/cases/v1/bundle-drafts/{number}/submission",
        headers={**bearer(Story.mother), "Idempotency-Key": Story.key},
    )
    assert again.json()["application_no"] == number
    mine = gateway.get("/cases/v1/cases", headers=bearer(Story.mother)).json()["items"]
    assert sorted(case["case_no"] for case in mine) == sorted(
        child["case_no"] for child in children
    )


def test_2_she_follows_it_as_one_application(gateway: httpx.Client, platform: Platform) -> None:
    number = Story.application["application_no"]
    seen = gateway.get(f"{PATH}/{number}", headers=bearer(Story.mother))
    assert seen.status_code == 200, seen.text
    assert seen.json()["children"] == Story.application["children"]
    listed = gateway.get(PATH, headers=bearer(Story.mother))
    assert [item["application_no"] for item in listed.json()["items"]] == [number]
    # Nobody else finds it.
    stranger = register_citizen(gateway, platform.config.var_dir).sign_in(gateway)
    problem(
        gateway.get(f"{PATH}/{number}", headers=bearer(stranger)),
        404,
        "bundle_application_not_found",
    )


def complete(
    gateway: httpx.Client, handler: str, supervisor: Callable[[], str], case_no: str
) -> None:
    """A department's handler takes its part through to completion (a second person, a
    supervisor signed in only then, confirms the decision where the item wants one)."""
    path = f"/cases/v1/cases/{case_no}"
    etag = gateway.get(path, headers=bearer(handler)).headers["etag"]

    def act(token: str, action: str, **body: Any) -> httpx.Response:
        nonlocal etag
        url = f"{path}/claim" if action == "claim" else f"{path}/transitions"
        answer = gateway.post(
            url,
            json=None if action == "claim" else {"action": action, **body},
            headers={**bearer(token), "If-Match": etag},
        )
        if answer.status_code == 200:
            etag = answer.headers["etag"]
        return answer

    for action in ("claim", "accept", "start_review"):
        assert act(handler, action).status_code == 200, action
    if act(handler, "approve").status_code != 200:
        assert act(handler, "propose_approval", note="材料齐全").status_code == 200
        assert act(supervisor(), "confirm").status_code == 200
    delivered = act(handler, "deliver", note="已办结")
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "completed"


def test_3_each_department_completes_its_part_and_she_may_rate_each(
    gateway: httpx.Client, platform_admin: str
) -> None:
    number = Story.application["application_no"]
    handlers: dict[str, str] = {}
    for child in Story.application["children"]:
        department = child["department_id"]
        if department not in handlers:
            handler = create_staff(gateway, platform_admin, department, ["handler"])
            handlers[department] = handler.sign_in(gateway)

        def supervisor(department: str = department) -> str:
            made = create_staff(gateway, platform_admin, department, ["supervisor"])
            return made.sign_in(gateway)

        complete(gateway, handlers[department], supervisor, child["case_no"])
        halfway = gateway.get(f"{PATH}/{number}", headers=bearer(Story.mother)).json()
        assert halfway["status"] in {"in_progress", "completed"}

    done = gateway.get(f"{PATH}/{number}", headers=bearer(Story.mother)).json()
    assert done["status"] == "completed"
    assert {child["status"] for child in done["children"]} == {"completed"}
    for child in done["children"]:
        invitation = invitation_to_rate(gateway, Story.mother, child["case_no"])
        assert invitation is not None, f"no invitation to rate {child['item_code']}"
        assert invitation["department_id"] == child["department_id"]


#: A Lucheng resident in no other story, and her medical treatment bundle: her medical code
#: (Wenzhou's, instant), a hospital appointment (the province's, instant), the recognition of
#: her chronic condition and the reimbursement of what she paid (Wenzhou's, reviewed).
PATIENT = ("朱颖涵", "330302198911279105")
TREATMENT = {
    "bundle_code": "medical_treatment",
    "form": {
        "contact_phone": "13957700000",
        "hospital": "浙江大学医学院附属第一医院",
        "department": "心血管内科",
        "visit_date": "2026-12-21",
        "treated_outside_insured_city": False,
        "has_chronic_condition": True,
        "paid_in_full": True,
    },
}


def test_4_a_part_whose_instance_is_out_of_reach_is_filed_by_the_retry(
    gateway: httpx.Client, platform: Platform, face_of: Any
) -> None:
    name, id_number = PATIENT
    person = Person(name, id_number, face_of(id_number))
    citizen = register_citizen(gateway, platform.config.var_dir)
    token = citizen.sign_in(gateway)
    claim_real_name(gateway, token, person)
    patient = verify_face(gateway, token, person)
    # Straight to the instance of her county (Wenzhou's), as the app sends it.
    headers = {**bearer(patient), "Idempotency-Key": str(uuid.uuid4()), "X-Region-Code": "330302"}
    provincial = platform.pid_of("case")  # keeps the province's cases: her appointment's

    os.kill(provincial, signal.SIGSTOP)
    try:
        cut_short = gateway.post(PATH, json=TREATMENT, headers=headers)
    finally:
        os.kill(provincial, signal.SIGCONT)

    # Filed in order: her medical code first; the appointment's instance is out of reach, and
    # the filing stops there.
    answer = problem(cut_short, 503, "bundle_application_incomplete")
    assert (answer["filed"], answer["children"]) == (1, 4)
    seen = gateway.get(f"{PATH}/{answer['application_no']}", headers=bearer(patient))
    assert seen.json()["status"] == "filing"
    # The retry files the rest once the province's instance answers again (the gateway may
    # keep it out of rotation for a few seconds after it failed its probes).
    deadline = time.monotonic() + 60
    while (retried := gateway.post(PATH, json=TREATMENT, headers=headers)).status_code != 201:
        problem(retried, 503, "bundle_application_incomplete")
        assert time.monotonic() < deadline, retried.text
        time.sleep(1)
    children = retried.json()["children"]
    assert retried.json()["application_no"] == answer["application_no"]
    appointment = next(child for child in children if child["department_tier"] == "province")
    assert appointment["case_no"].startswith("330000-")
    assert appointment["case_no"] in cases_in(platform, "case")
    # Nothing was filed twice: four cases of hers, one per part.
    mine = gateway.get("/cases/v1/cases", headers=bearer(patient)).json()["items"]
    assert sorted(case["case_no"] for case in mine) == sorted(
        child["case_no"] for child in children
    )
