"""The audit trail: every creation, draft opened, edit, approval, publication and withdrawal of an
item, with who did it (subject and department), when, on which version and what it changed; read
by the item's administrators a page at a time, newest first."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from catalog_svc.settings import CatalogSettings
from servicekit.pagination import Cursors

pytestmark = pytest.mark.usefixtures("restore_items")

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

ADMIN = "/catalog/v1/admin/items"
CURSORS = Cursors(CatalogSettings().cursor_key_bytes)
ID_CARD_LOSS = "public_security.id_card_loss_report"


async def _trail(client: httpx.AsyncClient, headers: Headers, code: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        response = await client.get(f"{ADMIN}/{code}/audit", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 2
        entries += body["items"]
        if body["next_cursor"] is None:
            return entries
        params["cursor"] = body["next_cursor"]


async def test_a_new_items_life_is_recorded_act_by_act(
    client: httpx.AsyncClient, staff: Callable[..., Headers], new_item: dict[str, Any]
) -> None:
    alice = staff(sub="staff-province-01")
    bob = staff(sub="staff-province-02")
    code = new_item["code"]
    created = await client.post(
        ADMIN, json=new_item, headers={**alice, "Idempotency-Key": "audit-00001"}
    )
    edited = await client.patch(
        f"{ADMIN}/{code}/draft",
        json={"promised_working_days": 3, "keywords": ["犬只", "狗证", "养犬"]},
        headers={**bob, "If-Match": created.headers["ETag"]},
    )
    # Bob changed no field that needs a second person: he may approve Alice's new item.
    read = {"If-Match": edited.headers["ETag"]}
    await client.post(f"{ADMIN}/{code}/draft/approval", headers={**bob, **read})
    await client.post(f"{ADMIN}/{code}/publish", headers={**alice, **read})
    await client.post(f"{ADMIN}/{code}/withdraw", headers=bob)

    trail = await _trail(client, alice, code)
    assert [(e["action"], e["version"], e["actor"]["sub"]) for e in trail] == [
        ("withdrawn", 1, "staff-province-02"),
        ("published", 1, "staff-province-01"),
        ("approved", 1, "staff-province-02"),
        ("edited", 1, "staff-province-02"),
        ("created", 1, "staff-province-01"),
    ]
    assert {e["actor"]["dept"] for e in trail} == {"330000-public_security"}
    assert [e["at"] for e in trail] == sorted((e["at"] for e in trail), reverse=True)
    withdrawn, published, approval, edit, creation = trail
    assert approval["changed_fields"] == ["decision_approval", "fee", "handling_tier", "min_loa"]
    assert approval["changes"]["min_loa"] == {"from": None, "to": 2}
    assert edit["changed_fields"] == ["keywords", "promised_working_days"]
    assert edit["changes"]["promised_working_days"] == {"from": 5, "to": 3}
    assert withdrawn["changes"] == {"status": {"from": "published", "to": "withdrawn"}}
    assert creation["changes"]["name"] == {"from": None, "to": new_item["name"]}
    # A first publication changes everything the public sees, from nothing.
    assert {"name", "form_schema", "promised_working_days", "status"} <= set(
        published["changed_fields"]
    )


async def test_a_publication_records_what_it_changed_for_the_public(
    client: httpx.AsyncClient, staff: Callable[..., Headers]
) -> None:
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    first = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"min_loa": 2},
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    second = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"min_loa": 3, "notes": "合成数据：说明已更新"},
        headers={**staff(), "If-Match": first.headers["ETag"]},
    )
    await client.post(
        f"{ADMIN}/{ID_CARD_LOSS}/publish", headers={**staff(), "If-Match": second.headers["ETag"]}
    )
    trail = await _trail(client, staff(), ID_CARD_LOSS)
    assert [(e["action"], e["version"], e["changed_fields"]) for e in trail] == [
        ("published", 3, ["notes"]),  # min_loa went back to what version 2 has
        ("edited", 3, ["min_loa", "notes"]),
        ("edited", 3, ["min_loa"]),
        ("draft_opened", 3, []),
    ]


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        "eyJiZWZvcmUiOjF9",  # {"before":1}, unsigned
        # Signed with the service's key, for another item's lists.
        CURSORS.encode("admin:tax.individual_income_tax_annual_settlement:versions", {"before": 1}),
        CURSORS.encode("admin:tax.individual_income_tax_annual_settlement:audit", {"before": 1}),
    ],
)
@pytest.mark.parametrize("listing", ["audit", "versions"])
async def test_a_cursor_this_list_did_not_give_is_refused(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    listing: str,
    cursor: str,
) -> None:
    response = await client.get(
        f"{ADMIN}/{ID_CARD_LOSS}/{listing}", params={"cursor": cursor}, headers=staff()
    )
    problem(response, 400, "invalid_cursor")
