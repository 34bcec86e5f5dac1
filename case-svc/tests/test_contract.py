"""case-svc answers what its OpenAPI document says, for generated requests of every kind, with
a verified citizen's token and catalog-svc's contract double behind the gateway."""

import asyncio

import pytest
from fastapi import FastAPI

from servicekit.contract_testing import check_contract, example_mismatches
from servicekit.testing import ServedApp, TokenMinter, bearer


@pytest.mark.parametrize("database_backend", ["sqlite"])  # one contract, whatever the backend
@pytest.mark.usefixtures("catalog")
async def test_every_answer_is_one_the_document_describes(
    app: FastAPI, token_minter: TokenMinter
) -> None:
    citizen = bearer(token_minter.mint("contract-citizen", typ="citizen", loa=2, region="330302"))
    served = ServedApp(app)
    await served.start()
    try:
        report = await asyncio.to_thread(
            check_contract,
            app.openapi(),
            served.url,
            examples_per_operation=25,
            headers_for=lambda _method, _path: citizen,
        )
    finally:
        await served.stop()
    print(report.summary())
    assert not report.failures, "\n".join(sorted(report.failures))


@pytest.mark.parametrize("database_backend", ["sqlite"])
async def test_every_example_is_one_its_schema_accepts(app: FastAPI) -> None:
    assert example_mismatches(app.openapi()) == []
