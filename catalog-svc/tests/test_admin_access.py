"""Who may administer which items: a catalog administrator the items of their department's type
handled at its tier, a platform administrator every item, nobody else any."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import TokenMinter

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

ADMIN = "/catalog/v1/admin/items"
ID_CARD_LOSS = "public_security.id_card_loss_report"  # public security, county
PROVIDENT_FUND = "housing_provident_fund.withdrawal"  # housing provident fund, city
LUCHENG_POLICE = "330302-public_security"  # county
WENZHOU_POLICE = "330300-public_security"  # city
LUCHENG_TAX = "330302-tax"  # county


def _token(minter: TokenMinter, who: str) -> Headers:
    """Authorization headers for a kind of caller ("" for none)."""
    kinds: dict[str, dict[str, Any]] = {
        "citizen": {"typ": "citizen", "loa": 3},
        "handler": {"typ": "staff", "roles": ("handler",), "dept": LUCHENG_POLICE},
        "admin_without_dept": {"typ": "staff", "roles": ("catalog_admin",)},
        "admin_of_unknown_dept": {
            "typ": "staff",
            "roles": ("catalog_admin",),
            "dept": "339999-public_security",
        },
        "county_police_admin": {
            "typ": "staff",
            "roles": ("catalog_admin",),
            "dept": LUCHENG_POLICE,
        },
        "city_police_admin": {
            "typ": "staff",
            "roles": ("catalog_admin",),
            "dept": WENZHOU_POLICE,
        },
        "county_tax_admin": {"typ": "staff", "roles": ("catalog_admin",), "dept": LUCHENG_TAX},
        "platform_admin": {"typ": "staff", "roles": ("platform_admin",)},
    }
    if not who:
        return {}
    return {"Authorization": f"Bearer {minter.mint(f'{who}-01', **kinds[who])}"}


@pytest.mark.parametrize(
    ("who", "item", "status", "code"),
    [
        ("", ID_CARD_LOSS, 401, "unauthenticated"),
        ("citizen", ID_CARD_LOSS, 403, "wrong_principal_type"),
        ("handler", ID_CARD_LOSS, 403, "not_catalog_administrator"),
        ("admin_without_dept", ID_CARD_LOSS, 403, "no_catalog_scope"),
        ("admin_of_unknown_dept", ID_CARD_LOSS, 403, "no_catalog_scope"),
        ("county_police_admin", ID_CARD_LOSS, 201, None),
        ("city_police_admin", ID_CARD_LOSS, 403, "outside_catalog_scope"),  # other tier
        ("county_tax_admin", ID_CARD_LOSS, 403, "outside_catalog_scope"),  # other type
        ("county_police_admin", PROVIDENT_FUND, 403, "outside_catalog_scope"),
        ("platform_admin", ID_CARD_LOSS, 201, None),
        ("platform_admin", PROVIDENT_FUND, 201, None),
    ],
)
async def test_opening_a_draft_is_for_the_administrators_of_the_items_type_and_tier(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    who: str,
    item: str,
    status: int,
    code: str | None,
) -> None:
    response = await client.post(f"{ADMIN}/{item}/draft", headers=_token(token_minter, who))
    if code is None:
        assert response.status_code == status, response.text
        assert response.json()["code"] == item
    else:
        problem(response, status, code)


async def test_the_refusal_says_what_the_administrator_keeps_and_what_the_item_is(
    client: httpx.AsyncClient, token_minter: TokenMinter, problem: Problem
) -> None:
    response = await client.post(
        f"{ADMIN}/{PROVIDENT_FUND}/draft", headers=_token(token_minter, "county_police_admin")
    )
    body = problem(response, 403, "outside_catalog_scope")
    assert body["scope"] == {"department_type": "public_security", "tier": "county"}
    assert (body["item_department_type"], body["item_handling_tier"]) == (
        "housing_provident_fund",
        "city",
    )


@pytest.mark.parametrize(
    ("who", "changes", "status", "code"),
    [
        ("county_police_admin", {}, 201, None),
        ("county_police_admin", {"handling_tier": "city"}, 403, "outside_catalog_scope"),
        ("county_police_admin", {"department_type": "tax"}, 403, "outside_catalog_scope"),
        ("county_tax_admin", {}, 403, "outside_catalog_scope"),
        ("citizen", {}, 403, "wrong_principal_type"),
        ("", {}, 401, "unauthenticated"),
        ("platform_admin", {"handling_tier": "city"}, 201, None),
    ],
)
async def test_an_item_is_created_within_the_creators_type_and_tier(
    client: httpx.AsyncClient,
    token_minter: TokenMinter,
    problem: Problem,
    new_item: dict[str, Any],
    who: str,
    changes: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    body = {**new_item, **changes}
    if changes.get("department_type") == "tax":
        body["code"] = "tax.dog_licence_synthetic"
    headers = {**_token(token_minter, who), "Idempotency-Key": "create-dog-licence-0001"}
    response = await client.post(ADMIN, json=body, headers=headers)
    if code is None:
        assert response.status_code == status, response.text
    else:
        problem(response, status, code)


async def test_an_administrator_cannot_move_a_draft_out_of_their_scope(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    response = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"handling_tier": "city"},
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    problem(response, 403, "outside_catalog_scope")


@pytest.mark.parametrize("path", ["draft", "versions", "audit"])
async def test_reading_an_items_administration_is_for_its_administrators_too(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    path: str,
) -> None:
    assert (await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())).status_code == 201
    mine = await client.get(f"{ADMIN}/{ID_CARD_LOSS}/{path}", headers=staff())
    assert mine.status_code == 200, mine.text
    assert mine.headers["Cache-Control"] == "no-store"
    others = await client.get(
        f"{ADMIN}/{ID_CARD_LOSS}/{path}", headers=staff(dept=LUCHENG_TAX, sub="staff-tax-01")
    )
    problem(others, 403, "outside_catalog_scope")
