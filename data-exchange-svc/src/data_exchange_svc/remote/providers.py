"""Remote resources: the provider's own system answers, the exchange asks it.

For a remote resource the exchange keeps no records. Once a call or match has passed every
check (grants, consent), the exchange posts the question to the provider's endpoint
(``EXCHANGE_REMOTE_ENDPOINTS``: resource code → URL), signed, and reads the answer like a hosted
holding. The provider sees what it must to answer: the subject, the fields, the purpose, the call.

The request is ``POST <endpoint>`` with the JSON body ``{"resource", "subject": {"id_number" |
"credit_code"}, "fields", "purpose", "case_id", "call_id"}`` and the header
``X-Exchange-Signature: <key id>:<base64 Ed25519 signature>`` over ``REQUEST_SIGNATURE_CONTEXT``
followed by the body's bytes, made with the ledger's key (published at
``/exchange/v1/ledger/public-key``), so a provider can tell the exchange asked and what. The
answer is ``200 {"records": [{field: value}], "source_timestamp"}``; no records: the provider
holds nothing about the subject.

Faults, each a problem with a stable code, recorded in the ledger like every refusal:
``provider_not_configured`` (503: no endpoint for the resource), ``provider_unavailable`` (503
with Retry-After: connection refused after retries, a 5xx after retries, or the circuit open),
``provider_timeout`` (504: no answer within the timeout, after retries), ``provider_error`` (502:
an answer that is not one). Retries (connection faults, timeouts, 502/503/504) back off
exponentially with jitter; a provider failing ``remote_breaker_failures`` times in a row is
left alone for ``remote_breaker_reset_seconds`` (one trial call then decides).
"""

import base64
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
import orjson
from pydantic import JsonValue
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from data_exchange_svc.identifiers import SubjectRef
from data_exchange_svc.ledger.service import AccessAttempt
from data_exchange_svc.ledger.signing import LedgerSigner
from data_exchange_svc.resources.spec import FieldSpec, ResourceSpec
from data_exchange_svc.resources.values import (
    InvalidValue,
    claim_holds,
    parse_value,
    today_in_china,
)
from data_exchange_svc.settings import ExchangeSettings
from servicekit.http import make_http_client
from servicekit.problems import DomainError, extension_members
from servicekit.resilience import CircuitBreaker

#: What a request signature covers before the body: no signature made for anything else (a
#: tree head, say) can pass for a request's.
REQUEST_SIGNATURE_CONTEXT = b"onevisit-exchange-request-v1\n"
SIGNATURE_HEADER = "X-Exchange-Signature"
_RETRIED_STATUSES = frozenset({502, 503, 504})


class ProviderNotConfigured(DomainError):
    status = 503
    code = "provider_not_configured"
    title = "No endpoint is configured for this remote resource's provider"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


class ProviderUnavailable(DomainError):
    status = 503
    code = "provider_unavailable"
    title = "The resource's provider cannot be reached now; try again later"


class ProviderTimeout(DomainError):
    status = 504
    code = "provider_timeout"
    title = "The resource's provider did not answer in time"


class ProviderError(DomainError):
    status = 502
    code = "provider_error"
    title = "The resource's provider gave an answer that is not one"


class _Retryable(Exception):
    """A fault worth another try: the connection, the time, or a 502/503/504."""

    def __init__(self, fault: DomainError) -> None:
        super().__init__(fault.detail)
        self.fault = fault


def sign_request(signer: LedgerSigner, body: bytes) -> str:
    signature = signer.sign_message(REQUEST_SIGNATURE_CONTEXT + body)
    return f"{signer.key_id}:{base64.b64encode(signature).decode()}"


@dataclass
class RemoteHolding:
    """What the provider answered about the subject, read like a hosted holding."""

    spec: ResourceSpec
    subject: SubjectRef
    rows: list[dict[str, JsonValue]]
    source_timestamp: dt.datetime

    def _value(self, row: Mapping[str, JsonValue], field: FieldSpec) -> JsonValue:
        return self.subject.identifier if field.type == "subject" else row.get(field.name)

    def read(self, fields: Sequence[FieldSpec]) -> dict[str, JsonValue]:
        if self.spec.rows == "one":
            return {field.name: self._value(self.rows[0], field) for field in fields}
        return {field.name: [self._value(row, field) for row in self.rows] for field in fields}

    def placing_regions(self) -> tuple[str, ...]:
        # A remote resource places nobody: it is granted province-wide only.
        return ()

    def holds(self, claims: Mapping[str, str], *, today: dt.date) -> bool:
        return any(
            all(
                claim_holds(self.spec.field(name), self._value(row, self.spec.field(name)), claim)
                for name, claim in claims.items()
            )
            for row in self.rows
        )


@dataclasses.dataclass(frozen=True, slots=True)
class _Answer:
    rows: list[dict[str, JsonValue]]
    source_timestamp: dt.datetime


