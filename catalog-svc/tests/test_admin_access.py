"""Who may administer which items: a catalog administrator the items of their department's type
whose owning region is their department's region or lies within it, a platform administrator
every item, nobody else any.

An item's owning region is the smallest region containing every region it is listed in (none
listed: the province), raised to its handling tier when it lies below: the provincial ID-card
loss report, handled by the county bureaus but listed everywhere, is the provincial
department's; an item handled at city level and listed in Lucheng alone is Wenzhou's."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import TokenMinter

pytestmark = pytest.mark.usefixtures("restore_items")

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

ADMIN = "/catalog/v1/admin/items"
ITEMS = "/catalog/v1/items"
ID_CARD_LOSS = "public_security.id_card_loss_report"  # public security, county, province-wide
HOUSEHOLD_MOVE = "public_security.household_move"  # public security, county, province-wide
PROVIDENT_FUND = "housing_provident_fund.withdrawal"  # housing provident fund, city
CAR_QUOTA = "transport.passenger_car_quota_application"  # transport, city, Hangzhou only
PROVINCE_POLICE = "330000-public_security"
WENZHOU_POLICE = "330300-public_security"  # city
LUCHENG_POLICE = "330302-public_security"  # county, in Wenzhou
LUCHENG_TAX = "330302-tax"  # county
HANGZHOU_TRANSPORT = "330100-transport"  # city
WENZHOU_TRANSPORT = "330300-transport"  # city
XIHU_TRANSPORT = "330106-transport"  # county, in Hangzhou
LUCHENG = "330302"
SONGTAI = "330302026"  # a sub-district of Lucheng
OUHAI = "330304"  # another county of Wenzhou
WENZHOU = "330300"
HANGZHOU = "330100"


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
        "province_police_admin": {
            "typ": "staff",
            "roles": ("catalog_admin",),
            "dept": PROVINCE_POLICE,
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
        # Handled by the county bureaus, but listed in every county: the province's.
        ("county_police_admin", ID_CARD_LOSS, 403, "outside_jurisdiction"),
        ("city_police_admin", ID_CARD_LOSS, 403, "outside_jurisdiction"),
        ("province_police_admin", ID_CARD_LOSS, 201, None),
        ("county_tax_admin", ID_CARD_LOSS, 403, "outside_jurisdiction"),  # other type
        ("province_police_admin", PROVIDENT_FUND, 403, "outside_jurisdiction"),  # other type
        ("platform_admin", ID_CARD_LOSS, 201, None),
        ("platform_admin", PROVIDENT_FUND, 201, None),
    ],
)
async def test_opening_a_draft_is_for_the_administrators_of_the_items_type_and_region(
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


async def test_luchengs_admin_cannot_lower_the_provincial_loss_reports_min_loa(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    lucheng = staff(dept=LUCHENG_POLICE, sub="staff-lucheng-01")
    problem(
        await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=lucheng),
        403,
        "outside_jurisdiction",
    )
    # Nor through a draft the province opened: editing and publishing it are the province's.
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    read = {"If-Match": opened.headers["ETag"]}
    edit = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft", json={"min_loa": 1}, headers={**lucheng, **read}
    )
    problem(edit, 403, "outside_jurisdiction")
    publication = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/publish", headers={**lucheng, **read})
    problem(publication, 403, "outside_jurisdiction")
    assert (await client.get(f"{ITEMS}/{ID_CARD_LOSS}")).json()["min_loa"] == 3


async def test_luchengs_admin_cannot_withdraw_a_province_wide_item(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    response = await client.post(
        f"{ADMIN}/{HOUSEHOLD_MOVE}/withdraw",
        headers=staff(dept=LUCHENG_POLICE, sub="staff-lucheng-01"),
    )
    problem(response, 403, "outside_jurisdiction")
    assert (await client.get(f"{ITEMS}/{HOUSEHOLD_MOVE}")).json()["status"] == "published"


async def test_the_refusal_says_what_the_administrator_keeps_and_whose_the_item_is(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    response = await client.post(
        f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff(dept=LUCHENG_POLICE)
    )
    body = problem(response, 403, "outside_jurisdiction")
    assert body["scope"] == {"department_type": "public_security", "region_code": LUCHENG}
    assert (body["item_code"], body["item_department_type"], body["item_region_code"]) == (
        ID_CARD_LOSS,
        "public_security",
        "330000",
    )


@pytest.mark.parametrize(
    ("dept", "status"),
    [
        (WENZHOU_TRANSPORT, 403),  # same type and tier, another city
        (XIHU_TRANSPORT, 403),  # within Hangzhou, but a county: the item is the city's
        (HANGZHOU_TRANSPORT, 201),
        ("330000-transport", 201),
    ],
)
async def test_wenzhou_citys_admin_cannot_edit_hangzhous_item(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    dept: str,
    status: int,
) -> None:
    response = await client.post(f"{ADMIN}/{CAR_QUOTA}/draft", headers=staff(dept=dept))
    if status == 201:
        assert response.status_code == status, response.text
    else:
        body = problem(response, status, "outside_jurisdiction")
        assert body["item_region_code"] == HANGZHOU


@pytest.mark.parametrize(
    ("dept", "handling_tier", "offered_in", "status"),
    [
        (LUCHENG_POLICE, "county", [LUCHENG], 201),
        (LUCHENG_POLICE, "county", [SONGTAI], 201),  # within Lucheng: still Lucheng's
        (LUCHENG_POLICE, "county", [], 403),  # the whole province
        (LUCHENG_POLICE, "county", [WENZHOU], 403),
        (LUCHENG_POLICE, "county", [LUCHENG, OUHAI], 403),  # Ouhai is not Lucheng's
        (LUCHENG_POLICE, "city", [LUCHENG], 403),  # same region, handled a tier higher
        (WENZHOU_POLICE, "city", [LUCHENG], 201),
        (WENZHOU_POLICE, "county", [LUCHENG, OUHAI], 201),
        (WENZHOU_POLICE, "county", [HANGZHOU], 403),
        (WENZHOU_POLICE, "county", [], 403),
        (PROVINCE_POLICE, "county", [], 201),
        (PROVINCE_POLICE, "city", [LUCHENG], 201),
        (LUCHENG_TAX, "county", [LUCHENG], 403),  # another department type
    ],
)
async def test_an_item_is_created_within_the_creators_type_and_region(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
    dept: str,
    handling_tier: str,
    offered_in: list[str],
    status: int,
) -> None:
    body = {**new_item, "handling_tier": handling_tier, "offered_in": offered_in}
    headers = {**staff(dept=dept), "Idempotency-Key": "create-dog-licence-0001"}
    response = await client.post(ADMIN, json=body, headers=headers)
    if status == 201:
        assert response.status_code == status, response.text
    else:
        problem(response, status, "outside_jurisdiction")


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"promised_working_days": 3}, 200),
        ({"offered_in": [SONGTAI]}, 200),  # narrower: still Lucheng's
        ({"offered_in": [LUCHENG, OUHAI]}, 403),
        ({"offered_in": []}, 403),
        ({"handling_tier": "city"}, 403),
        ({"department_type": "tax"}, 403),
    ],
)
async def test_an_administrator_cannot_move_a_draft_out_of_their_jurisdiction(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
    changes: dict[str, Any],
    status: int,
) -> None:
    lucheng = staff(dept=LUCHENG_POLICE, sub="staff-lucheng-01")
    created = await client.post(
        ADMIN,
        json={**new_item, "offered_in": [LUCHENG]},
        headers={**lucheng, "Idempotency-Key": "create-dog-licence-0002"},
    )
    assert created.status_code == 201, created.text
    response = await client.patch(
        f"{ADMIN}/{new_item['code']}/draft",
        json=changes,
        headers={**lucheng, "If-Match": created.headers["ETag"]},
    )
    if status == 200:
        assert response.status_code == status, response.text
    else:
        problem(response, status, "outside_jurisdiction")


async def test_a_draft_narrowed_to_one_county_stays_the_provinces_until_published(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    """What publishing replaces is the published version: as long as it is province-wide, so is
    the draft that will replace it, whatever the draft lists."""
    opened = await client.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/draft", headers=staff())
    narrowed = await client.patch(
        f"{ADMIN}/{HOUSEHOLD_MOVE}/draft",
        json={"offered_in": [LUCHENG]},
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    assert narrowed.status_code == 200, narrowed.text
    lucheng = {
        **staff(dept=LUCHENG_POLICE, sub="staff-lucheng-01"),
        "If-Match": narrowed.headers["ETag"],
    }
    problem(
        await client.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/publish", headers=lucheng),
        403,
        "outside_jurisdiction",
    )
    problem(
        await client.patch(f"{ADMIN}/{HOUSEHOLD_MOVE}/draft", json={"visits": 0}, headers=lucheng),
        403,
        "outside_jurisdiction",
    )


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
    for dept in (LUCHENG_TAX, LUCHENG_POLICE):
        others = await client.get(
            f"{ADMIN}/{ID_CARD_LOSS}/{path}", headers=staff(dept=dept, sub="staff-lucheng-09")
        )
        problem(others, 403, "outside_jurisdiction")
