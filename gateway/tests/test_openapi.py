"""The merged document says what the gateway itself answers, beside what each service does: its
edge's refusals, rate limits, upstream faults and token checks, on every operation it proxies,
as problems of the one ``Problem`` schema."""

from typing import Any

import pytest

from gateway.openapi import merge_documents
from gateway.routing import RoutingTable, load_routing_table
from gateway.settings import ROUTES_SHIPPED
from servicekit.openapi import (
    PROBLEM_REF,
    ProblemType,
    problems_of,
    render_problem_response,
)

ITEMS = "/catalog/v1/admin/items/{code}/draft"
SERVICE_401 = render_problem_response(
    [
        ProblemType(401, "unauthenticated", "Authentication required", {}),
        ProblemType(401, "invalid_token", "The access token is not valid", {}),
        ProblemType(401, "token_expired", "The access token has expired", {}),
    ]
)


def _operation(**responses: Any) -> dict[str, Any]:
    return {"responses": {"200": {"description": "OK"}, **responses}}


@pytest.fixture(scope="module")
def table() -> RoutingTable:
    return load_routing_table(ROUTES_SHIPPED)


@pytest.fixture(scope="module")
def merged(table: RoutingTable) -> dict[str, Any]:
    documents = {
        "catalog": {
            "paths": {
                # Public at the gateway (GET /catalog/v1/**), checked by catalog-svc itself.
                ITEMS: {"get": {**_operation(**{"401": SERVICE_401}), "security": [{"x": []}]}},
                "/catalog/v1/regions/{code}": {"get": _operation()},
            }
        },
        "case": {
            "paths": {
                "/cases/v1/cases": {"get": _operation(), "post": _operation()},
            }
        },
        "exchange": {"paths": {"/exchange/v1/calls": {"post": _operation()}}},
    }
    return merge_documents(table.services, documents, [])


def _codes(operation: dict[str, Any], status: int) -> list[str]:
    return [p.code for p in problems_of(status, operation["responses"].get(str(status), {}))]


def test_every_proxied_operation_documents_the_gateways_own_problems(
    merged: dict[str, Any],
) -> None:
    for item in merged["paths"].values():
        for operation in item.values():
            assert {
                "ambiguous_query",
                "invalid_http",
                "invalid_path",
                "invalid_region_header",
                "invalid_target",
            } <= set(_codes(operation, 400))
            assert _codes(operation, 408) == ["request_timeout"]
            assert _codes(operation, 413) == ["payload_too_large"]
            assert _codes(operation, 414) == ["uri_too_long"]
            assert _codes(operation, 429) == ["rate_limited"]
            assert _codes(operation, 431) == ["request_header_fields_too_large"]
            assert _codes(operation, 502) == ["bad_gateway"]
            assert _codes(operation, 503) == ["upstream_overloaded", "upstream_unavailable"]
            assert _codes(operation, 504) == ["upstream_timeout"]
            schema = operation["responses"]["504"]["content"]["application/problem+json"]
            assert schema["schema"]["allOf"] == [{"$ref": PROBLEM_REF}]
    assert merged["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "code",
    ]


def test_the_token_check_is_documented_where_the_gateway_makes_it(
    merged: dict[str, Any],
) -> None:
    paths = merged["paths"]
    region = paths["/catalog/v1/regions/{code}"]["get"]
    assert "security" not in region
    assert _codes(region, 401) == []
    cases = paths["/cases/v1/cases"]["post"]
    assert cases["security"] == [{"accessToken": []}]
    assert _codes(cases, 401) == [
        "invalid_token",
        "token_expired",
        "token_revoked",
        "unauthenticated",
    ]
    # The routing table lets only some token types call the exchange's calls; a third-party
    # client's token is refused wherever a token is needed, unless the operation declares
    # scopes it holds.
    assert _codes(paths["/exchange/v1/calls"]["post"], 403) == [
        "insufficient_scope",
        "token_type_not_allowed",
    ]
    assert _codes(cases, 403) == ["insufficient_scope"]


def test_a_service_that_checks_the_token_itself_keeps_its_security_and_401(
    merged: dict[str, Any],
) -> None:
    draft = merged["paths"][ITEMS]["get"]
    assert draft["security"] == [{"x": []}]
    assert _codes(draft, 401) == ["invalid_token", "token_expired", "unauthenticated"]


def test_a_fan_out_list_documents_the_gateways_cursor(merged: dict[str, Any]) -> None:
    assert "invalid_cursor" in _codes(merged["paths"]["/cases/v1/cases"]["get"], 400)
    assert "invalid_cursor" not in _codes(merged["paths"]["/cases/v1/cases"]["post"], 400)
