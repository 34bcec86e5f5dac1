"""The errors of the OpenAPI documents: every problem an operation can answer, as
``application/problem+json`` with a real schema and an example per code.

A route declares the problems of its own rules with ``problem_responses``::

    @router.get("/cases/{case_no}", responses=problem_responses(CaseNotFound))

and ``ServiceApp`` (every service's app, see ``servicekit.app``) adds what the kit knows of each
route, reading its dependency tree rather than a list kept by hand:

    every route with parameters or a body  422 validation_failed
    a body                                 400 malformed_body, 413 payload_too_large
    ``current_principal`` among its deps   401 unauthenticated | invalid_token | token_expired,
                                           403 wrong_principal_type | insufficient_scope (a
                                           third-party client's token, refused by default),
                                           503 upstream_unavailable (the signing keys), and a
                                           ``security`` requirement
    ``requires_scopes`` among its deps     its scopes in the ``security`` requirement and in
                                           ``x-required-scopes``
    the request's database session         503 database_unavailable
    an Idempotency-Key claim               400 invalid_idempotency_key (and, when the key is
                                           required, idempotency_key_required), 422
                                           idempotency_key_reused, 409
                                           idempotency_request_in_progress
    an ``Idempotency-Key`` claim           400 idempotency_key_required (when required) |
                                           invalid_idempotency_key, 409 ..._in_progress,
                                           422 idempotency_key_reused

Per status, the response's schema is the ``Problem`` component with ``status`` fixed and ``code``
enumerated, each code with its own title and extension members (``oneOf`` when there are
several). The same functions let the gateway add its own problems to the merged document.
"""

import http
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from starlette.routing import BaseRoute

from servicekit.auth import (
    InsufficientScope,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    WrongPrincipalType,
    current_principal,
    declared_scopes,
)
from servicekit.db import DatabaseUnavailable, ReadSessionDep, SessionDep
from servicekit.idempotency import (
    KEYED_REQUEST_PROBLEMS,
    IdempotencyDep,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
    InvalidIdempotencyKey,
    OptionalIdempotencyDep,
)
from servicekit.problems import (
    PROBLEM_JSON,
    DomainError,
    JsonSchema,
    MalformedBody,
    PayloadTooLarge,
    Unauthenticated,
    UpstreamUnavailable,
    ValidationFailed,
)

SECURITY_SCHEME = "accessToken"
#: The operation's extension naming the scopes a token limited by scope must hold (all of them).
REQUIRED_SCOPES = "x-required-scopes"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    SECURITY_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from `POST /identity/v1/token`",
    }
}
PROBLEM_SCHEMA_NAME = "Problem"
PROBLEM_REF = f"#/components/schemas/{PROBLEM_SCHEMA_NAME}"
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": PROBLEM_SCHEMA_NAME,
    "description": "A problem (RFC 9457). `code` is stable and machine-readable; each code "
    "has its own `title` and may carry extension members of its own.",
    "properties": {
        "type": {"type": "string", "pattern": "^/problems/[a-z][a-z0-9_]*$"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The path of the request"},
        "request_id": {"type": "string", "description": "Quote it when reporting a problem"},
    },
    "required": ["type", "title", "status", "code"],
}
#: The schemas FastAPI documents 422 with, which no answer has.
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_EXAMPLE_REQUEST_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The Bearer challenge (RFC 6750), naming the error",
            "schema": {"type": "string"},
        }
    },
    403: {
        "WWW-Authenticate": {
            "description": "With insufficient_scope: the Bearer challenge (RFC 6750), naming "
            "the error and the scopes required",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer"},
        }
    },
    503: {
        "Retry-After": {
            "description": "Seconds to wait before trying again, when known",
            "schema": {"type": "integer"},
        }
    },
}

#: What every route that authenticates its caller can answer.
AUTHENTICATION_PROBLEMS: tuple[type[DomainError], ...] = (
    Unauthenticated,
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    WrongPrincipalType,
    InsufficientScope,
    UpstreamUnavailable,
)
#: What every route that reads a body can answer.
BODY_PROBLEMS: tuple[type[DomainError], ...] = (MalformedBody, PayloadTooLarge)
#: What a route that claims an Idempotency-Key can answer, the key optional or required.
KEYED_PROBLEMS: tuple[type[DomainError], ...] = (
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
)
_SESSION_DEPENDENCY = get_args(SessionDep)[1].dependency
_READ_SESSION_DEPENDENCY = get_args(ReadSessionDep)[1].dependency
_OPTIONAL_KEY = get_args(OptionalIdempotencyDep)[1].dependency
_REQUIRED_KEY = get_args(IdempotencyDep)[1].dependency
_REQUIRED_KEY_DEPENDENCY = get_args(IdempotencyDep)[1].dependency
_OPTIONAL_KEY_DEPENDENCY = get_args(OptionalIdempotencyDep)[1].dependency


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One problem as documents describe it: what its class declares."""

    status: int
    code: str
    title: str
    members: Mapping[str, JsonSchema]

    @classmethod
    def of(cls, problem: type[DomainError]) -> "ProblemType":
        return cls(problem.status, problem.code, problem.title, dict(problem.members))


class ProblemResponse(dict[str, Any]):
    """A route's documented response for one status (what FastAPI copies into the
    document), remembering the problems it was made of."""

    def __init__(self, problems: Sequence[ProblemType]) -> None:
        super().__init__(render_problem_response(problems))
        self.problems = tuple(problems)


def problem_responses(*problems: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route that raises ``problems``: one response per status."""
    by_status: dict[int, list[ProblemType]] = {}
    for problem in problems:
        by_status.setdefault(problem.status, []).append(ProblemType.of(problem))
    return {status: ProblemResponse(types) for status, types in sorted(by_status.items())}


