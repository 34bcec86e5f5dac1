"""Four eyes: a change to who may apply (``min_loa``), who handles an item (``handling_tier``),
what it costs (``fee``) or whether a supervisor approves its decisions (``decision_approval``) is
published only once a second administrator of the item, who made none of those changes, has
approved the draft as they read it. Other changes publish at once."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from catalog_svc.models import ServiceItemDraft

pytestmark = pytest.mark.usefixtures("restore_items")

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]
Staff = Callable[..., Headers]

ADMIN = "/catalog/v1/admin/items"
ITEMS = "/catalog/v1/items"
ID_CARD_LOSS = "public_security.id_card_loss_report"  # min_loa 3, county, free
#: Reviewed by a handler, its decision approved by a supervisor. Province-wide, and the province
#: has no provident fund department: platform administrators keep it.
FUND_WITHDRAWAL = "housing_provident_fund.withdrawal"
ALICE = "staff-province-01"
BOB = "staff-province-02"
CAROL = "staff-province-03"


def _as(staff: Staff, sub: str, **headers: str) -> Headers:
    return {**staff(sub=sub), **headers}


async def _edit(
    client: httpx.AsyncClient, headers: Headers, changes: dict[str, Any], code: str = ID_CARD_LOSS
) -> httpx.Response:
    """Open the item's draft (or take the open one) and apply the changes to it as read."""
    opened = await client.post(f"{ADMIN}/{code}/draft", headers=headers)
    assert opened.status_code in (200, 201), opened.text
    edited = await client.patch(
        f"{ADMIN}/{code}/draft",
        json=changes,
        headers={**headers, "If-Match": opened.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.text
    return edited


async def _approve(
    client: httpx.AsyncClient, headers: Headers, etag: str, code: str = ID_CARD_LOSS
) -> httpx.Response:
    return await client.post(
        f"{ADMIN}/{code}/draft/approval", headers={**headers, "If-Match": etag}
    )


async def _publish(
    client: httpx.AsyncClient, headers: Headers, etag: str, code: str = ID_CARD_LOSS
) -> httpx.Response:
    return await client.post(f"{ADMIN}/{code}/publish", headers={**headers, "If-Match": etag})


async def test_a_lowered_min_loa_is_not_published_until_a_second_admin_approves_it(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    etag = edited.headers["ETag"]
    assert edited.json()["changes_needing_approval"] == ["min_loa"]
    assert edited.json()["approval"] is None

    refused = await _publish(client, staff(sub=ALICE), etag)
    body = problem(refused, 409, "approval_required")
    assert (body["item_code"], body["fields"]) == (ID_CARD_LOSS, ["min_loa"])
    assert (await client.get(f"{ITEMS}/{ID_CARD_LOSS}")).json()["min_loa"] == 3

    approved = await _approve(client, staff(sub=BOB), etag)
    assert approved.status_code == 200, approved.text
    assert approved.json()["approval"]["by"] == {"sub": BOB, "dept": "330000-public_security"}
    assert approved.headers["ETag"] == etag  # the approval changes nothing of the draft's content

    published = await _publish(client, staff(sub=ALICE), etag)
    assert published.status_code == 200, published.text
    assert (await client.get(f"{ITEMS}/{ID_CARD_LOSS}")).json()["min_loa"] == 2


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"min_loa": 2}, id="min_loa"),
        pytest.param({"handling_tier": "city"}, id="handling_tier"),
        pytest.param(
            {"fee": {"free": False, "amount_cny": "20.00", "basis": "合成数据：收费依据"}},
            id="fee",
        ),
    ],
)
async def test_a_change_to_the_assurance_level_tier_or_fee_needs_a_second_persons_approval(
    client: httpx.AsyncClient, staff: Staff, problem: Problem, changes: dict[str, Any]
) -> None:
    edited = await _edit(client, staff(sub=ALICE), changes)
    assert edited.json()["changes_needing_approval"] == list(changes)
    refused = await _publish(client, staff(sub=ALICE), edited.headers["ETag"])
    assert problem(refused, 409, "approval_required")["fields"] == list(changes)

    assert (await _approve(client, staff(sub=BOB), edited.headers["ETag"])).status_code == 200
    published = await _publish(client, staff(sub=ALICE), edited.headers["ETag"])
    assert published.status_code == 200, published.text
    assert {field: published.json()[field] for field in changes} == changes


