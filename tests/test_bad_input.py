"""What may be sent, end to end: a corpus of bad input (oversized and deeply nested bodies,
invalid UTF-8, huge numbers, traversal and injection strings, NUL bytes, forged cursors, bad
limits, wrong content types, empty bodies) sent to every operation of the gateway's merged
OpenAPI document, through the gateway to the real processes. Whatever arrives, the answer is
never a server error, and every refusal is a problem (``application/problem+json``).

Each operation is called as a caller it lets through (the authorisation matrix says which), so
that the bad input reaches the service's own parsing and rules, not only the gateway's door.
The payloads are chosen per part of the request the operation has (its body, each path and
query parameter, its precondition and idempotency headers), so that the count stays bounded.
"""

import csv
import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from data_exchange_svc.registry.faces import template_from_seed
from onevisit_dev.answers import send
from onevisit_dev.authorization import load_matrix, operations_of, request_example
from onevisit_dev.callers import Caller, Cast, Person, make_cast, register_citizen
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[1]
MATRIX = load_matrix()
DEPARTMENT = "330302-public_security"
OTHER_DEPARTMENTS = {
    "other_type": "330302-civil_affairs",
    "other_region": "330303-public_security",
    "other_tier": "330300-public_security",
}
#: Of the synthetic population, people no other story uses: a Lucheng resident, and the legal
#: representative of a Jinhua company.
LOA3_ID_NUMBER = "330302196804275652"
LOA2_ID_NUMBER = "330783198903105666"
ENTERPRISE = "91330783MAQFY32E9H"
#: Operations whose refusals count against the caller's account (a wrong current password locks
#: it): sent as a citizen registered for the purpose.
COUNTED_AGAINST_THE_ACCOUNT = frozenset({"PUT /identity/v1/me/password"})

#: Strings that have broken servers: a path out of the tree, SQL, markup, a NUL byte, and more
#: characters than any field takes.
HOSTILE_STRINGS = {
    "traversal": "../../etc/passwd",
    "sql_injection": "' OR 1=1 --",
    "markup": "<script>alert(1)</script>",
    "nul_byte": "a\x00b",
    "overlong": "x" * 10_000,
}
#: In a JSON body only (an escape no UTF-8 text can carry): half of a surrogate pair, which no
#: database stores.
LONE_SURROGATE = "\ud800"
HUGE_INTEGER = 10**400
#: Cursors a client may forge: not base64, base64 of a made-up position, and a signed shape with
#: a made-up signature.
FORGED_CURSORS = ("not a cursor!", "eyJhZnRlciI6ICIxIn0", "eyJhZnRlciI6ICIxIn0.c2lnbmF0dXJl")
BAD_LIMITS = ("-1", str(10**20), "abc")
#: Past the gateway's and the services' limit of 1 MiB.
OVERSIZED = 2 * 1024 * 1024


def person(id_number: str) -> Person:
    path = REPO_ROOT / "data-exchange-svc/data/population.csv"
    with path.open(encoding="utf-8", newline="") as source:
        row = next(row for row in csv.DictReader(source) if row["id_number"] == id_number)
    return Person(row["name"], id_number, template_from_seed(int(row["face_seed"])))


@dataclass
class Bad:
    """One bad request: what is bad about it, and how it is sent."""

    label: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


def _replace_strings(value: Any, replacement: str) -> Any:
    if isinstance(value, str):
        return replacement
    if isinstance(value, dict):
        return {key: _replace_strings(member, replacement) for key, member in value.items()}
    if isinstance(value, list):
        return [_replace_strings(member, replacement) for member in value]
    return value


def _with_numbers(value: Any, number: str) -> str:
    """``value`` as JSON text with every number written as ``number`` (or, with no number in
    it, one member added that is)."""
    marker = "__number__"

    def mark(member: Any) -> Any:
        if isinstance(member, bool):
            return member
        if isinstance(member, int | float):
            return marker
        if isinstance(member, dict):
            return {key: mark(item) for key, item in member.items()}
        if isinstance(member, list):
            return [mark(item) for item in member]
        return member

    marked = mark(value)
    if marker not in json.dumps(marked) and isinstance(marked, dict):
        marked = {**marked, "amount": marker}
    return json.dumps(marked).replace(f'"{marker}"', number)