class RemoteProviders:
    """The exchange's clients of the providers' endpoints, one breaker per resource."""

    def __init__(self, settings: ExchangeSettings, signer: LedgerSigner) -> None:
        self._settings = settings
        self._signer = signer
        self._endpoints = {code: str(url) for code, url in settings.remote_endpoints.items()}
        self._client = make_http_client(
            "",
            timeout_seconds=settings.remote_timeout_seconds,
            connect_timeout_seconds=settings.remote_connect_timeout_seconds,
        )
        self._breakers: dict[str, CircuitBreaker] = {}

    async def aclose(self) -> None:
        await self._client.aclose()

    def _breaker(self, resource: str) -> CircuitBreaker:
        breaker = self._breakers.get(resource)
        if breaker is None:
            breaker = CircuitBreaker(
                failure_threshold=self._settings.remote_breaker_failures,
                reset_seconds=self._settings.remote_breaker_reset_seconds,
            )
            self._breakers[resource] = breaker
        return breaker

    async def holding(
        self,
        spec: ResourceSpec,
        subject: SubjectRef,
        *,
        fields: Sequence[str],
        attempt: AccessAttempt,
    ) -> RemoteHolding | None:
        """Ask the provider; None if it holds nothing about the subject."""
        endpoint = self._endpoints.get(spec.code)
        if endpoint is None:
            raise ProviderNotConfigured(resource=spec.code)
        breaker = self._breaker(spec.code)
        wait = breaker.refusal()
        if wait is not None:
            raise ProviderUnavailable(
                "the provider failed repeatedly and is left alone for a while",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        asked = [name for name in fields if spec.field(name).type != "subject"]
        body = orjson.dumps(
            {
                "resource": spec.code,
                "subject": {subject.kind_key: subject.identifier},
                "fields": asked,
                "purpose": attempt.purpose,
                "case_id": attempt.case_id,
                "call_id": str(attempt.call_id),
            }
        )
        try:
            answer = await self._ask_with_retries(endpoint, body)
        except _Retryable as exc:
            breaker.failed()
            raise exc.fault from exc
        except ProviderError:
            breaker.failed()
            raise
        breaker.succeeded()
        rows = [self._checked(spec, row, asked) for row in answer.rows]
        if not rows:
            return None
        if spec.rows == "one" and len(rows) > 1:
            breaker.failed()
            raise ProviderError("the provider answered several records of a one-record resource")
        return RemoteHolding(spec, subject, rows, answer.source_timestamp)

    async def _ask_with_retries(self, endpoint: str, body: bytes) -> _Answer:
        settings = self._settings
        retrying = AsyncRetrying(
            stop=stop_after_attempt(settings.remote_attempts),
            # remote_backoff_seconds, doubling, each plus up to as much again at random.
            wait=wait_exponential_jitter(
                multiplier=settings.remote_backoff_seconds,
                jitter=settings.remote_backoff_seconds,
                max=settings.remote_backoff_max_seconds,
            ),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._ask(endpoint, body)
        raise AssertionError("tenacity reraises the last fault")  # pragma: no cover

    async def _ask(self, endpoint: str, body: bytes) -> _Answer:
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_request(self._signer, body),
        }
        try:
            response = await self._client.post(endpoint, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Retryable(ProviderTimeout()) from exc
        except httpx.TransportError as exc:
            raise _Retryable(
                ProviderUnavailable(headers={"Retry-After": _retry_after(self._settings)})
            ) from exc
        if response.status_code in _RETRIED_STATUSES:
            raise _Retryable(
                ProviderUnavailable(
                    f"the provider answered {response.status_code}",
                    headers={"Retry-After": _retry_after(self._settings)},
                )
            )
        if response.status_code != 200:
            raise ProviderError(f"the provider answered {response.status_code}")
        try:
            document = orjson.loads(response.content)
            rows = document["records"]
            timestamp = dt.datetime.fromisoformat(document["source_timestamp"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("the provider's answer is not records and a timestamp") from exc
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise ProviderError("the provider's records are not a list of objects")
        if timestamp.tzinfo is None:
            raise ProviderError("the provider's timestamp names no time zone")
        return _Answer(rows, timestamp.astimezone(dt.UTC))

    def _checked(
        self, spec: ResourceSpec, row: dict[str, JsonValue], asked: Sequence[str]
    ) -> dict[str, JsonValue]:
        """Each field asked for, checked against its type (the provider is trusted with the
        facts, not with their form)."""
        today = today_in_china()
        checked: dict[str, JsonValue] = {}
        for name in asked:
            field = spec.field(name)
            raw = row.get(name)
            if raw is None and field.nullable:
                checked[name] = None
                continue
            try:
                checked[name] = parse_value(field, raw, today=today)
            except InvalidValue as exc:
                raise ProviderError(f"the provider's {name} is not valid: {exc}") from exc
        return checked


def _retry_after(settings: ExchangeSettings) -> str:
    return str(max(1, math.ceil(settings.remote_breaker_reset_seconds)))