async def test_dropping_the_supervisors_approval_of_decisions_needs_a_second_administrator(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    """One administrator alone must not remove the control a second person's decision is."""
    alice, bob = (staff(sub=sub, dept=None, roles=("platform_admin",)) for sub in (ALICE, BOB))
    edited = await _edit(client, alice, {"decision_approval": "single"}, FUND_WITHDRAWAL)
    etag = edited.headers["ETag"]
    assert edited.json()["changes_needing_approval"] == ["decision_approval"]

    refused = await _publish(client, alice, etag, FUND_WITHDRAWAL)
    assert problem(refused, 409, "approval_required")["fields"] == ["decision_approval"]
    item = await client.get(f"{ITEMS}/{FUND_WITHDRAWAL}")
    assert item.json()["decision_approval"] == "second_person"
    problem(await _approve(client, alice, etag, FUND_WITHDRAWAL), 403, "second_person_required")

    assert (await _approve(client, bob, etag, FUND_WITHDRAWAL)).status_code == 200
    published = await _publish(client, alice, etag, FUND_WITHDRAWAL)
    assert published.status_code == 200, published.text
    item = await client.get(f"{ITEMS}/{FUND_WITHDRAWAL}")
    assert item.json()["decision_approval"] == "single"


async def test_a_draft_written_before_decision_approval_existed_reads_as_single(
    app: FastAPI, client: httpx.AsyncClient, staff: Staff
) -> None:
    """A draft's stored item lacking the field is what the item was then, one person deciding:
    no change of it to approve."""
    opened = await _edit(client, staff(sub=ALICE), {"notes": "合成数据：说明"})
    async with app.state.service.database.sessionmaker.begin() as session:
        draft = await session.scalar(
            select(ServiceItemDraft).where(ServiceItemDraft.code == ID_CARD_LOSS)
        )
        assert draft is not None
        draft.content = {
            key: value for key, value in draft.content.items() if key != "decision_approval"
        }

    read = await client.get(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff(sub=ALICE))
    assert read.json()["item"]["decision_approval"] == "single"
    assert read.json()["changes_needing_approval"] == []
    published = await _publish(client, staff(sub=ALICE), opened.headers["ETag"])
    assert published.status_code == 200, published.text


async def test_the_author_cannot_approve_their_own_change(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    refused = await _approve(client, staff(sub=ALICE), edited.headers["ETag"])
    body = problem(refused, 403, "second_person_required")
    assert body["fields"] == ["min_loa"]
    problem(
        await _publish(client, staff(sub=ALICE), edited.headers["ETag"]), 409, "approval_required"
    )


async def test_whoever_changed_a_field_needing_approval_is_an_author_of_the_change(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    edited = await _edit(client, staff(sub=BOB), {"fee": {"free": False, "amount_cny": "5.00"}})
    etag = edited.headers["ETag"]
    for author in (ALICE, BOB):
        problem(await _approve(client, staff(sub=author), etag), 403, "second_person_required")
    assert (await _approve(client, staff(sub=CAROL), etag)).status_code == 200


async def test_an_editor_of_other_fields_may_approve_anothers_change(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    edited = await _edit(client, staff(sub=BOB), {"notes": "合成数据：说明"})
    approved = await _approve(client, staff(sub=BOB), edited.headers["ETag"])
    assert approved.status_code == 200, approved.text


async def test_other_edits_publish_directly(client: httpx.AsyncClient, staff: Staff) -> None:
    edited = await _edit(
        client, staff(sub=ALICE), {"promised_working_days": 1, "aliases": ["身份证丢了"]}
    )
    assert edited.json()["changes_needing_approval"] == []
    published = await _publish(client, staff(sub=ALICE), edited.headers["ETag"])
    assert published.status_code == 200, published.text
    assert published.json()["promised_working_days"] == 1


async def test_a_change_taken_back_needs_no_approval(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 3, "notes": "合成数据：说明"})
    assert edited.json()["changes_needing_approval"] == []
    published = await _publish(client, staff(sub=ALICE), edited.headers["ETag"])
    assert published.status_code == 200, published.text


async def test_approving_a_draft_that_needs_no_approval_is_refused(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"visits": 0})
    problem(
        await _approve(client, staff(sub=BOB), edited.headers["ETag"]), 409, "approval_not_needed"
    )


async def test_an_edit_after_the_approval_withdraws_it(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    assert (await _approve(client, staff(sub=BOB), edited.headers["ETag"])).status_code == 200
    changed = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"notes": "合成数据：另一说明"},
        headers={**staff(sub=ALICE), "If-Match": edited.headers["ETag"]},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["approval"] is None
    refused = await _publish(client, staff(sub=ALICE), changed.headers["ETag"])
    problem(refused, 409, "approval_required")


async def test_an_approval_names_the_draft_it_read(
    client: httpx.AsyncClient, staff: Staff, problem: Problem
) -> None:
    first = await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    second = await _edit(client, staff(sub=ALICE), {"min_loa": 2, "notes": "合成数据：说明"})
    problem(
        await _approve(client, staff(sub=BOB), first.headers["ETag"]), 412, "precondition_failed"
    )
    missing = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft/approval", headers=staff(sub=BOB))
    problem(missing, 428, "precondition_required")
    assert (await _approve(client, staff(sub=BOB), second.headers["ETag"])).status_code == 200


async def test_an_approval_retried_answers_the_same_approval(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    first = await _approve(client, staff(sub=BOB), edited.headers["ETag"])
    again = await _approve(client, staff(sub=BOB), edited.headers["ETag"])
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    trail = await client.get(f"{ADMIN}/{ID_CARD_LOSS}/audit", headers=staff())
    assert [entry["action"] for entry in trail.json()["items"]].count("approved") == 1


@pytest.mark.parametrize(
    ("dept", "roles", "status", "code"),
    [
        ("330302-public_security", ("catalog_admin",), 403, "outside_jurisdiction"),  # Lucheng
        ("330000-tax", ("catalog_admin",), 403, "outside_jurisdiction"),
        ("330302-public_security", ("handler",), 403, "not_catalog_administrator"),
        (None, ("platform_admin",), 200, None),
    ],
)
async def test_the_approver_is_an_administrator_of_the_item(
    client: httpx.AsyncClient,
    staff: Staff,
    problem: Problem,
    dept: str | None,
    roles: tuple[str, ...],
    status: int,
    code: str | None,
) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 2})
    approver = staff(sub=BOB, dept=dept, roles=roles)
    response = await _approve(client, approver, edited.headers["ETag"])
    if code is None:
        assert response.status_code == status, response.text
    else:
        problem(response, status, code)


async def test_a_new_item_is_first_published_once_a_second_person_approves_it(
    client: httpx.AsyncClient, staff: Staff, problem: Problem, new_item: dict[str, Any]
) -> None:
    """A new item sets its assurance level, tier, fee and decision approval for the first time:
    as much a change as lowering them."""
    code = new_item["code"]
    created = await client.post(
        ADMIN, json=new_item, headers={**staff(sub=ALICE), "Idempotency-Key": "approval-000001"}
    )
    assert created.status_code == 201, created.text
    etag = created.headers["ETag"]
    assert created.json()["changes_needing_approval"] == [
        "min_loa",
        "handling_tier",
        "fee",
        "decision_approval",
    ]
    problem(await _publish(client, staff(sub=ALICE), etag, code), 409, "approval_required")
    problem(await _approve(client, staff(sub=ALICE), etag, code), 403, "second_person_required")
    assert (await _approve(client, staff(sub=BOB), etag, code)).status_code == 200
    published = await _publish(client, staff(sub=ALICE), etag, code)
    assert published.status_code == 200, published.text


async def test_the_approval_is_in_the_audit_trail(client: httpx.AsyncClient, staff: Staff) -> None:
    edited = await _edit(client, staff(sub=ALICE), {"min_loa": 2, "notes": "合成数据：说明"})
    await _approve(client, staff(sub=BOB), edited.headers["ETag"])
    await _publish(client, staff(sub=ALICE), edited.headers["ETag"])
    trail = (await client.get(f"{ADMIN}/{ID_CARD_LOSS}/audit", headers=staff())).json()["items"]
    assert [(e["action"], e["version"], e["actor"]["sub"]) for e in trail] == [
        ("published", 3, ALICE),
        ("approved", 3, BOB),
        ("edited", 3, ALICE),
        ("draft_opened", 3, ALICE),
    ]
    approval = trail[1]
    assert approval["changes"] == {"min_loa": {"from": 3, "to": 2}}
    assert approval["actor"]["dept"] == "330000-public_security"
