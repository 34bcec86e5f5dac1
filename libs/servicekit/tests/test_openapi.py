"""What a service's OpenAPI document says of its errors: the problems each route declares, and
those the kit knows from the route's dependencies, as problem+json with real schemas."""

from typing import Annotated, Any

import jsonschema
import pytest
from fastapi import APIRouter, Depends, Query
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from servicekit.app import build_app
from servicekit.auth import Principal, PrincipalDep, current_principal
from servicekit.contract_testing import missing_examples
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyDep, OptionalIdempotencyDep
from servicekit.openapi import (
    PROBLEM_REF,
    ProblemType,
    add_problems,
    authenticates,
    problem_responses,
    problems_of,
    render_problem_response,
    restore_examples,
)
from servicekit.problems import Conflict, NotFound, extension_members
from servicekit.settings import ServiceSettings


class NoteMissing(NotFound):
    code = "note_missing"
    title = "No such note"
    members = extension_members(note_id={"type": "integer", "examples": [7]})


class NoteLocked(Conflict):
    code = "note_locked"
    title = "The note is locked"


class NoteCreate(BaseModel):
    text: str


async def _reader(principal: PrincipalDep) -> Principal:
    return principal


router = APIRouter()


@router.get("/health-of-notes")
async def public_and_bare() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/notes/{note_id}", responses=problem_responses(NoteMissing))
async def read_note(note_id: int, session: SessionDep) -> dict[str, int]:
    return {"id": note_id}


@router.post("/notes", status_code=201, responses=problem_responses(NoteLocked, NoteMissing))
async def write_note(
    payload: NoteCreate,
    reader: Annotated[Principal, Depends(_reader)],
    session: SessionDep,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, str]:
    return {"text": payload.text}


@router.put("/notes/{note_id}/pin")
async def pin_note(note_id: int, claim: IdempotencyDep) -> dict[str, int]:
    return {"id": note_id}


@router.delete("/notes/{note_id}/pin")
async def unpin_note(note_id: int, claim: OptionalIdempotencyDep) -> dict[str, int]:
    return {"id": note_id}


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "kit.db"
    settings = ServiceSettings(service_name="kit-test", database_url=f"sqlite+aiosqlite:///{path}")
    return build_app(settings, title="kit test", routers=[router]).openapi()


def _problem_codes(operation: dict[str, Any]) -> dict[str, list[str]]:
    return {
        status: [problem.code for problem in problems_of(int(status), response)]
        for status, response in operation["responses"].items()
        if problems_of(int(status), response)
    }


def test_a_route_with_a_body_a_token_and_a_session_documents_every_problem_it_can_answer(
    document: dict[str, Any],
) -> None:
    operation = document["paths"]["/notes"]["post"]
    assert _problem_codes(operation) == {
        "400": ["malformed_body"],
        "401": ["invalid_token", "token_expired", "token_revoked", "unauthenticated"],
        "403": ["insufficient_scope", "wrong_principal_type"],
        "404": ["note_missing"],
        "409": ["note_locked"],
        "413": ["payload_too_large"],
        "422": ["validation_failed"],
        "503": ["database_unavailable", "upstream_unavailable"],
    }
    assert operation["security"] == [{"accessToken": []}]
    assert list(operation["responses"]) == sorted(operation["responses"], key=int)


def test_a_route_without_a_token_or_body_documents_only_what_it_can_answer(
    document: dict[str, Any],
) -> None:
    read = document["paths"]["/notes/{note_id}"]["get"]
    assert _problem_codes(read) == {
        "404": ["note_missing"],
        "422": ["validation_failed"],
        "503": ["database_unavailable"],
    }
    assert "security" not in read
    bare = document["paths"]["/health-of-notes"]["get"]
    assert _problem_codes(bare) == {}
    assert "security" not in bare