def _variant_properties(problem: ProblemType) -> dict[str, Any]:
    return {
        "code": {"const": problem.code},
        "title": {"const": problem.title},
        **problem.members,
    }


def problem_example(problem: ProblemType, instance: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "code": problem.code,
    }
    if instance:
        body["instance"] = instance
    body["request_id"] = _EXAMPLE_REQUEST_ID
    for name, schema in problem.members.items():
        examples = schema.get("examples")
        if examples:
            body[name] = examples[0]
    return body


def render_problem_response(
    problems: Iterable[ProblemType], *, instance: str | None = None
) -> dict[str, Any]:
    """The OpenAPI response object for problems that share one status."""
    by_code = {problem.code: problem for problem in problems}
    ordered = [by_code[code] for code in sorted(by_code)]
    if not ordered:
        raise ValueError("a problem response needs at least one problem")
    status = ordered[0].status
    if any(problem.status != status for problem in ordered):
        raise ValueError(f"problems of several statuses: {sorted(by_code)}")
    schema: dict[str, Any] = {
        "allOf": [{"$ref": PROBLEM_REF}],
        "properties": {"status": {"const": status}},
    }
    if len(ordered) == 1:
        schema["properties"].update(_variant_properties(ordered[0]))
    else:
        schema["properties"]["code"] = {"enum": [problem.code for problem in ordered]}
        schema["oneOf"] = [
            {"title": problem.code, "properties": _variant_properties(problem)}
            for problem in ordered
        ]
    lines = [f"- `{problem.code}`: {problem.title}" for problem in ordered]
    response: dict[str, Any] = {
        "description": f"{_phrase(status)}, a problem:\n\n" + "\n".join(lines),
        "content": {
            PROBLEM_JSON: {
                "schema": schema,
                "examples": {
                    problem.code: {
                        "summary": problem.title,
                        "value": problem_example(problem, instance),
                    }
                    for problem in ordered
                },
            }
        },
    }
    if status in _HEADERS:
        response["headers"] = _HEADERS[status]
    return response


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


def problems_of(status: int, response: Mapping[str, Any]) -> list[ProblemType]:
    """The problems a rendered response describes (none, if it is not a problem response)."""
    schema = response.get("content", {}).get(PROBLEM_JSON, {}).get("schema", {})
    if not isinstance(schema, Mapping) or {"$ref": PROBLEM_REF} not in schema.get("allOf", []):
        return []
    variants = schema.get("oneOf") or [schema]
    found: list[ProblemType] = []
    for variant in variants:
        properties = dict(variant.get("properties", {}))
        properties.pop("status", None)
        code = properties.pop("code", {}).get("const")
        title = properties.pop("title", {}).get("const")
        if isinstance(code, str) and isinstance(title, str):
            found.append(ProblemType(status, code, title, properties))
    return found


def add_problems(
    operation: dict[str, Any], problems: Iterable[ProblemType], *, instance: str | None = None
) -> None:
    """Add ``problems`` to an operation's responses, beside the problems already there."""
    responses: dict[str, Any] = operation.setdefault("responses", {})
    added: dict[int, list[ProblemType]] = {}
    for problem in problems:
        added.setdefault(problem.status, []).append(problem)
    for status, new in added.items():
        key = str(status)
        existing = problems_of(status, responses.get(key, {}))
        known = {problem.code for problem in existing}
        merged = [*existing, *(problem for problem in new if problem.code not in known)]
        responses[key] = render_problem_response(merged, instance=instance)
    operation["responses"] = dict(sorted(responses.items(), key=lambda item: _status_key(item[0])))


def _status_key(status: str) -> tuple[int, str]:
    return (int(status), "") if status.isdigit() else (1000, status)


