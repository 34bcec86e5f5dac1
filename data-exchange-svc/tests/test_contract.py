"""data-exchange-svc answers what its OpenAPI document says, for generated requests of every
kind, each with a token of the kind its route is for."""

from collections.abc import Mapping

import httpx
import pytest
from fastapi import FastAPI

from servicekit.contract_testing import (
    assert_app_keeps_its_contract,
    example_mismatches,
    missing_examples,
)
from servicekit.testing import TokenMinter, bearer

#: Path prefix → the principal that calls it; the first that matches wins.
CALLERS = (
    ("/exchange/v1/me/", "citizen"),
    ("/exchange/v1/citizen-links/", "identity"),
    ("/exchange/v1/grants", "staff"),
    ("/exchange/v1/resources/{code}/records", "department"),
    ("/exchange/v1/", "identity"),
)


@pytest.mark.parametrize("database_backend", ["sqlite"])  # one contract, whatever the backend
async def test_every_answer_is_one_the_document_describes(
    app: FastAPI,
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    identity_svc: Mapping[str, str],
    demo_citizen_token: Mapping[str, str],
    demo_citizen: object,
) -> None:
    # The demo citizen linked to her registry record, as her real-name check does.
    linked = await client.put(
        "/exchange/v1/citizen-links/account-demo",
        json={"id_number": demo_citizen.id_number},
        headers=identity_svc,
    )
    assert linked.status_code == 200, linked.text
    tokens = {
        "citizen": demo_citizen_token,
        "identity": identity_svc,
        "staff": bearer(token_minter.mint("staff-1", typ="staff", dept="330302-civil_affairs")),
        "department": bearer(
            token_minter.mint("sys-1", typ="department_system", dept="330000-public_security")
        ),
    }

    def token_for(_method: str, path: str) -> Mapping[str, str]:
        callers = (tokens[who] for prefix, who in CALLERS if path.startswith(prefix))
        return next(callers, {})

    await assert_app_keeps_its_contract(app, headers_for=token_for)


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_example_is_one_its_schema_accepts(app: FastAPI) -> None:
    assert example_mismatches(app.openapi()) == []


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_answer_and_every_request_body_shows_an_example(app: FastAPI) -> None:
    assert missing_examples(app.openapi()) == []