def test_a_route_that_claims_an_idempotency_key_documents_what_the_claim_answers(
    document: dict[str, Any],
) -> None:
    keyed = {
        "400": ["idempotency_key_required", "invalid_idempotency_key"],
        "409": ["idempotency_request_in_progress"],
        "422": ["idempotency_key_reused", "validation_failed"],
    }
    required = _problem_codes(document["paths"]["/notes/{note_id}/pin"]["put"])
    assert {status: required[status] for status in keyed} == keyed
    optional = _problem_codes(document["paths"]["/notes/{note_id}/pin"]["delete"])
    assert {status: optional[status] for status in keyed} == {
        **keyed,
        "400": ["invalid_idempotency_key"],
    }
    # The key is the caller's: the claim authenticates, and the kit finds that too.
    assert document["paths"]["/notes/{note_id}/pin"]["put"]["security"] == [{"accessToken": []}]


def test_fastapis_validation_schemas_give_way_to_the_problem(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert schemas["Problem"]["required"] == ["type", "title", "status", "code"]
    assert document["components"]["securitySchemes"]["accessToken"]["scheme"] == "bearer"
    assert "HTTPValidationError" not in str(document["paths"])


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    resolvable = {**schema, "components": document["components"]}
    return jsonschema.Draft202012Validator(resolvable)


def test_each_code_has_an_example_its_own_schema_accepts(document: dict[str, Any]) -> None:
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/problem+json")
                if content is None:
                    continue
                validator = _validator(document, content["schema"])
                for code, example in content["examples"].items():
                    assert example["value"]["code"] == code
                    assert example["value"]["status"] == int(status)
                    validator.validate(example["value"])


def test_a_body_of_another_code_or_status_does_not_fit_the_schema(
    document: dict[str, Any],
) -> None:
    response = document["paths"]["/notes"]["post"]["responses"]["401"]
    validator = _validator(document, response["content"]["application/problem+json"]["schema"])
    fits = {"type": "/problems/token_expired", "title": "The access token has expired"}
    validator.validate({**fits, "status": 401, "code": "token_expired"})
    assert not validator.is_valid({**fits, "status": 401, "code": "note_locked"})
    assert not validator.is_valid({**fits, "status": 403, "code": "token_expired"})
    assert not validator.is_valid({**fits, "status": 401, "code": "invalid_token"})


def test_the_instance_of_an_example_is_a_path_the_operation_serves(
    document: dict[str, Any],
) -> None:
    examples = document["paths"]["/notes"]["post"]["responses"]["409"]["content"][
        "application/problem+json"
    ]["examples"]
    assert examples["note_locked"]["value"]["instance"] == "/notes"


def test_problems_added_to_a_rendered_response_join_the_ones_there() -> None:
    missing = ProblemType.of(NoteMissing)
    locked = ProblemType.of(NoteLocked)
    operation: dict[str, Any] = {
        "responses": {"200": {"description": "OK"}, "404": render_problem_response([missing])}
    }
    add_problems(operation, [ProblemType(404, "route_not_found", "No route", {}), locked])
    assert [p.code for p in problems_of(404, operation["responses"]["404"])] == [
        "note_missing",
        "route_not_found",
    ]
    assert problems_of(404, operation["responses"]["404"])[0] == missing
    assert problems_of(409, operation["responses"]["409"]) == [locked]
    assert list(operation["responses"]) == ["200", "404", "409"]
    schema = operation["responses"]["404"]["content"]["application/problem+json"]["schema"]
    assert schema["allOf"] == [{"$ref": PROBLEM_REF}]


def test_the_kit_finds_the_token_check_deep_in_the_dependency_tree() -> None:
    (route,) = [r for r in router.routes if isinstance(r, APIRoute) and r.path == "/notes"]
    # ``write_note`` depends on ``_reader``, which depends on ``current_principal``.
    assert current_principal not in [d.call for d in route.dependant.dependencies]
    assert authenticates(route)


_NOTE = {"type": "object", "properties": {"text": {"type": "string"}}}
_SHOWN = {**_NOTE, "examples": [{"text": "挂失已受理"}]}
_NOTE_REF = {"$ref": "#/components/schemas/Note"}
_SHOWN_REF = {"$ref": "#/components/schemas/ShownNote"}


def _json(schema: dict[str, Any], **content: Any) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema, **content}}}


