"""Does a server answer what its OpenAPI document says? Schemathesis generates requests from the
document (valid ones, and ones that break it), sends them over real HTTP and checks each answer:
no 5xx, a documented status, a documented content type, a body its schema accepts.

Used by the tests only (schemathesis is a development dependency). ``check_contract`` is
synchronous and sends real requests: call it in a thread (``asyncio.to_thread``) when the
server runs on the test's own event loop. Generation is derandomised, so CI sees the same
requests every run; ``ONEVISIT_CONTRACT_SEED`` gives another seed, to explore.
"""

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from jsonschema import Draft202012Validator
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.openapi import from_dict
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from servicekit.testing import ServedApp

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Headers for an operation (a token of the kind it needs), given its method and path.
HeadersFor = Callable[[str, str], Mapping[str, str]]
Operation = APIOperation[Any, Any, Any, Any]


@dataclass
class ContractReport:
    requests: int = 0
    seconds: float = 0.0
    #: (method path, status) → how many answers.
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    #: One line per distinct failure: the operation, the status and what broke.
    failures: set[str] = field(default_factory=set)

    def summary(self) -> str:
        return (
            f"{self.requests} requests in {self.seconds:.1f} s, "
            f"{len(self.statuses)} (operation, status) pairs, {len(self.failures)} failures"
        )


def _no_headers(_method: str, _path: str) -> Mapping[str, str]:
    return {}


def check_contract(
    document: dict[str, Any],
    base_url: str,
    *,
    examples_per_operation: int,
    headers_for: HeadersFor = _no_headers,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    skip: Callable[[Operation], bool] = lambda _operation: False,
) -> ContractReport:
    """Send ``examples_per_operation`` generated requests per operation and mode to
    ``base_url`` and check every answer against ``document``."""
    schema = from_dict(document)
    report = ContractReport()
    started = time.monotonic()
    derandomize = "ONEVISIT_CONTRACT_SEED" not in os.environ
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        if skip(operation):
            continue
        headers = dict(headers_for(operation.method.upper(), operation.path))
        for mode in modes:
            _exercise(
                operation,
                mode,
                base_url,
                headers,
                report,
                derandomize,
                examples_per_operation,
            )
    report.seconds = time.monotonic() - started
    return report


#: What a service's own contract test sends per operation and mode: enough to reach every
#: documented status of the platform's operations, within the CI budget (about 1.5 minutes
#: for the five services).
EXAMPLES_PER_OPERATION = 25


async def assert_app_keeps_its_contract(
    app: FastAPI, *, headers_for: HeadersFor = _no_headers
) -> None:
    """Serve ``app`` (started) on a free port of this process, check it against its own
    document, and fail with every broken answer listed."""
    served = ServedApp(app)
    await served.start()
    try:
        report = await asyncio.to_thread(
            check_contract,
            app.openapi(),
            served.url,
            examples_per_operation=EXAMPLES_PER_OPERATION,
            headers_for=headers_for,
        )
    finally:
        await served.stop()
    print(report.summary())
    assert not report.failures, "\n".join(sorted(report.failures))


def _exercise(
    operation: Operation,
    mode: GenerationMode,
    base_url: str,
    headers: dict[str, str],
    report: ContractReport,
    derandomize: bool,
    examples: int,
) -> None:
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=derandomize,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Case[Operation]) -> None:
        # A connection per request: on a kept-alive one, each answer waited 40 ms for a
        # delayed ACK (the server's two writes), which made the runs ten times longer.
        response = case.call(base_url=base_url, headers=headers)
        report.requests += 1
        report.statuses[(label, response.status_code)] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                title = str(getattr(failure, "title", type(failure).__name__))
                report.failures.add(f"{label} → {response.status_code} ({mode.value}): {title}")

    if not derandomize:
        send = seed(int(os.environ["ONEVISIT_CONTRACT_SEED"]))(send)
    try:
        send()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        assert mode is GenerationMode.NEGATIVE, f"{label}: no valid request can be generated"


def example_mismatches(document: dict[str, Any]) -> list[str]:
    """Every example in ``document`` (of a component schema, or of a problem response) that
    its own schema refuses: an example a client copies must be one the server would send."""
    components = {"components": document.get("components", {})}
    found: list[str] = []

    def check(where: str, schema: Mapping[str, Any], example: Any) -> None:
        validator = Draft202012Validator({**schema, **components})
        for error in validator.iter_errors(example):
            found.append(f"{where}: {error.message}")

    for name, schema in document.get("components", {}).get("schemas", {}).items():
        for example in schema.get("examples", []):
            check(f"components.schemas.{name}", schema, example)
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            for status, response in operation.get("responses", {}).items():
                for media_type, content in response.get("content", {}).items():
                    for code, example in content.get("examples", {}).items():
                        where = f"{method.upper()} {path} {status} {media_type} {code}"
                        check(where, content.get("schema", {}), example["value"])
    return found


def _has_example(schema: Mapping[str, Any], schemas: Mapping[str, Any]) -> bool:
    """Whether ``schema`` shows an example: its own, its component's, or, for a choice between
    schemas, one for every choice (a client sees the example of the one it is answered)."""
    if schema.get("examples") or "example" in schema:
        return True
    reference = schema.get("$ref")
    if isinstance(reference, str):
        return _has_example(schemas.get(reference.rsplit("/", 1)[-1], {}), schemas)
    choices = schema.get("anyOf") or schema.get("oneOf") or []
    return bool(choices) and all(_has_example(choice, schemas) for choice in choices)


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def missing_examples(document: dict[str, Any]) -> list[str]:
    """Every success answer in JSON and every request body in ``document`` that shows no
    example (in its content or its schema): a client should see what it sends and gets."""
    schemas = document.get("components", {}).get("schemas", {})
    found: list[str] = []

    def check(where: str, content: Mapping[str, Any]) -> None:
        if content.get("examples") or "example" in content:
            return
        if not _has_example(content.get("schema", {}), schemas):
            found.append(where)

    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            body = operation.get("requestBody", {})
            for media_type, content in body.get("content", {}).items():
                check(f"{method.upper()} {path} request body {media_type}", content)
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                for media_type, content in response.get("content", {}).items():
                    if _is_json(media_type):
                        check(f"{method.upper()} {path} {status} {media_type}", content)
    return found