def _calls(dependant: Dependant) -> Iterable[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


#: A route as FastAPI documents it: the route itself, or its context inside included routers
#: (its path, dependencies and responses with the routers' own).
Route = APIRoute | RouteContext


def route_problems(route: Route, operation: Mapping[str, Any]) -> list[ProblemType]:
    """What the route declares, and what the kit knows it can answer."""
    problems: list[type[DomainError]] = []
    if "422" in operation.get("responses", {}) or route.body_field is not None:
        problems.append(ValidationFailed)
    calls = set(_calls(route.dependant))
    if current_principal in calls:
        problems.extend(AUTHENTICATION_PROBLEMS)
    if route.body_field is not None:
        problems.extend(BODY_PROBLEMS)
    if _SESSION_DEPENDENCY in calls or _READ_SESSION_DEPENDENCY in calls:
        problems.append(DatabaseUnavailable)
    if _REQUIRED_KEY in calls:
        problems.append(IdempotencyKeyRequired)
    if _REQUIRED_KEY in calls or _OPTIONAL_KEY in calls:
        problems.extend(KEYED_PROBLEMS)
    if _REQUIRED_KEY_DEPENDENCY in calls:
        problems.extend((IdempotencyKeyRequired, *KEYED_REQUEST_PROBLEMS))
    if _OPTIONAL_KEY_DEPENDENCY in calls:
        problems.extend(KEYED_REQUEST_PROBLEMS)
    types = [ProblemType.of(problem) for problem in problems]
    for response in route.responses.values():
        if isinstance(response, ProblemResponse):
            types.extend(response.problems)
    return types


def authenticates(route: Route) -> bool:
    return current_principal in set(_calls(route.dependant))


_PATH_PARAMETER = re.compile(r"\{([^}]+)\}")


def example_path(path: str, operation: Mapping[str, Any]) -> str:
    """``path`` with each parameter replaced by its documented example, where it has one."""
    examples: dict[str, str] = {}
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        schema = parameter.get("schema", {})
        values = schema.get("examples") or ([schema["example"]] if "example" in schema else [])
        if values:
            examples[parameter["name"]] = str(values[0])
    return _PATH_PARAMETER.sub(lambda match: examples.get(match[1], match[0]), path)


def _models(cls: type[BaseModel]) -> Iterable[type[BaseModel]]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _models(subclass)


def _without_nulls(value: Any) -> Any:
    """``value`` as FastAPI writes it into a document: without the members that are null."""
    if isinstance(value, dict):
        return {
            name: _without_nulls(member) for name, member in value.items() if member is not None
        }
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def restore_examples(document: dict[str, Any], packages: set[str]) -> None:
    """Put back the examples of the packages' models as they declare them: FastAPI writes the
    document without null values, which takes a required ``null`` out of every example (and so
    makes it one the schema refuses). A schema gets the declared examples it was written from,
    so that two models of one name (in two modules) each keep their own."""
    declared: dict[str, list[list[Any]]] = {}
    for model in _models(BaseModel):
        if model.__module__.split(".")[0] not in packages:
            continue
        extra = model.model_config.get("json_schema_extra")
        if isinstance(extra, dict) and isinstance(extra.get("examples"), list):
            examples = to_jsonable_python(extra["examples"])
            declared.setdefault(model.__name__, []).append(examples)
    for schema in document.get("components", {}).get("schemas", {}).values():
        written = schema.get("examples")
        for examples in declared.get(schema.get("title", ""), []):
            if written is not None and _without_nulls(examples) == written:
                schema["examples"] = examples
                break


def document_problems(document: dict[str, Any], routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The document FastAPI made, with every operation's problems and security."""
    paths: dict[str, Any] = document.get("paths", {})
    packages: set[str] = set()
    for route in iter_route_contexts(routes):
        endpoint = route.endpoint
        if endpoint is not None:
            packages.add(endpoint.__module__.split(".")[0])
        path = route.path_format
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = paths.get(path) if path is not None else None
        if path is None or item is None:
            continue
        for method in sorted(route.methods or ()):
            operation = item.get(method.lower())
            if operation is None:
                continue
            problems = route_problems(route, operation)
            responses = operation.setdefault("responses", {})
            # FastAPI's own 422 and whatever a route declared get rendered again, whole.
            for status in {str(problem.status) for problem in problems}:
                responses.pop(status, None)
            add_problems(operation, problems, instance=example_path(path, operation))
            if authenticates(route):
                scopes = list(declared_scopes(route.dependant))
                operation["security"] = [{SECURITY_SCHEME: scopes}]
                if scopes:
                    operation[REQUIRED_SCOPES] = scopes
    restore_examples(document, packages)
    components: dict[str, Any] = document.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas[PROBLEM_SCHEMA_NAME] = PROBLEM_SCHEMA
    components["schemas"] = dict(sorted(schemas.items()))
    components.setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)
    return document


class ServiceApp(FastAPI):
    """A FastAPI app whose document says what its routes really answer."""

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = document_problems(super().openapi(), self.routes)
        return self.openapi_schema
