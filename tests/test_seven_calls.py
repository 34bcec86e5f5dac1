"""From a fresh phone to a rated, completed loss report in seven calls to the platform, end to
end through the gateway between real processes, with every check in force: the code texted to
her phone signs her up and in at once; her real name and her face bind her identity (level 3,
her registered region in the token); the loss report, an instant item, is completed when filed,
and she rates it straight away (rating-svc reads the case from case-svc with her token: it does
not wait for the invitation the completion event brings). Reading the text message and holding
the face template the phone captured are not calls to the platform.
"""

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from onevisit_dev.answers import bearer, sms_code
from onevisit_dev.callers import new_phone
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story.
RESIDENT = ("毛颖", "330302199611051461")
LOSS_REPORT = "public_security.id_card_loss_report"


def test_a_fresh_phone_to_a_rated_loss_report_in_seven_calls(
    platform: Platform, face_of: Callable[[str], Any]
) -> None:
    name, id_number = RESIDENT
    phone = new_phone()
    calls: list[str] = []

    def count(request: httpx.Request) -> None:
        calls.append(f"{request.method} {request.url.path}")

    with platform.client() as gateway:
        gateway.event_hooks = {"request": [count], "response": []}

        texted = gateway.post("/identity/v1/sms-codes", json={"phone": phone})
        assert texted.status_code == 202, texted.text
        code = sms_code(platform.config.var_dir, phone)  # the text on her phone
        signed_up = gateway.post(
            "/identity/v1/token",
            data={"grant_type": "sms_code", "username": phone, "code": code},
        )
        assert signed_up.status_code == 200, signed_up.text
        token = signed_up.json()["access_token"]
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
            json={
                "challenge_id": challenge.json()["challenge_id"],
                "template": face_of(id_number),
            },
            headers=bearer(token),
        )
        assert verified.status_code == 200, verified.text
        token = verified.json()["access_token"]
        filed = gateway.post(
            "/cases/v1/cases",
            json={
                "item_code": LOSS_REPORT,
                "form": {
                    "loss_reason": "lost",
                    "loss_date": "2026-12-01",
                    "contact_phone": phone,
                },
            },
            headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
        )
        assert filed.status_code == 201, filed.text
        assert filed.json()["status"] == "completed"
        rated = gateway.post(
            "/ratings/v1/ratings",
            json={"case_no": filed.json()["case_no"], "level": 5, "tags": ["done_in_one_visit"]},
            headers=bearer(token),
        )
        assert rated.status_code == 201, rated.text

    assert calls == [
        "POST /identity/v1/sms-codes",
        "POST /identity/v1/token",
        "POST /identity/v1/me/real-name",
        "POST /identity/v1/me/face/challenges",
        "POST /identity/v1/me/face/verifications",
        "POST /cases/v1/cases",
        "POST /ratings/v1/ratings",
    ]
