"""A system's token holds what its client was granted: each plane of the exchange requires its
scope, refused (403 insufficient_scope) before any grant, body or record is looked at."""

import httpx
import pytest

from servicekit.testing import TokenMinter, bearer

PLANES = [
    ("POST", "/exchange/v1/calls", "exchange:calls"),
    ("POST", "/exchange/v1/matches", "exchange:matches"),
    ("POST", "/exchange/v1/resources/population/records", "exchange:loads"),
    ("GET", "/exchange/v1/record-changes", "exchange:loads"),
    ("POST", "/exchange/v1/grants", "exchange:grants"),
    ("POST", "/exchange/v1/grants/0193a0a0-0000-7000-8000-000000000000/revoke", "exchange:grants"),
]


@pytest.mark.parametrize(("method", "path", "scope"), PLANES)
@pytest.mark.parametrize("typ", ["department_system", "service"])
async def test_a_client_without_the_planes_scope_is_refused_naming_it(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: object,
    typ: str,
    method: str,
    path: str,
    scope: str,
) -> None:
    token = token_minter.mint(
        "ds-1", typ=typ, loa=0, dept="330302-public_security", scope=("catalog:read",)
    )

    response = await client.request(method, path, json={}, headers=bearer(token))

    assert response.status_code == 403, response.text
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["required_scopes"] == [scope]
    assert response.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="{scope}"'
    )
