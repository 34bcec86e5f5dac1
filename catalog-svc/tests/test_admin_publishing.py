"""Drafts and published versions: a draft is invisible to the public reads; publishing it makes
it the item's next version, served at once by the item document, search, handler resolution and
the change feed; withdrawing stops offering it. Edits and publications name the draft they read
(If-Match); creations may be retried (Idempotency-Key)."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from catalog_svc.models import ReferenceDataset
from catalog_svc.seed import DATASET_NAME, seed
from catalog_svc.snapshot import CatalogHolder
from servicekit.db import utcnow

pytestmark = pytest.mark.usefixtures("restore_items")

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Headers = dict[str, str]

ADMIN = "/catalog/v1/admin/items"
ITEMS = "/catalog/v1/items"
ID_CARD_LOSS = "public_security.id_card_loss_report"
SONGTAI = "330302026"


async def _create(
    client: httpx.AsyncClient, headers: Headers, body: dict[str, Any], key: str = "key-00000001"
) -> httpx.Response:
    return await client.post(ADMIN, json=body, headers={**headers, "Idempotency-Key": key})


async def _publish(
    client: httpx.AsyncClient, headers: Headers, code: str, *, approver: Headers | None = None
) -> httpx.Response:
    """Publish the open draft as read; ``approver``: a second administrator approves it first,
    as a new item (or a change of min_loa, handling tier or fee) needs."""
    draft = await client.get(f"{ADMIN}/{code}/draft", headers=headers)
    assert draft.status_code == 200, draft.text
    read = {"If-Match": draft.headers["ETag"]}
    if approver is not None:
        approval = await client.post(f"{ADMIN}/{code}/draft/approval", headers={**approver, **read})
        assert approval.status_code == 200, approval.text
    return await client.post(f"{ADMIN}/{code}/publish", headers={**headers, **read})


def _second(staff: Callable[..., Headers]) -> Headers:
    """Another administrator of the same department than ``staff()``."""
    return staff(sub="staff-province-02")


async def _found_by(client: httpx.AsyncClient, query: str) -> list[str]:
    response = await client.get(ITEMS, params={"q": query, "limit": 10})
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["items"]]


async def _feed(client: httpx.AsyncClient, since: str) -> list[dict[str, Any]]:
    response = await client.get(ITEMS, params={"changed_since": since, "limit": 50})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_new_item_stays_out_of_every_public_read_until_published(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
) -> None:
    code = new_item["code"]
    since = utcnow().isoformat()
    created = await _create(client, staff(), new_item)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert created.headers["Location"] == f"{ADMIN}/{code}/draft"

    problem(await client.get(f"{ITEMS}/{code}"), 404, "item_not_found")
    problem(await client.get(f"{ITEMS}/{code}/handler?region={SONGTAI}"), 404, "item_not_found")
    assert code not in await _found_by(client, "狗证办理")
    assert await _feed(client, since) == []

    published = await _publish(client, staff(), code, approver=_second(staff))
    assert published.status_code == 200, published.text
    assert (published.json()["version"], published.json()["status"]) == (1, "published")

    assert (await client.get(f"{ITEMS}/{code}")).json()["name"] == new_item["name"]
    assert (await _found_by(client, "狗证办理"))[0] == code
    handler = await client.get(f"{ITEMS}/{code}/handler?region={SONGTAI}")
    assert handler.json()["department"]["id"] == "330302-public_security"
    assert [(change["code"], change["version"]) for change in await _feed(client, since)] == [
        (code, 1)
    ]


async def test_an_edit_is_served_once_published_and_not_before(
    client: httpx.AsyncClient, staff: Callable[..., Headers]
) -> None:
    before = await client.get(f"{ITEMS}/{ID_CARD_LOSS}")
    search_before = await client.get(ITEMS, params={"q": "证件掉了怎么办"})
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    assert opened.status_code == 201, opened.text
    assert (opened.json()["version"], opened.json()["based_on_version"]) == (3, 2)
    aliases = [*opened.json()["item"]["aliases"], "证件掉了怎么办"]
    edited = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"aliases": aliases, "promised_working_days": 0},
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["item"]["aliases"] == aliases
    assert edited.headers["ETag"] != opened.headers["ETag"]
    since = utcnow().isoformat()

    # The draft is not served: the public reads keep the published version 2.
    unchanged = await client.get(f"{ITEMS}/{ID_CARD_LOSS}")
    assert unchanged.json()["version"] == 2
    assert unchanged.headers["ETag"] == before.headers["ETag"]
    assert (await client.get(ITEMS, params={"q": "证件掉了怎么办"})).json() == search_before.json()
    assert await _feed(client, since) == []

    published = await _publish(client, staff(), ID_CARD_LOSS)
    assert published.status_code == 200, published.text
    assert published.headers["Location"] == f"{ITEMS}/{ID_CARD_LOSS}"

    after = await client.get(f"{ITEMS}/{ID_CARD_LOSS}")
    assert (after.json()["version"], after.json()["aliases"]) == (3, aliases)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert (await _found_by(client, "证件掉了怎么办"))[0] == ID_CARD_LOSS
    changes = await _feed(client, since)
    assert [(change["code"], change["version"], change["status"]) for change in changes] == [
        (ID_CARD_LOSS, 3, "published")
    ]
    # Published: the draft is gone until the next one is opened.
    assert (await client.get(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())).status_code == 404


async def test_a_withdrawn_item_is_no_longer_offered_and_a_new_version_offers_it_again(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    since = utcnow().isoformat()
    withdrawn = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/withdraw", headers=staff())
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "withdrawn"
    assert ID_CARD_LOSS not in await _found_by(client, "身份证挂失")
    problem(
        await client.get(f"{ITEMS}/{ID_CARD_LOSS}/handler?region={SONGTAI}"),
        422,
        "item_not_offered_in_region",
    )
    assert [(c["code"], c["status"]) for c in await _feed(client, since)] == [
        (ID_CARD_LOSS, "withdrawn")
    ]
    problem(
        await client.post(f"{ADMIN}/{ID_CARD_LOSS}/withdraw", headers=staff()),
        409,
        "item_already_withdrawn",
    )

    assert (await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())).status_code == 201
    republished = await _publish(client, staff(), ID_CARD_LOSS)
    assert (republished.json()["version"], republished.json()["status"]) == (3, "published")
    assert (await _found_by(client, "身份证挂失"))[0] == ID_CARD_LOSS


async def test_the_versions_keep_what_each_publication_replaced(
    client: httpx.AsyncClient, staff: Callable[..., Headers]
) -> None:
    seeded = await client.get(f"{ADMIN}/{ID_CARD_LOSS}/versions", headers=staff())
    assert [(v["version"], v["published_by"]) for v in seeded.json()["items"]] == [(2, None)]
    for name in ("居民身份证挂失申报（第二版）", "居民身份证挂失申报（第三版）"):
        opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
        await client.patch(
            f"{ADMIN}/{ID_CARD_LOSS}/draft",
            json={"name": name},
            headers={**staff(), "If-Match": opened.headers["ETag"]},
        )
        assert (await _publish(client, staff(), ID_CARD_LOSS)).status_code == 200

    pages: list[list[dict[str, Any]]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        body = (
            await client.get(f"{ADMIN}/{ID_CARD_LOSS}/versions", params=params, headers=staff())
        ).json()
        pages.append(body["items"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert [[v["version"] for v in page] for page in pages] == [[4, 3], [2]]
    versions = [version for page in pages for version in page]
    assert [v["item"]["name"] for v in versions] == [
        "居民身份证挂失申报（第三版）",
        "居民身份证挂失申报（第二版）",
        "居民身份证挂失申报",
    ]
    assert versions[0]["published_by"] == {
        "sub": "staff-province-01",
        "dept": "330000-public_security",
    }
    assert versions[2]["published_by"] is None  # the seed's


async def test_a_new_seed_leaves_the_administrators_items_alone(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    new_item: dict[str, Any],
) -> None:
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"name": "居民身份证挂失（新）"},
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    await _publish(client, staff(), ID_CARD_LOSS)
    await _create(client, staff(), new_item)
    await _publish(client, staff(), new_item["code"], approver=_second(staff))

    sessionmaker = app.state.service.database.sessionmaker
    async with sessionmaker.begin() as session:
        await session.execute(
            update(ReferenceDataset)
            .where(ReferenceDataset.name == DATASET_NAME)
            .values(fingerprint="an-earlier-load")
        )
    async with sessionmaker.begin() as session:
        await seed(session, app.state.service.settings)

    edited = (await client.get(f"{ITEMS}/{ID_CARD_LOSS}")).json()
    assert (edited["name"], edited["version"], edited["status"]) == (
        "居民身份证挂失（新）",
        3,
        "published",
    )
    created = (await client.get(f"{ITEMS}/{new_item['code']}")).json()
    assert created["status"] == "published"  # not in the files, yet not withdrawn


async def test_a_publication_reaches_other_processes_at_their_next_check(
    app: FastAPI,
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    new_item: dict[str, Any],
) -> None:
    holder: CatalogHolder = app.state.service.catalog
    elsewhere = holder.snapshot  # what a process that did not publish still holds
    await _create(client, staff(), new_item)
    await _publish(client, staff(), new_item["code"], approver=_second(staff))
    assert new_item["code"] in holder.snapshot.items

    holder.snapshot = elsewhere
    assert new_item["code"] not in await _found_by(client, "狗证办理")
    async with app.state.service.database.sessionmaker() as session:
        assert await holder.refresh_if_changed(session)
        assert not await holder.refresh_if_changed(session)
    assert (await _found_by(client, "狗证办理"))[0] == new_item["code"]
    assert holder.snapshot.regions is elsewhere.regions  # only the items were read again


@pytest.mark.parametrize(
    ("if_match", "status", "code"),
    [
        (None, 428, "precondition_required"),
        ("*", 428, "precondition_required"),
        ('"1.99"', 412, "precondition_failed"),
        ('W/"1.1"', 412, "precondition_failed"),  # a weak tag never matches: strong comparison
        ("current", 200, None),
        ('"0.0", current', 200, None),
    ],
)
@pytest.mark.parametrize("action", ["edit", "publish"])
async def test_edits_and_publications_name_the_draft_they_read(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    action: str,
    if_match: str | None,
    status: int,
    code: str | None,
) -> None:
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    headers = staff()
    if if_match is not None:
        headers["If-Match"] = if_match.replace("current", opened.headers["ETag"])
    if action == "edit":
        response = await client.patch(
            f"{ADMIN}/{ID_CARD_LOSS}/draft", json={"min_loa": 2}, headers=headers
        )
    else:
        response = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/publish", headers=headers)
    if code is None:
        assert response.status_code == status, response.text
    else:
        problem(response, status, code)


async def test_of_two_edits_of_the_same_draft_the_second_is_refused(
    client: httpx.AsyncClient, staff: Callable[..., Headers], problem: Problem
) -> None:
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    read = {**staff(), "If-Match": opened.headers["ETag"]}
    first = await client.patch(f"{ADMIN}/{ID_CARD_LOSS}/draft", json={"min_loa": 2}, headers=read)
    assert first.status_code == 200, first.text
    second = await client.patch(f"{ADMIN}/{ID_CARD_LOSS}/draft", json={"visits": 1}, headers=read)
    problem(second, 412, "precondition_failed")
    stale_publication = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/publish", headers=read)
    problem(stale_publication, 412, "precondition_failed")


async def test_an_edit_that_changes_nothing_keeps_the_draft_as_it_was(
    client: httpx.AsyncClient, staff: Callable[..., Headers]
) -> None:
    opened = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    same = await client.patch(
        f"{ADMIN}/{ID_CARD_LOSS}/draft",
        json={"min_loa": opened.json()["item"]["min_loa"]},
        headers={**staff(), "If-Match": opened.headers["ETag"]},
    )
    assert same.status_code == 200, same.text
    assert same.headers["ETag"] == opened.headers["ETag"]


async def test_opening_a_draft_twice_answers_the_open_one(
    client: httpx.AsyncClient, staff: Callable[..., Headers]
) -> None:
    first = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    second = await client.post(f"{ADMIN}/{ID_CARD_LOSS}/draft", headers=staff())
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.headers["ETag"] == second.headers["ETag"] == '"2.1"'
    assert second.json() == first.json()


@pytest.mark.parametrize(
    ("request_line", "status", "code"),
    [
        ("GET /catalog/v1/admin/items/public_security.no_such_item/draft", 404, "item_not_found"),
        ("POST /catalog/v1/admin/items/public_security.no_such_item/draft", 404, "item_not_found"),
        (f"GET /catalog/v1/admin/items/{ID_CARD_LOSS}/draft", 404, "draft_not_found"),
        (f"POST /catalog/v1/admin/items/{ID_CARD_LOSS}/publish", 404, "draft_not_found"),
        (
            "POST /catalog/v1/admin/items/public_security.no_such_item/withdraw",
            404,
            "item_not_found",
        ),
        ("GET /catalog/v1/admin/items/public_security.no_such_item/audit", 404, "item_not_found"),
        (
            "GET /catalog/v1/admin/items/public_security.no_such_item/versions",
            404,
            "item_not_found",
        ),
    ],
)
async def test_what_does_not_exist_is_not_found(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    request_line: str,
    status: int,
    code: str,
) -> None:
    method, path = request_line.split()
    problem(await client.request(method, path, headers=staff()), status, code)


@pytest.mark.parametrize(
    ("second_request", "status", "code"),
    [
        ({"key": "key-00000001"}, 201, None),  # the same request again: the same answer
        ({"key": "key-00000001", "name": "另一个名称（合成数据）"}, 422, "idempotency_key_reused"),
        ({"key": "key-00000002"}, 409, "item_code_taken"),  # a new request for the same code
        ({"key": None}, 400, "idempotency_key_required"),
        ({"key": "short"}, 400, "invalid_idempotency_key"),
    ],
)
async def test_a_creation_may_be_retried_with_its_idempotency_key(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
    second_request: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    first = await _create(client, staff(), new_item)
    assert first.status_code == 201, first.text
    body = {**new_item, **{k: v for k, v in second_request.items() if k != "key"}}
    headers = staff()
    if second_request["key"] is not None:
        headers["Idempotency-Key"] = second_request["key"]
    again = await client.post(ADMIN, json=body, headers=headers)
    if code is not None:
        problem(again, status, code)
        return
    assert again.status_code == status, again.text
    assert again.headers["Idempotency-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"]


async def test_an_existing_items_code_is_never_reused(
    client: httpx.AsyncClient,
    staff: Callable[..., Headers],
    problem: Problem,
    new_item: dict[str, Any],
) -> None:
    new_item["code"] = ID_CARD_LOSS
    problem(await _create(client, staff(), new_item), 409, "item_code_taken")
