"""catalog-svc answers what its OpenAPI document says, for generated requests of every kind:
the public reads without a token, the administration with a catalog administrator's."""

from collections.abc import Callable, Mapping

import pytest
from fastapi import FastAPI

from servicekit.contract_testing import (
    assert_app_keeps_its_contract,
    example_mismatches,
    missing_examples,
)


@pytest.mark.parametrize("database_backend", ["sqlite"])  # one contract, whatever the backend
@pytest.mark.usefixtures("restore_items")
async def test_every_answer_is_one_the_document_describes(
    app: FastAPI, staff: Callable[..., dict[str, str]]
) -> None:
    administrator = staff()

    def token_for(_method: str, path: str) -> Mapping[str, str]:
        return administrator if path.startswith("/catalog/v1/admin/") else {}

    await assert_app_keeps_its_contract(app, headers_for=token_for)


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_example_is_one_its_schema_accepts(app: FastAPI) -> None:
    assert example_mismatches(app.openapi()) == []


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_answer_and_every_request_body_shows_an_example(app: FastAPI) -> None:
    assert missing_examples(app.openapi()) == []
