"""Remote resources: the exchange asks the provider's own system (a real HTTP server here),
signed, once the call has passed every check; a provider that is down, slow or garbled is a
problem with a stable code, recorded in the ledger; retries back off and a breaker stops them."""

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from data_exchange_svc.identifiers import SubjectRef
from data_exchange_svc.ledger.service import AccessAttempt
from data_exchange_svc.ledger.signing import LedgerSigner
from data_exchange_svc.remote.providers import (
    REQUEST_SIGNATURE_CONTEXT,
    SIGNATURE_HEADER,
    ProviderNotConfigured,
    RemoteProviders,
)
from data_exchange_svc.resources.spec import HOSTED
from data_exchange_svc.settings import ExchangeSettings
from servicekit.settings import ServiceSettings
from servicekit.testing import ServedApp, ServiceUnderTest

Headers = dict[str, str]
Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
GrantMaker = Callable[..., Any]
COMPANY = "91330302MA1P3D8712"
PERSON = "330302195203140248"
FIELDS = ["tax_status", "last_filing_month", "tax_paid_last_12_months"]


@dataclass
class TaxBureau:
    """The tax bureau's system: answers from its own book, or misbehaves as told."""

    book: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            COMPANY: {
                "tax_status": "clear",
                "last_filing_month": "2026-10",
                "tax_paid_last_12_months": "183204.50",
            }
        }
    )
    #: "answer", "unavailable" (503), "slow" (past the exchange's timeout), "garbled".
    behaviour: str = "answer"
    #: How many of the next questions misbehave before it answers again (None: all).
    misbehave_times: int | None = None
    questions: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    #: Where the exchange asks, once served.
    url: str = ""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/tax/v1/exchange-questions")
        async def answer(request: Request) -> Response:
            body = await request.body()
            self.questions.append((await request.json(), request.headers[SIGNATURE_HEADER]))
            behaviour = self.behaviour
            if self.misbehave_times is not None:
                if self.misbehave_times == 0:
                    behaviour = "answer"
                else:
                    self.misbehave_times -= 1
            if behaviour == "unavailable":
                return JSONResponse({"error": "maintenance"}, status_code=503)
            if behaviour == "slow":
                await asyncio.sleep(3)  # well past the exchange's timeout, however loaded
            if behaviour == "garbled":
                return Response(b"<html>oops</html>", media_type="text/html")
            asked = await request.json()
            subject = next(iter(asked["subject"].values()))
            record = self.book.get(subject)
            records = [] if record is None else [{k: record[k] for k in asked["fields"]}]
            assert body  # signed bytes are the body's
            return JSONResponse(
                {"records": records, "source_timestamp": "2026-11-01T00:00:00+08:00"}
            )

        return app


@pytest_asyncio.fixture(loop_scope="session")
async def tax_bureau() -> AsyncIterator[TaxBureau]:
    bureau = TaxBureau()
    served = ServedApp(bureau.app())
    await served.start()
    bureau.url = f"{served.url}/tax/v1/exchange-questions"
    try:
        yield bureau
    finally:
        await served.stop()


@pytest.fixture
def settings(
    service_under_test: ServiceUnderTest, database_url: str, tmp_path: Path, tax_bureau: TaxBureau
) -> ServiceSettings:
    base = service_under_test.settings_for(database_url, tmp_path)
    return base.model_copy(
        update={
            "remote_endpoints": {"tax_clearance": tax_bureau.url},
            # Roomy enough that a loaded test machine does not time out a prompt answer.
            "remote_timeout_seconds": 1.5,
            "remote_attempts": 2,
            "remote_backoff_seconds": 0.0,
            "remote_backoff_max_seconds": 0.0,
            "remote_breaker_failures": 2,
            "remote_breaker_reset_seconds": 30.0,
        }
    )


@pytest.fixture(autouse=True)
def reset_bureau(tax_bureau: TaxBureau) -> None:
    tax_bureau.behaviour = "answer"
    tax_bureau.misbehave_times = None
    tax_bureau.questions.clear()


async def granted(service_with_grant: GrantMaker) -> Headers:
    headers: Headers = await service_with_grant(
        resource="tax_clearance", fields=FIELDS, purposes=["business_licence_review"]
    )
    return headers


def ask(subject: dict[str, str], fields: list[str] = FIELDS) -> dict[str, Any]:
    return {
        "resource": "tax_clearance",
        "subject": subject,
        "fields": fields,
        "purpose": "business_licence_review",
        "case_id": "330302-20261126-000042",
    }


async def ledger_size(client: httpx.AsyncClient) -> int:
    latest = await client.get("/exchange/v1/ledger/checkpoints/latest")
    if latest.status_code == 404:  # nothing recorded yet
        return 0
    size: int = latest.json()["tree_size"]
    return size


