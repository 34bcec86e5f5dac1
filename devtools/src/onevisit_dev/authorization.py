"""The authorisation matrix: for every operation of the platform's merged OpenAPI document and
every kind of caller, the class of answer expected, kept as data beside the gateway's routing
table (``gateway/src/gateway/authorization.toml``; its header says how it is written). The
end-to-end tests call each operation as each caller and compare.

A class names a set of statuses, chosen so that no answer fits two classes that a caller could
be confused between: an authorised caller never gets 401/403, a refused one never 2xx.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The matrix, beside the routing table it is the other half of.
MATRIX_FILE = Path(__file__).resolve().parents[3] / "gateway/src/gateway/authorization.toml"

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_OPERATION = re.compile(r"^(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS|TRACE) /\S*$")
#: Table keys of the file that are not operations.
_SECTIONS = frozenset({"callers", "defaults"})
#: In a class's list: every kind the operation's table does not place otherwise.
REST = "*"


def _is_success(status: int) -> bool:
    return 200 <= status < 300


#: Class → (what it means, the statuses that fit it).
ANSWER_CLASSES: dict[str, tuple[str, Callable[[int], bool]]] = {
    "ok": ("served: 2xx", _is_success),
    "allowed": (
        "past authorisation, answered on the request's merits: 2xx, or a 4xx other than "
        "401, 403 and 404 (a conflict, a precondition, content the rules refuse)",
        lambda status: (
            _is_success(status) or (400 <= status < 500 and status not in (401, 403, 404))
        ),
    ),
    "unauthenticated": ("refused for want of a valid token: 401", lambda status: status == 401),
    "forbidden": ("refused, the caller being known: 403", lambda status: status == 403),
    "hidden": (
        "refused as if the resource did not exist: 404",
        lambda status: status == 404,
    ),
}
#: Classes of callers who are let through, whose calls may change what later callers see:
#: they are made after every refusal of the operation has been checked.
LET_THROUGH = frozenset({"ok", "allowed"})


class MatrixError(ValueError):
    """The matrix file is not written as its header says."""


def fits(answer_class: str, status: int) -> bool:
    return ANSWER_CLASSES[answer_class][1](status)


@dataclass(frozen=True)
class Finding:
    """A known open defect: the callers of an operation that do not yet get the answer the
    matrix gives (the test expects them to fail, strictly, until it is fixed)."""

    reason: str
    callers: frozenset[str]


@dataclass(frozen=True)
class Matrix:
    #: Every kind of caller, in the order of the columns.
    kinds: tuple[str, ...]
    #: "METHOD /path" → kind → class.
    expected: Mapping[str, Mapping[str, str]]
    findings: Mapping[str, Finding]

    @property
    def operations(self) -> list[str]:
        return sorted(self.expected)

    def let_through(self, operation: str) -> list[str]:
        """The kinds the operation serves (``ok`` or ``allowed``), in column order."""
        expected = self.expected[operation]
        return [kind for kind in self.kinds if expected[kind] in LET_THROUGH]

    def call_order(self, operation: str) -> list[str]:
        """Every kind, refusals first: what a caller let through does (end a session, decide a
        grant, withdraw an item) never changes what a refusal is checked against."""
        expected = self.expected[operation]
        return sorted(self.kinds, key=lambda kind: expected[kind] in LET_THROUGH)


def load_matrix(path: Path = MATRIX_FILE) -> Matrix:
    with path.open("rb") as source:
        data = tomllib.load(source)
    return parse_matrix(data)


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise MatrixError(f"{where}: a list of names")
    return value


def parse_matrix(data: Mapping[str, Any]) -> Matrix:
    callers = data.get("callers", {})
    kinds = tuple(_names(callers.get("kinds"), "callers.kinds"))
    if len(set(kinds)) != len(kinds):
        raise MatrixError("callers.kinds: each kind once")
    groups: dict[str, frozenset[str]] = {}
    for group, members in callers.get("groups", {}).items():
        if group in kinds or group == REST:
            raise MatrixError(f"callers.groups.{group}: a group's name is not a kind's")
        named = _names(members, f"callers.groups.{group}")
        unknown = set(named) - set(kinds)
        if unknown:
            raise MatrixError(f"callers.groups.{group}: unknown kinds {sorted(unknown)}")
        groups[group] = frozenset(named)
    defaults = dict(data.get("defaults", {}))
    for kind, answer_class in defaults.items():
        if kind not in kinds or answer_class not in ANSWER_CLASSES:
            raise MatrixError(f"defaults.{kind} = {answer_class!r}: a kind and a class")

    expected: dict[str, dict[str, str]] = {}
    findings: dict[str, Finding] = {}
    for operation, table in data.items():
        if operation in _SECTIONS:
            continue
        if not _OPERATION.match(operation) or not isinstance(table, dict):
            raise MatrixError(f"[{operation!r}]: an operation is a table 'METHOD /path'")
        placed, finding = _operation(operation, table, kinds, groups, defaults)
        expected[operation] = placed
        if finding is not None:
            findings[operation] = finding
    return Matrix(kinds=kinds, expected=expected, findings=findings)


def _operation(
    operation: str,
    table: Mapping[str, Any],
    kinds: tuple[str, ...],
    groups: Mapping[str, frozenset[str]],
    defaults: Mapping[str, str],
) -> tuple[dict[str, str], Finding | None]:
    placed: dict[str, str] = {}
    rest: str | None = None
    finding: Finding | None = None
    for key, value in table.items():
        if key == "finding":
            if not isinstance(value, dict) or not isinstance(value.get("reason"), str):
                raise MatrixError(f"[{operation!r}].finding: {{ reason, callers }}")
            named = _kinds_of(_names(value.get("callers"), f"{operation}.finding"), kinds, groups)
            finding = Finding(value["reason"], frozenset(named))
            continue
        if key not in ANSWER_CLASSES:
            raise MatrixError(f"[{operation!r}].{key}: not a class ({', '.join(ANSWER_CLASSES)})")
        names = _names(value, f"[{operation!r}].{key}")
        if REST in names:
            if rest is not None:
                raise MatrixError(f"[{operation!r}]: '*' in one class only")
            rest = key
        for kind in _kinds_of([name for name in names if name != REST], kinds, groups):
            if kind in placed:
                raise MatrixError(f"[{operation!r}]: {kind} placed twice")
            placed[kind] = key
    for kind in kinds:
        if kind in placed:
            continue
        if kind in defaults:
            placed[kind] = defaults[kind]
        elif rest is not None:
            placed[kind] = rest
        else:
            raise MatrixError(f"[{operation!r}]: {kind} placed nowhere (and no '*')")
    return placed, finding


def _kinds_of(
    names: Iterable[str], kinds: tuple[str, ...], groups: Mapping[str, frozenset[str]]
) -> list[str]:
    found: list[str] = []
    for name in names:
        if name in groups:
            found.extend(kind for kind in kinds if kind in groups[name])
        elif name in kinds:
            found.append(name)
        else:
            raise MatrixError(f"{name!r} is neither a kind of caller nor a group")
    return found


def operations_of(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every operation of an OpenAPI document, "METHOD /path" → the operation object."""
    return {
        f"{method.upper()} {path}": operation
        for path, item in document.get("paths", {}).items()
        for method, operation in item.items()
        if method in METHODS
    }


def request_example(
    operation: Mapping[str, Any], document: Mapping[str, Any]
) -> tuple[str, Any] | None:
    """The media type of an operation's request body and the example it documents (the
    content's own, else its schema's), or None for an operation that takes no body."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        return None
    media_type, described = next(iter(content.items()))
    if described.get("examples"):
        return media_type, next(iter(described["examples"].values()))["value"]
    if "example" in described:
        return media_type, described["example"]
    schemas = document.get("components", {}).get("schemas", {})
    schema = described.get("schema", {})
    while "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    examples = schema.get("examples") or [None]
    return media_type, examples[0]
