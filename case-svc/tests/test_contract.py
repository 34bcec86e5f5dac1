"""case-svc answers what its OpenAPI document says, for generated requests of every kind, with
a verified citizen's token and catalog-svc's contract double behind the gateway."""

import pytest
from fastapi import FastAPI

from servicekit.contract_testing import (
    assert_app_keeps_its_contract,
    example_mismatches,
    missing_examples,
)
from servicekit.testing import TokenMinter, bearer


@pytest.mark.parametrize("database_backend", ["sqlite"])  # one contract, whatever the backend
@pytest.mark.usefixtures("catalog")
async def test_every_answer_is_one_the_document_describes(
    app: FastAPI, token_minter: TokenMinter
) -> None:
    citizen = bearer(token_minter.mint("contract-citizen", typ="citizen", loa=2, region="330302"))
    await assert_app_keeps_its_contract(app, headers_for=lambda _method, _path: citizen)


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_example_is_one_its_schema_accepts(app: FastAPI) -> None:
    assert example_mismatches(app.openapi()) == []


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_answer_and_every_request_body_shows_an_example(app: FastAPI) -> None:
    assert missing_examples(app.openapi()) == []
