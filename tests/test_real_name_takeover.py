"""Identity squatting, end to end over real HTTP through the gateway: someone who knows a
resident's name and ID number (synthetic) types them first, and gains nothing in her name and
blocks nobody; she binds her real name with her face; later she moves to a new phone, whose
account passes her face match too and takes her real name over. The earlier accounts are told,
each change is audited with account ids only, and her applications and data follow her.

The tests in this module run in order and share the people, as the story does.
"""

import asyncio
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from identity_svc.models import BindingEvent
from identity_svc.verification.service import DISPLACED_TEXTS
from onevisit_dev.answers import bearer, problem, refused_within, register_citizen, sms_texts
from onevisit_dev.platform import Platform

#: From the synthetic population (data-exchange-svc/data/population.csv), in no other story.
NAME, ID_NUMBER = "金素雪", "330110199109168380"
HER_REGION = "330110110210"
PASSWORD = "Suxue-1991-newphone"
SOCIAL_CARD_LOSS = "human_resources_social_security.social_card_loss_report"

FaceOf = Callable[[str], list[float]]


def sub_of(token: str) -> str:
    # The gateway and the services verified it; here only its content is looked at.
    sub: str = jwt.decode(token, options={"verify_signature": False})["sub"]
    return sub


class Account:
    def __init__(self, gateway: httpx.Client, platform: Platform) -> None:
        self.phone = "137" + "".join(secrets.choice("0123456789") for _ in range(8))
        register_citizen(gateway, platform.config.var_dir, self.phone, PASSWORD)
        self.sign_in(gateway)
        self.id = sub_of(self.access_token)

    def sign_in(self, gateway: httpx.Client) -> None:
        tokens = gateway.post(
            "/identity/v1/token",
            data={"grant_type": "password", "username": self.phone, "password": PASSWORD},
        ).json()
        self.access_token: str = tokens["access_token"]
        self.refresh_token: str = tokens["refresh_token"]

    def claim(self, gateway: httpx.Client) -> httpx.Response:
        return gateway.post(
            "/identity/v1/me/real-name",
            json={"name": NAME, "id_number": ID_NUMBER},
            headers=bearer(self.access_token),
        )

    def face(self, gateway: httpx.Client, template: list[float]) -> httpx.Response:
        challenge = gateway.post(
            "/identity/v1/me/face/challenges", headers=bearer(self.access_token)
        )
        assert challenge.status_code == 201, challenge.text
        return gateway.post(
            "/identity/v1/me/face/verifications",
            json={"challenge_id": challenge.json()["challenge_id"], "template": template},
            headers=bearer(self.access_token),
        )


class Story:
    squatter: Account
    first_phone: Account
    new_phone: Account


def told(platform: Platform, phone: str) -> list[str]:
    """The texts the phone received after its registration's code, waiting a moment for those
    sent after an answer (a take-over tells the displaced once it has committed)."""
    for _ in range(50):
        after_registration = sms_texts(platform.config.var_dir, phone)[1:]
        if after_registration:
            return after_registration
        time.sleep(0.1)
    return []


def file_social_card_loss(gateway: httpx.Client, token: str) -> httpx.Response:
    return gateway.post(
        "/cases/v1/cases",
        json={"item_code": SOCIAL_CARD_LOSS, "form": {"contact_phone": "13957700000"}},
        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
    )


def test_1_a_squatter_with_her_name_and_number_gains_nothing_in_her_name(
    gateway: httpx.Client, platform: Platform, face_of: FaceOf
) -> None:
    Story.squatter = squatter = Account(gateway, platform)
    claimed = squatter.claim(gateway)
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["loa"], claimed.json()["next_step"]) == (1, "face")

    refused = problem(
        file_social_card_loss(gateway, squatter.access_token), 403, "insufficient_assurance"
    )
    assert (refused["required_loa"], refused["current_loa"]) == (2, 1)
    problem(
        gateway.get("/exchange/v1/me/access-log", headers=bearer(squatter.access_token)),
        403,
        "insufficient_assurance",
    )
    identity = gateway.get(
        "/identity/v1/me/verified-identity", headers=bearer(squatter.access_token)
    )
    assert problem(identity, 403, "insufficient_assurance")["step"] == "face"
    own_face = [-value for value in face_of(ID_NUMBER)]  # anyone's but hers
    problem(squatter.face(gateway, own_face), 422, "face_mismatch")


