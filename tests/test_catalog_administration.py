"""The catalogue's administration between real processes, through the gateway: the platform
administrator makes catalog administrators at identity-svc, they sign in there, and catalog-svc
holds each of their signed tokens to their department's jurisdiction and every change of who may
apply, who handles an item or what it costs to a second person's approval."""

import httpx
import pytest

from onevisit_dev.answers import bearer, problem
from onevisit_dev.callers import create_staff
from onevisit_dev.platform import Platform

pytestmark = pytest.mark.e2e

ADMIN = "/catalog/v1/admin/items"
ITEMS = "/catalog/v1/items"
LOSS_REPORT = "public_security.id_card_loss_report"  # province-wide, handled by the counties
HOUSEHOLD_MOVE = "public_security.household_move"  # province-wide, handled by the counties
CAR_QUOTA = "transport.passenger_car_quota_application"  # Hangzhou's, handled by the city
#: Catalog administrators, by the department they administer for.
DEPARTMENTS = {
    "lucheng_police": "330302-public_security",
    "province_police": "330000-public_security",
    "province_police_second": "330000-public_security",
    "wenzhou_transport": "330300-transport",
}


@pytest.fixture(scope="module")
def administrators(platform: Platform, platform_admin: str) -> dict[str, dict[str, str]]:
    """Each catalog administrator's authorization headers: an account the platform
    administrator created, signed in with the password grant."""
    headers = {}
    with platform.client() as gateway:
        for name, dept in DEPARTMENTS.items():
            # Through the callers kit, which waits out the administrators' pace limit.
            administrator = create_staff(gateway, platform_admin, dept, ["catalog_admin"])
            headers[name] = bearer(administrator.sign_in(gateway))
    return headers


def test_luchengs_catalog_admin_cannot_lower_the_provincial_loss_reports_min_loa(
    gateway: httpx.Client, administrators: dict[str, dict[str, str]]
) -> None:
    lucheng = administrators["lucheng_police"]
    refused = gateway.post(f"{ADMIN}/{LOSS_REPORT}/draft", headers=lucheng)
    body = problem(refused, 403, "outside_jurisdiction")
    assert body["scope"] == {"department_type": "public_security", "region_code": "330302"}
    assert body["item_region_code"] == "330000"

    # Not through the province's own draft either.
    opened = gateway.post(f"{ADMIN}/{LOSS_REPORT}/draft", headers=administrators["province_police"])
    assert opened.status_code in (200, 201), opened.text
    lowered = gateway.patch(
        f"{ADMIN}/{LOSS_REPORT}/draft",
        json={"min_loa": 1},
        headers={**lucheng, "If-Match": opened.headers["ETag"]},
    )
    problem(lowered, 403, "outside_jurisdiction")
    assert gateway.get(f"{ITEMS}/{LOSS_REPORT}").json()["min_loa"] == 3


def test_luchengs_catalog_admin_cannot_withdraw_a_province_wide_item(
    gateway: httpx.Client, administrators: dict[str, dict[str, str]]
) -> None:
    refused = gateway.post(
        f"{ADMIN}/{HOUSEHOLD_MOVE}/withdraw", headers=administrators["lucheng_police"]
    )
    problem(refused, 403, "outside_jurisdiction")
    assert gateway.get(f"{ITEMS}/{HOUSEHOLD_MOVE}").json()["status"] == "published"


def test_wenzhou_citys_catalog_admin_cannot_edit_hangzhous_item(
    gateway: httpx.Client, administrators: dict[str, dict[str, str]]
) -> None:
    refused = gateway.post(
        f"{ADMIN}/{CAR_QUOTA}/draft", headers=administrators["wenzhou_transport"]
    )
    assert problem(refused, 403, "outside_jurisdiction")["item_region_code"] == "330100"


def test_a_changed_min_loa_is_published_only_once_a_second_administrator_approves_it(
    gateway: httpx.Client, administrators: dict[str, dict[str, str]]
) -> None:
    author = administrators["province_police"]
    second = administrators["province_police_second"]
    before = gateway.get(f"{ITEMS}/{HOUSEHOLD_MOVE}").json()
    raised = before["min_loa"] % 3 + 1  # another level, whichever it is
    opened = gateway.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/draft", headers=author)
    assert opened.status_code == 201, opened.text
    edited = gateway.patch(
        f"{ADMIN}/{HOUSEHOLD_MOVE}/draft",
        json={"min_loa": raised},
        headers={**author, "If-Match": opened.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.text
    read = {"If-Match": edited.headers["ETag"]}

    refused = gateway.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/publish", headers={**author, **read})
    assert problem(refused, 409, "approval_required")["fields"] == ["min_loa"]
    own = gateway.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/draft/approval", headers={**author, **read})
    problem(own, 403, "second_person_required")
    assert gateway.get(f"{ITEMS}/{HOUSEHOLD_MOVE}").json()["min_loa"] == before["min_loa"]

    approved = gateway.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/draft/approval", headers={**second, **read})
    assert approved.status_code == 200, approved.text
    published = gateway.post(f"{ADMIN}/{HOUSEHOLD_MOVE}/publish", headers={**author, **read})
    assert published.status_code == 200, published.text
    after = gateway.get(f"{ITEMS}/{HOUSEHOLD_MOVE}").json()
    assert (after["min_loa"], after["version"]) == (raised, before["version"] + 1)

    trail = gateway.get(f"{ADMIN}/{HOUSEHOLD_MOVE}/audit", headers=second).json()["items"]
    assert [entry["action"] for entry in trail[:3]] == ["published", "approved", "edited"]
    assert trail[1]["changes"] == {"min_loa": {"from": before["min_loa"], "to": raised}}
