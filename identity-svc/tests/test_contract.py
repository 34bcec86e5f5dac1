"""identity-svc answers what its OpenAPI document says, for generated requests of every kind:
a signed-in citizen's token on her routes, the platform administrator's on staff and clients."""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI

from servicekit.contract_testing import (
    assert_app_keeps_its_contract,
    example_mismatches,
    missing_examples,
)
from servicekit.openapi import problems_of
from servicekit.testing import bearer

if TYPE_CHECKING:
    from conftest import Journey

_ADMINISTERED = ("/identity/v1/staff", "/identity/v1/clients")


@pytest.mark.parametrize("database_backend", ["sqlite"])  # one contract, whatever the backend
async def test_every_answer_is_one_the_document_describes(
    app: FastAPI, journey: "Journey", platform_admin: str
) -> None:
    citizen = bearer((await journey.signed_in())["access_token"])
    admin = bearer(platform_admin)

    def token_for(_method: str, path: str) -> Mapping[str, str]:
        return admin if path.startswith(_ADMINISTERED) else citizen

    await assert_app_keeps_its_contract(app, headers_for=token_for)


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_example_is_one_its_schema_accepts(app: FastAPI) -> None:
    assert example_mismatches(app.openapi()) == []


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_answer_and_every_request_body_shows_an_example(app: FastAPI) -> None:
    assert missing_examples(app.openapi()) == []


def documented_codes(document: dict[str, Any], method: str, path: str) -> set[str]:
    responses = document["paths"][path][method]["responses"]
    return {
        problem.code
        for status, response in responses.items()
        if status.isdigit()
        for problem in problems_of(int(status), response)
    }


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_the_document_names_what_registration_refuses_and_no_missing_delegate(
    app: FastAPI,
) -> None:
    document = app.openapi()
    registration = documented_codes(document, "post", "/identity/v1/citizens")
    assert {
        "validation_failed",
        "weak_password",
        "invalid_sms_code",
        "login_throttled",
        "phone_already_registered",
    } <= registration
    assert "sms_code_throttled" in documented_codes(document, "post", "/identity/v1/sms-codes")
    # A delegation is the phone's: no answer tells that it has no account.
    delegation = documented_codes(document, "post", "/identity/v1/me/delegations")
    assert "delegate_not_found" not in delegation
    assert {"cannot_delegate_to_self", "delegation_exists"} <= delegation
