"""The platform answers what the gateway's merged OpenAPI document says: generated requests of
every kind, through the gateway to the six real processes, with a registered citizen's token
on the routes that need one."""

import secrets
from pathlib import Path

import httpx
import pytest

from onevisit_dev.answers import register_citizen
from onevisit_dev.platform import Platform
from servicekit.contract_testing import check_contract
from servicekit.openapi import problems_of


def _citizen_token(gateway: httpx.Client, var_dir: Path) -> str:
    phone = "139" + "".join(secrets.choice("0123456789") for _ in range(8))
    password = "Contract-citizen-2026"
    register_citizen(gateway, var_dir, phone, password)
    tokens = gateway.post(
        "/identity/v1/token",
        data={"grant_type": "password", "username": phone, "password": password},
    )
    assert tokens.status_code == 200, tokens.text
    token: str = tokens.json()["access_token"]
    return token


@pytest.mark.e2e
def test_every_answer_through_the_gateway_is_one_the_document_describes(
    platform: Platform, gateway: httpx.Client
) -> None:
    if platform.config.database_urls:
        pytest.skip("one contract, whatever the backend: checked on the SQLite platform")
    document = gateway.get("/openapi.json").json()
    assert document["x-unavailable"] == []
    citizen = {"Authorization": f"Bearer {_citizen_token(gateway, platform.config.var_dir)}"}
    report = check_contract(
        document,
        platform.config.gateway_url,
        examples_per_operation=25,
        headers_for=lambda _method, _path: citizen,
    )
    print(report.summary())
    assert not report.failures, "\n".join(sorted(report.failures))


@pytest.mark.e2e
def test_the_platforms_document_names_what_registration_refuses(gateway: httpx.Client) -> None:
    document = gateway.get("/openapi.json").json()
    responses = document["paths"]["/identity/v1/citizens"]["post"]["responses"]
    codes = {
        problem.code
        for status, response in responses.items()
        if status.isdigit()
        for problem in problems_of(int(status), response)
    }
    # identity-svc's refusals, a registration throttled like a sign-in, and the gateway's limit.
    expected = {"invalid_sms_code", "phone_already_registered", "login_throttled", "rate_limited"}
    assert expected <= codes, codes