def test_2_she_binds_her_real_name_with_her_face_though_he_typed_it_first(
    gateway: httpx.Client, platform: Platform, face_of: FaceOf
) -> None:
    Story.first_phone = her = Account(gateway, platform)
    claimed = her.claim(gateway)
    assert claimed.status_code == 200, claimed.text
    # The same answer he had: nothing tells either of them about the other.
    assert claimed.json() == Story.squatter.claim(gateway).json()
    verified = her.face(gateway, face_of(ID_NUMBER))
    assert verified.status_code == 200, verified.text
    assert verified.json()["loa"] == 3
    her.access_token = verified.json()["access_token"]
    assert jwt.decode(her.access_token, options={"verify_signature": False})["region"] == HER_REGION

    filed = file_social_card_loss(gateway, her.access_token)
    assert filed.status_code == 201, filed.text
    assert (filed.json()["form"]["name"], filed.json()["form"]["id_number"]) == (NAME, ID_NUMBER)
    # His claim is gone, and his phone was told.
    assert told(platform, Story.squatter.phone) == [DISPLACED_TEXTS["claim_lost"]]
    problem(
        gateway.post(
            "/identity/v1/me/face/challenges", headers=bearer(Story.squatter.access_token)
        ),
        403,
        "insufficient_assurance",
    )


def test_3_her_new_phone_takes_her_real_name_over_and_the_first_is_told(
    gateway: httpx.Client, platform: Platform, face_of: FaceOf
) -> None:
    Story.new_phone = new = Account(gateway, platform)
    assert new.claim(gateway).status_code == 200
    verified = new.face(gateway, face_of(ID_NUMBER))
    assert verified.status_code == 200, verified.text
    new.access_token = verified.json()["access_token"]

    first = Story.first_phone
    problem(
        gateway.post(
            "/identity/v1/token",
            data={"grant_type": "refresh_token", "refresh_token": first.refresh_token},
        ),
        400,
        "invalid_grant",
    )
    # Her first phone's session ended: its token stops at the gateway within seconds.
    problem(
        refused_within(gateway, "GET", "/cases/v1/cases", first.access_token), 401, "token_revoked"
    )
    # Signed in again, the first account has no real name any more.
    first.sign_in(gateway)
    me = gateway.get("/identity/v1/me", headers=bearer(first.access_token)).json()
    assert (me["loa"], me["real_name"]) == (1, None)
    # Her access log is the new account's to read, no longer the first's.
    problem(
        gateway.get("/exchange/v1/me/access-log", headers=bearer(first.access_token)),
        403,
        "insufficient_assurance",
    )
    log = gateway.get("/exchange/v1/me/access-log", headers=bearer(new.access_token))
    assert log.status_code == 200, log.text
    assert told(platform, first.phone) == [DISPLACED_TEXTS["lost"]]

    # Her new account applies in her name; the first cannot any more.
    filed = file_social_card_loss(gateway, new.access_token)
    assert filed.status_code == 201, filed.text
    assert filed.json()["form"]["id_number"] == ID_NUMBER
    problem(file_social_card_loss(gateway, first.access_token), 403, "insufficient_assurance")


def test_4_each_change_is_audited_with_account_ids_and_never_her_number(
    platform: Platform,
) -> None:
    async def read() -> list[Any]:
        engine = create_async_engine(platform.config.database_url("identity"))
        try:
            async with engine.connect() as connection:
                table = BindingEvent.__table__
                rows = await connection.execute(select(table).order_by(table.c.id))
                return list(rows.all())
        finally:
            await engine.dispose()

    who = {
        uuid.UUID(Story.squatter.id): "squatter",
        uuid.UUID(Story.first_phone.id): "first phone",
        uuid.UUID(Story.new_phone.id): "new phone",
        None: None,
    }
    events = [event for event in asyncio.run(read()) if event.account_id in who]
    assert [
        (event.kind, who[event.account_id], who[event.actor_id], who[event.other_account_id])
        for event in events
    ] == [
        ("claim_lost", "squatter", "first phone", "first phone"),
        ("bound", "first phone", "first phone", None),
        ("lost", "first phone", "new phone", "new phone"),
        ("taken", "new phone", "new phone", "first phone"),
    ]
    assert len({event.id_number_hash for event in events}) == 1
    assert not any(ID_NUMBER in str(value) for event in events for value in event)
    told = [event for event in events if event.kind in ("claim_lost", "lost")]
    assert all(event.notified_at is not None for event in told)