def _plausible(parameter: dict[str, Any]) -> str:
    """A value of the parameter's shape: its example, else one of its format or type, else an
    item code (the codes the paths without examples take)."""
    schema = parameter.get("schema", {})
    examples = schema.get("examples") or ([schema["example"]] if "example" in schema else [])
    if examples:
        return str(examples[0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    return "public_security.id_card_loss_report"


def _body_corpus(media_type: str, example: Any) -> list[tuple[str, bytes, str]]:
    """(label, body, content type) for an operation that takes a body of ``media_type``."""
    form = media_type == "application/x-www-form-urlencoded"

    def encode(value: Any) -> bytes:
        if form and isinstance(value, dict):
            return urlencode({key: str(item) for key, item in value.items()}).encode()
        return json.dumps(value).encode()

    strings = HOSTILE_STRINGS if form else {**HOSTILE_STRINGS, "lone_surrogate": LONE_SURROGATE}
    corpus = [
        (f"{name} in every string", encode(_replace_strings(example, text)), media_type)
        for name, text in strings.items()
    ]
    corpus += [
        ("oversized body", b"x=" + b"x" * OVERSIZED if form else _oversized_json(), media_type),
        ("empty body", b"", media_type),
        (
            "invalid UTF-8",
            b"grant_type=\xff\xfe" if form else b'{"name": "\xff\xfe\xfd"}',
            media_type,
        ),
        ("200-deep JSON", b'{"a":' * 200 + b"1" + b"}" * 200, "application/json"),
        ("50000-deep JSON", b"[" * 50_000 + b"]" * 50_000, "application/json"),
        ("wrong content type", encode(example), "text/plain"),
        ("XML", b"<request><a>1</a></request>", "application/xml"),
    ]
    if not form:
        corpus += [
            ("huge integers", _with_numbers(example, str(HUGE_INTEGER)).encode(), media_type),
            ("infinite numbers", _with_numbers(example, "1e400").encode(), media_type),
            ("NaN for numbers", _with_numbers(example, "NaN").encode(), media_type),
            ("not JSON", b"{", media_type),
            ("an array for an object", b"[]", media_type),
        ]
    return corpus


def _oversized_json() -> bytes:
    return b'{"padding": "' + b"x" * OVERSIZED + b'"}'


def corpus_of(operation: str, spec: dict[str, Any], document: dict[str, Any]) -> Iterator[Bad]:
    """The bad requests of one operation, each bad in one part only."""
    _method, template = operation.split(" ", 1)
    parameters = spec.get("parameters", [])
    path_values = {p["name"]: _plausible(p) for p in parameters if p["in"] == "path"}
    required_query = {
        p["name"]: _plausible(p) for p in parameters if p["in"] == "query" and p.get("required")
    }
    headers = {}
    taken_headers = {p["name"].lower() for p in parameters if p["in"] == "header"}
    if "idempotency-key" in taken_headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    body = request_example(spec, document)
    media_type, example = body if body is not None else ("", None)
    good_body = None if body is None else json.dumps(example).encode()
    good_type = {"Content-Type": media_type} if body is not None else {}
    if media_type == "application/x-www-form-urlencoded":
        good_body = urlencode({k: str(v) for k, v in example.items()}).encode()

    def path(**bad: str) -> str:
        values = {**path_values, **bad}
        # "%" kept: an escape written into the value (an encoded slash) arrives as written.
        return template.format(**{name: quote(value, safe="%") for name, value in values.items()})

    def bad(label: str, **changes: Any) -> Bad:
        request = Bad(
            label,
            changes.pop("path", path()),
            params=dict(required_query),
            headers={**headers, **good_type},
            content=good_body,
        )
        request.params.update(changes.pop("params", {}))
        request.headers.update(changes.pop("headers", {}))
        if "content" in changes:
            request.content = changes.pop("content")
        return request

    if body is not None:
        for label, raw, content_type in _body_corpus(media_type, example):
            yield bad(label, content=raw, headers={"Content-Type": content_type})
    for name in path_values:
        for label, text in {
            **HOSTILE_STRINGS,
            "encoded traversal": "..%2F..%2Fidentity%2Fv1%2Fme",
            "huge number": str(HUGE_INTEGER),
        }.items():
            yield bad(f"{label} as {{{name}}}", path=path(**{name: text[:5000]}))
    for parameter in (p for p in parameters if p["in"] == "query"):
        name = parameter["name"]
        if name == "cursor":
            for cursor in FORGED_CURSORS:
                yield bad(f"forged cursor {cursor!r}", params={name: cursor})
        elif name == "limit":
            for limit in BAD_LIMITS:
                yield bad(f"limit={limit[:12]}", params={name: limit})
        else:
            for label in ("sql_injection", "traversal", "nul_byte"):
                yield bad(f"{label} as ?{name}", params={name: HOSTILE_STRINGS[label]})
            yield bad(f"huge number as ?{name}", params={name: str(HUGE_INTEGER)})
    if "if-match" in taken_headers:
        yield bad("forged If-Match", headers={"If-Match": '"<script>"'})
    if "idempotency-key" in taken_headers:
        yield bad("injection as Idempotency-Key", headers={"Idempotency-Key": "' OR 1=1 --"})


# --- the test ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document(platform: Platform) -> dict[str, Any]:
    if platform.config.database_urls:
        pytest.skip("what may be sent does not depend on the backend: checked on SQLite")
    with platform.client() as client:
        merged: dict[str, Any] = client.get("/openapi.json").json()
    return merged


@pytest.fixture(scope="module")
def gateway_client(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client() as client:
        yield client


@pytest.fixture(scope="module")
def cast(
    platform: Platform,
    document: dict[str, Any],
    gateway_client: httpx.Client,
    platform_admin: str,
    end_face_window: Callable[[str], None],
) -> Cast:
    return make_cast(
        gateway_client,
        var_dir=platform.config.var_dir,
        platform_admin=platform_admin,
        department=DEPARTMENT,
        other_departments=OTHER_DEPARTMENTS,
        loa3=person(LOA3_ID_NUMBER),
        loa2=person(LOA2_ID_NUMBER),
        enterprise=ENTERPRISE,
        end_face_window=end_face_window,
    )


def callers_for(operation: str, cast: Cast, gateway: httpx.Client, var_dir: Path) -> list[Caller]:
    """The callers the operation lets through (the gateway too, not only the matrix's
    promise). The payloads go out by each in turn: rate limits per caller (making secrets,
    administration) then hold a corpus up less."""
    if operation in COUNTED_AGAINST_THE_ACCOUNT:
        citizen = register_citizen(gateway, var_dir)
        return [Caller("citizen_loa1", citizen.sign_in(gateway))]
    finding = MATRIX.findings.get(operation)
    known = finding.callers if finding is not None else frozenset()
    let_through = [kind for kind in MATRIX.let_through(operation) if kind not in known]
    # An operation nobody may call (identity-svc's own) gets a caller its route admits.
    return [cast.callers[kind] for kind in let_through or ["service"]]


@pytest.mark.parametrize("operation", MATRIX.operations)
def test_no_bad_input_gets_a_server_error_and_every_refusal_is_a_problem(
    operation: str,
    platform: Platform,
    document: dict[str, Any],
    cast: Cast,
    gateway_client: httpx.Client,
) -> None:
    spec = operations_of(document).get(operation)
    assert spec is not None, f"{operation} is not in the document"
    method = operation.split(" ", 1)[0]
    var_dir = platform.config.var_dir
    callers = itertools.cycle(callers_for(operation, cast, gateway_client, var_dir))
    broken = []
    for request in corpus_of(operation, spec, document):
        response = send(
            gateway_client,
            method,
            request.path,
            params=request.params,
            headers={**request.headers, **next(callers).headers()},
            content=request.content,
        )
        status = response.status_code
        if status >= 500:
            broken.append(f"{request.label}: {status} {response.text[:200]}")
        elif status >= 400:
            kind = response.headers.get("content-type", "")
            problem = response.json() if kind.startswith("application/problem+json") else {}
            if problem.get("status") != status or not problem.get("code"):
                broken.append(
                    f"{request.label}: {status} is no problem ({kind}) {response.text[:200]}"
                )
    assert not broken, f"{operation}:\n" + "\n".join(broken)
