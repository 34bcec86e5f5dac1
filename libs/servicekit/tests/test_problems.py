"""Every problem code is declared once: one status, one title, one set of extension members,
whichever class of whichever service raises it; and a problem sends only what it declares."""

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest

from servicekit.problems import (
    Conflict,
    DomainError,
    NotFound,
    disagreements,
    extension_members,
    problem_classes,
)

#: Every package whose problems reach a client: the kit, the gateway and the services.
PACKAGES = (
    "servicekit",
    "gateway",
    "identity_svc",
    "catalog_svc",
    "case_svc",
    "rating_svc",
    "data_exchange_svc",
)


def _import_everything() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)


@pytest.fixture(scope="module")
def declared() -> list[type[DomainError]]:
    _import_everything()
    return list(problem_classes(*PACKAGES))


def test_every_service_declares_each_code_alike(declared: list[type[DomainError]]) -> None:
    assert len(declared) > 100
    assert disagreements(declared) == []


def _schemas(declared: list[type[DomainError]]) -> Iterator[tuple[str, str, Any]]:
    for problem in declared:
        for name, schema in problem.members.items():
            yield problem.code, name, schema


def test_every_extension_member_has_a_type_and_an_example(
    declared: list[type[DomainError]],
) -> None:
    untyped = [(code, name) for code, name, schema in _schemas(declared) if "type" not in schema]
    unexampled = [
        (code, name) for code, name, schema in _schemas(declared) if not schema.get("examples")
    ]
    assert untyped == []
    assert unexampled == []


def test_no_member_shadows_a_member_every_problem_has(declared: list[type[DomainError]]) -> None:
    standard = {"type", "title", "status", "code", "detail", "instance", "request_id"}
    assert [(code, name) for code, name, _ in _schemas(declared) if name in standard] == []


def test_codes_are_snake_case_and_statuses_errors(declared: list[type[DomainError]]) -> None:
    assert [p.code for p in declared if not p.code.replace("_", "").isalnum()] == []
    assert [p.code for p in declared if p.code != p.code.lower()] == []
    assert [p.code for p in declared if not 400 <= p.status <= 599] == []


class _Taken(Conflict):
    code = "note_taken"
    title = "The note is taken"
    members = extension_members(note_id={"type": "string", "examples": ["n-1"]})


def test_two_classes_of_one_code_must_agree() -> None:
    class SameAgain(Conflict):
        code = "note_taken"
        title = "The note is taken"
        members = extension_members(note_id={"type": "string", "examples": ["n-1"]})

    class OtherStatus(NotFound):
        code = "note_taken"
        title = "The note is taken"
        members = extension_members(note_id={"type": "string", "examples": ["n-1"]})

    class OtherMembers(Conflict):
        code = "note_taken"
        title = "The note is taken"

    assert disagreements([_Taken, SameAgain]) == []
    (status,) = disagreements([_Taken, OtherStatus])
    assert "differ in status" in status
    (members,) = disagreements([_Taken, OtherMembers])
    assert "differ in members" in members


def test_a_problem_refuses_a_member_it_does_not_declare() -> None:
    assert _Taken("taken", note_id="n-1").extensions == {"note_id": "n-1"}
    with pytest.raises(TypeError, match="declares no member owner"):
        _Taken("taken", owner="someone")


def test_a_class_that_groups_problems_is_never_raised_nor_listed() -> None:
    class RegistryProblem(DomainError, abstract=True):
        members = extension_members(registry={"type": "string", "examples": ["population"]})

    class RegistryDown(RegistryProblem):
        status = 503
        code = "registry_down"
        title = "The registry is down"

    with pytest.raises(TypeError, match="groups problems"):
        RegistryProblem()
    assert RegistryDown(registry="population").extensions == {"registry": "population"}
    listed = set(problem_classes(__name__))
    assert RegistryDown in listed
    assert RegistryProblem not in listed