async def test_a_granted_call_is_answered_by_the_provider_and_signed_by_the_exchange(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, tax_bureau: TaxBureau
) -> None:
    headers = await granted(service_with_grant)
    answered = await client.post(
        "/exchange/v1/calls", json=ask({"credit_code": COMPANY}), headers=headers
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["fields"] == tax_bureau.book[COMPANY]
    assert body["source_timestamp"].startswith("2026-10-31T16:00:00")
    assert body["receipt"]["entry"]["resource"] == "tax_clearance"

    question, signature = tax_bureau.questions[-1]
    assert question["subject"] == {"credit_code": COMPANY}
    assert question["fields"] == FIELDS
    assert question["call_id"] == body["call_id"]
    key = (await client.get("/exchange/v1/ledger/public-key")).json()
    key_id, signed = signature.split(":")
    assert key_id == key["key_id"]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(base64.b64decode(signed), REQUEST_SIGNATURE_CONTEXT + orjson.dumps(question))


async def test_the_provider_is_not_asked_before_the_grant_check_passes(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    tax_bureau: TaxBureau,
    problem: Problem,
) -> None:
    headers = await service_with_grant(
        resource="tax_clearance", fields=["tax_status"], purposes=["business_licence_review"]
    )
    refused = await client.post(
        "/exchange/v1/calls", json=ask({"credit_code": COMPANY}), headers=headers
    )
    assert refused.status_code == 403
    assert tax_bureau.questions == []


async def test_a_match_compares_the_providers_answer_and_tells_only_yes_or_no(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, tax_bureau: TaxBureau
) -> None:
    headers = await granted(service_with_grant)
    for status, expected in (("clear", True), ("arrears", False)):
        matched = await client.post(
            "/exchange/v1/matches",
            json={
                "resource": "tax_clearance",
                "subject": {"credit_code": COMPANY},
                "claims": {"tax_status": status},
                "purpose": "business_licence_review",
            },
            headers=headers,
        )
        assert matched.status_code == 200, matched.text
        assert matched.json()["match"] is expected
    assert tax_bureau.questions[-1][0]["fields"] == ["tax_status"]


async def test_a_subject_the_provider_does_not_hold_is_not_found(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    problem: Problem,
) -> None:
    headers = await granted(service_with_grant)
    answered = await client.post(
        "/exchange/v1/calls", json=ask({"id_number": PERSON}), headers=headers
    )
    problem(answered, 404, "subject_not_found")


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [
        ("unavailable", 503, "provider_unavailable"),
        ("slow", 504, "provider_timeout"),
        ("garbled", 502, "provider_error"),
    ],
)
async def test_a_provider_down_slow_or_garbled_is_a_problem_recorded_in_the_ledger(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    tax_bureau: TaxBureau,
    problem: Problem,
    behaviour: str,
    status: int,
    code: str,
) -> None:
    headers = await granted(service_with_grant)
    tax_bureau.behaviour = behaviour
    before = await ledger_size(client)
    answered = await client.post(
        "/exchange/v1/calls", json=ask({"credit_code": COMPANY}), headers=headers
    )
    body = problem(answered, status, code)
    assert "127.0.0.1" not in answered.text
    assert (body["receipt"]["entry"]["outcome"], body["receipt"]["entry"]["code"]) == (
        "refused",
        code,
    )
    assert await ledger_size(client) == before + 1
    if status == 503:
        assert int(answered.headers["Retry-After"]) >= 1


async def test_a_passing_fault_is_retried_and_the_call_answered(
    client: httpx.AsyncClient, service_with_grant: GrantMaker, tax_bureau: TaxBureau
) -> None:
    headers = await granted(service_with_grant)
    tax_bureau.behaviour, tax_bureau.misbehave_times = "unavailable", 1
    answered = await client.post(
        "/exchange/v1/calls", json=ask({"credit_code": COMPANY}), headers=headers
    )
    assert answered.status_code == 200, answered.text
    assert len(tax_bureau.questions) == 2


async def test_a_provider_failing_again_and_again_is_left_alone_until_the_breaker_resets(
    client: httpx.AsyncClient,
    service_with_grant: GrantMaker,
    tax_bureau: TaxBureau,
    problem: Problem,
) -> None:
    headers = await granted(service_with_grant)
    tax_bureau.behaviour = "unavailable"
    for _ in range(2):  # the breaker's threshold, each with its retries
        await client.post("/exchange/v1/calls", json=ask({"credit_code": COMPANY}), headers=headers)
    asked = len(tax_bureau.questions)
    assert asked == 4
    tax_bureau.behaviour = "answer"
    refused = await client.post(
        "/exchange/v1/calls", json=ask({"credit_code": COMPANY}), headers=headers
    )
    body = problem(refused, 503, "provider_unavailable")
    assert "left alone" in body["detail"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert len(tax_bureau.questions) == asked  # not asked at all


async def test_a_remote_resource_without_an_endpoint_says_so(settings: ServiceSettings) -> None:
    assert isinstance(settings, ExchangeSettings)
    unconfigured = settings.model_copy(update={"remote_endpoints": {}})
    providers = RemoteProviders(unconfigured, LedgerSigner.generate())
    attempt = AccessAttempt(
        call_id=uuid.uuid4(),
        kind="call",
        consumer="test-svc",
        actor="test-svc",
        resource="tax_clearance",
        fields=("tax_status",),
        purpose="business_licence_review",
        case_id=None,
        subject_hash="0" * 64,
    )
    try:
        with pytest.raises(ProviderNotConfigured):
            await providers.holding(
                HOSTED["tax_clearance"],
                SubjectRef("enterprise", COMPANY),
                fields=["tax_status"],
                attempt=attempt,
            )
    finally:
        await providers.aclose()