@pytest.mark.parametrize(
    ("operation", "missing"),
    [
        pytest.param({"200": _json(_NOTE)}, ["200"], id="an answer without one"),
        pytest.param({"200": _json(_SHOWN)}, [], id="an answer whose schema has one"),
        pytest.param({"201": _json(_NOTE_REF)}, ["201"], id="a component without one"),
        pytest.param({"201": _json(_SHOWN_REF)}, [], id="a component with one"),
        pytest.param({"200": _json(_NOTE, example={})}, [], id="an example of its own"),
        pytest.param({"200": _json(_NOTE, examples={"a": {}})}, [], id="named examples"),
        pytest.param(
            {"200": _json({"anyOf": [_SHOWN, _NOTE_REF]})}, ["200"], id="a choice, one without"
        ),
        pytest.param(
            {"200": _json({"anyOf": [_SHOWN, _SHOWN_REF]})}, [], id="a choice, each with one"
        ),
        pytest.param(
            {"200": {"content": {"text/plain": {"schema": {"type": "string"}}}}},
            [],
            id="an answer that is not JSON",
        ),
        pytest.param({"204": {}, "404": _json(_NOTE)}, [], id="no content, and a failure"),
    ],
)
def test_every_success_answer_in_json_must_show_an_example(
    operation: dict[str, Any], missing: list[str]
) -> None:
    document = {
        "paths": {"/notes": {"post": {"responses": operation}}},
        "components": {"schemas": {"Note": _NOTE, "ShownNote": _SHOWN}},
    }
    assert missing_examples(document) == [
        f"POST /notes {status} application/json" for status in missing
    ]


@pytest.mark.parametrize(
    ("schema", "shown"), [(_NOTE, False), (_SHOWN, True), (_NOTE_REF, False), (_SHOWN_REF, True)]
)
def test_every_request_body_must_show_an_example(schema: dict[str, Any], shown: bool) -> None:
    operation = {"requestBody": _json(schema), "responses": {}}
    document = {
        "paths": {"/notes": {"post": operation}},
        "components": {"schemas": {"Note": _NOTE, "ShownNote": _SHOWN}},
    }
    assert missing_examples(document) == (
        [] if shown else ["POST /notes request body application/json"]
    )


def test_the_health_routes_show_what_they_answer(document: dict[str, Any]) -> None:
    missing = missing_examples(document)
    assert "GET /healthz 200 application/json" not in missing
    assert "GET /readyz 200 application/json" not in missing
    # The notes' answers have none: the check does see them.
    assert "GET /notes/{note_id} 200 application/json" in missing


class Pin(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"note_id": 7, "until": None}]})

    note_id: int
    until: str | None


def _another_pin() -> type[BaseModel]:
    class Pin(BaseModel):  # the same name, as in another module
        model_config = ConfigDict(
            json_schema_extra={"examples": [{"board": "b1", "pinned_by": None}]}
        )

        board: str
        pinned_by: str | None

    return Pin


def test_each_schema_gets_back_the_nulls_of_its_own_models_examples() -> None:
    other = _another_pin()
    assert other.__name__ == Pin.__name__
    # As FastAPI writes them: both titled Pin, their examples without their nulls.
    schemas = {
        "Pin": {"title": "Pin", "examples": [{"note_id": 7}]},
        "Pin-Other": {"title": "Pin", "examples": [{"board": "b1"}]},
    }
    restore_examples({"components": {"schemas": schemas}}, {__name__.split(".")[0]})
    assert schemas["Pin"]["examples"] == [{"note_id": 7, "until": None}]
    assert schemas["Pin-Other"]["examples"] == [{"board": "b1", "pinned_by": None}]
