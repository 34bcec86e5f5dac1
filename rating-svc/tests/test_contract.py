"""rating-svc answers what its OpenAPI document says, for generated requests of every kind."""

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from servicekit.contract_testing import (
    assert_app_keeps_its_contract,
    example_mismatches,
    missing_examples,
)
from servicekit.testing import ServedApp, TokenMinter, bearer


@pytest_asyncio.fixture(loop_scope="session")
async def case_svc_knows_no_case(app: FastAPI) -> AsyncIterator[None]:
    """case-svc, as the gateway would reach it, holding no case of the caller's."""
    double = FastAPI()

    @double.get("/cases/v1/cases/{case_no}")
    async def no_such_case(case_no: str) -> JSONResponse:
        body = {"type": "/problems/case_not_found", "title": "No such case of yours"}
        return JSONResponse({**body, "status": 404, "code": "case_not_found"}, status_code=404)

    served = ServedApp(double)
    await served.start()
    reaching_the_gateway = app.state.service.http
    app.state.service.http = httpx.AsyncClient(base_url=served.url)
    try:
        yield
    finally:
        await app.state.service.http.aclose()
        app.state.service.http = reaching_the_gateway
        await served.stop()


@pytest.mark.parametrize("database_backend", ["sqlite"])  # one contract, whatever the backend
@pytest.mark.usefixtures("case_svc_knows_no_case")
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
