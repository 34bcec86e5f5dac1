"""Face identification: a server-issued, single-use, short-lived challenge; the phone's template
compared with the registry's; level 3 for a window, then back to 2; bounded attempts. (The
first match of a claimed real name binds it: ``test_binding``.)"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from identity_svc.models import FaceAttempt
from identity_svc.settings import IdentitySettings
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import ContractDouble, Journey, MovableClock, People

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]


def cosine(a: list[float], b: list[float]) -> float:
    dot = math.fsum(x * y for x, y in zip(a, b, strict=True))
    return dot / math.sqrt(math.fsum(x * x for x in a) * math.fsum(y * y for y in b))


async def _challenge_id(journey: Journey, access_token: str) -> str:
    response = await journey.challenge(access_token)
    assert response.status_code == 201, response.text
    challenge_id: str = response.json()["challenge_id"]
    return challenge_id


async def test_a_challenge_is_issued_to_bind_a_claimed_real_name_or_to_step_up_on_a_bound_one(
    journey: Journey, people: People, identity_settings: IdentitySettings
) -> None:
    claimed = await journey.claimed(people.wang)
    binding = await journey.challenge(claimed["access_token"])
    assert binding.status_code == 201, binding.text
    assert binding.json()["purpose"] == "binding"

    verified = await journey.real_named(people.lin)
    response = await journey.challenge(verified["access_token"])
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"challenge_id", "nonce", "purpose", "expires_at", "expires_in"}
    assert body["purpose"] == "step_up"
    assert len(body["nonce"]) >= 32
    assert body["expires_in"] == identity_settings.face_challenge_ttl_seconds == 120
    other = (await journey.challenge(verified["access_token"])).json()
    assert other["nonce"] != body["nonce"]


async def test_a_matching_face_gives_level_3_for_the_window_with_a_fresh_token(
    app: FastAPI,
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    contracts: ContractDouble,
    identity_settings: IdentitySettings,
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    capture = people.lin.phone_capture()
    before = dt.datetime.now(dt.UTC)
    response = await journey.verify_face(verified["access_token"], challenge_id, capture)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["loa"] == 3
    window_end = dt.datetime.fromisoformat(body["loa_expires_at"])
    window = dt.timedelta(seconds=identity_settings.face_assurance_window_seconds)
    assert before + window <= window_end <= dt.datetime.now(dt.UTC) + window
    claims = await journey.claims(body["access_token"])
    assert (claims["loa"], claims["region"]) == (3, "330302026003")
    assert claims["exp"] <= window_end.timestamp()
    assert body["refresh_token"]

    # A step-up reads the template of the number bound; the binding read its region too.
    binding, step_up = [
        c for c in contracts.asks("/exchange/v1/calls") if c["purpose"] == "face_verification"
    ]
    assert binding["fields"] == ["face_template", "registered_region"]
    assert step_up["fields"] == ["face_template"]
    assert step_up["subject"] == {"id_number": people.lin.id_number}
    me = (await client.get("/identity/v1/me", headers=bearer(body["access_token"]))).json()
    assert me["loa"] == 3
    assert dt.datetime.fromisoformat(me["face_verified_until"]) == window_end

    async with app.state.service.database.sessionmaker() as session:
        attempt = (
            await session.scalars(
                select(FaceAttempt).where(FaceAttempt.challenge_id == uuid.UUID(challenge_id))
            )
        ).one()
    assert attempt.matched is True
    assert attempt.score == pytest.approx(cosine(capture, people.lin.face_template()))
    assert attempt.threshold == identity_settings.face_match_threshold
    # The attempt keeps a score and a decision, never the submitted template.
    assert not any("template" in column.name for column in FaceAttempt.__table__.columns)


async def test_someone_elses_face_is_a_mismatch_with_the_attempts_left(
    app: FastAPI,
    journey: Journey,
    people: People,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    response = await journey.verify_face(
        verified["access_token"], challenge_id, people.wang.phone_capture()
    )
    body = problem(response, 422, "face_mismatch")
    assert body["attempts_left"] == identity_settings.face_max_failures - 1
    assert "score" not in body
    async with app.state.service.database.sessionmaker() as session:
        attempt = (
            await session.scalars(
                select(FaceAttempt).where(FaceAttempt.challenge_id == uuid.UUID(challenge_id))
            )
        ).one()
    assert attempt.matched is False
    assert attempt.score < identity_settings.face_match_threshold


async def test_too_many_mismatches_lock_face_verification_until_the_lockout_ends(
    journey: Journey,
    people: People,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    verified = await journey.real_named(people.lin)
    token = verified["access_token"]
    for left in reversed(range(1, identity_settings.face_max_failures)):
        challenge_id = await _challenge_id(journey, token)
        mismatch = await journey.verify_face(token, challenge_id, people.chen.phone_capture())
        assert problem(mismatch, 422, "face_mismatch")["attempts_left"] == left
    challenge_id = await _challenge_id(journey, token)
    locking = await journey.verify_face(token, challenge_id, people.chen.phone_capture())
    assert problem(locking, 423, "face_locked")["locked_until"]
    assert int(locking.headers["retry-after"]) == identity_settings.face_lockout_seconds
    # Locked: no new challenge, even for the right face.
    problem(await journey.challenge(token), 423, "face_locked")

    clock.advance(identity_settings.face_lockout_seconds + 1)
    challenge_id = await _challenge_id(journey, token)
    response = await journey.verify_face(token, challenge_id, people.lin.phone_capture())
    assert response.status_code == 200, response.text


async def test_an_expired_challenge_is_refused(
    journey: Journey,
    people: People,
    clock: MovableClock,
    identity_settings: IdentitySettings,
    problem: Problem,
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    clock.advance(identity_settings.face_challenge_ttl_seconds)
    response = await journey.verify_face(
        verified["access_token"], challenge_id, people.lin.phone_capture()
    )
    problem(response, 410, "challenge_expired")


async def test_a_reused_challenge_is_refused(
    journey: Journey, people: People, problem: Problem
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    capture = people.lin.phone_capture()
    first = await journey.verify_face(verified["access_token"], challenge_id, capture)
    assert first.status_code == 200
    again = await journey.verify_face(verified["access_token"], challenge_id, capture)
    problem(again, 409, "challenge_used")


async def test_a_challenge_spent_by_a_mismatch_cannot_be_retried(
    journey: Journey, people: People, problem: Problem
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    token = verified["access_token"]
    problem(
        await journey.verify_face(token, challenge_id, people.wang.phone_capture()),
        422,
        "face_mismatch",
    )
    retry = await journey.verify_face(token, challenge_id, people.lin.phone_capture())
    problem(retry, 409, "challenge_used")


async def test_someone_elses_challenge_is_not_found(
    journey: Journey, people: People, problem: Problem
) -> None:
    lin = await journey.real_named(people.lin)
    wang = await journey.real_named(people.wang)
    lins_challenge = await _challenge_id(journey, lin["access_token"])
    response = await journey.verify_face(
        wang["access_token"], lins_challenge, people.wang.phone_capture()
    )
    problem(response, 404, "challenge_not_found")
    unknown = await journey.verify_face(
        wang["access_token"], str(uuid.uuid4()), people.wang.phone_capture()
    )
    problem(unknown, 404, "challenge_not_found")


async def test_a_challenge_needs_a_real_name_to_compare_with(
    journey: Journey, problem: Problem
) -> None:
    tokens = await journey.signed_in()
    body = problem(await journey.challenge(tokens["access_token"]), 403, "insufficient_assurance")
    assert (body["required_loa"], body["current_loa"], body["step"]) == (2, 1, "real_name")


async def test_level_3_decays_to_level_2_once_the_window_has_passed(
    client: httpx.AsyncClient,
    journey: Journey,
    people: People,
    clock: MovableClock,
    identity_settings: IdentitySettings,
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    stepped_up = (
        await journey.verify_face(
            verified["access_token"], challenge_id, people.lin.phone_capture()
        )
    ).json()

    inside = (await journey.refresh(stepped_up["refresh_token"])).json()
    assert (await journey.claims(inside["access_token"]))["loa"] == 3

    clock.advance(identity_settings.face_assurance_window_seconds + 1)
    after = await journey.refresh(inside["refresh_token"])
    assert after.status_code == 200, after.text
    claims = await journey.claims(after.json()["access_token"], check_times=False)
    assert claims["loa"] == 2
    me = await client.get("/identity/v1/me", headers=bearer(verified["access_token"]))
    assert me.json()["loa"] == 2


@pytest.mark.parametrize(
    "template",
    [[0.1] * 127, [0.1] * 129, [0.0] * 128, [*[0.1] * 127, "NaN"]],
    ids=["127 values", "129 values", "all zero", "not finite"],
)
async def test_a_template_that_is_not_128_finite_values_is_refused(
    journey: Journey, people: People, problem: Problem, template: list[Any]
) -> None:
    verified = await journey.real_named(people.lin)
    challenge_id = await _challenge_id(journey, verified["access_token"])
    response = await journey.client.post(
        "/identity/v1/me/face/verifications",
        json={"challenge_id": challenge_id, "template": template},
        headers=bearer(verified["access_token"]),
    )
    problem(response, 422, "validation_failed")
