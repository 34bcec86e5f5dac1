"""One-issue applications: a bundle filed once, as one application, with a child case at each
department it concerns (each filed through the gateway in its department's instance); a filing
cut short is completed by the retry, a part refused is compensated; she follows it as one."""

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from case_svc.models import BundleApplication, Case
from servicekit.testing import bearer

from .conftest import (
    FUND_WITHDRAWAL,
    HOUSEHOLD_EXTRACT,
    LICENCE_REPLACEMENT,
    MOVE_BUNDLE,
    MOVE_FORM,
    SOCIAL_CARD_LOSS,
    CatalogDouble,
    ExchangeDouble,
    IdentityDouble,
)

PATH = "/cases/v1/bundle-applications"

# The gateway's doubles behind the app's client, in every test.
pytestmark = pytest.mark.usefixtures("catalog")


async def file(
    client: httpx.AsyncClient,
    token: str,
    *,
    form: dict[str, Any] | None = None,
    key: str | None = None,
    bundle: str = MOVE_BUNDLE,
) -> httpx.Response:
    return await client.post(
        PATH,
        json={"bundle_code": bundle, "form": MOVE_FORM if form is None else form},
        headers={**bearer(token), "Idempotency-Key": key or str(uuid.uuid4())},
    )


async def count(app: Any, model: Any) -> int:
    async with app.state.service.database.sessionmaker() as session:
        counted: int = await session.scalar(select(func.count()).select_from(model)) or 0
        return counted


async def test_a_bundle_is_filed_once_with_a_child_case_at_each_department(
    app: Any, client: httpx.AsyncClient, catalog: CatalogDouble, resident: str
) -> None:
    key = str(uuid.uuid4())
    filed = await file(client, resident, key=key)

    assert filed.status_code == 201, filed.text
    body = filed.json()
    assert body["application_no"].startswith("330302-B")  # her county's
    assert filed.headers["location"] == f"{PATH}/{body['application_no']}"
    children = {child["item_code"]: child for child in body["children"]}
    assert list(children) == [
        HOUSEHOLD_EXTRACT,
        FUND_WITHDRAWAL,
        LICENCE_REPLACEMENT,
        SOCIAL_CARD_LOSS,
    ]
    assert {code: child["department_tier"] for code, child in children.items()} == {
        HOUSEHOLD_EXTRACT: "county",
        FUND_WITHDRAWAL: "city",
        LICENCE_REPLACEMENT: "city",
        SOCIAL_CARD_LOSS: "county",
    }
    # Each child is a case of her own at its department, the instant one completed at once.
    assert {code: child["status"] for code, child in children.items()} == {
        HOUSEHOLD_EXTRACT: "submitted",
        FUND_WITHDRAWAL: "submitted",
        LICENCE_REPLACEMENT: "submitted",
        SOCIAL_CARD_LOSS: "completed",
    }
    assert body["status"] == "in_progress"
    mine = await client.get("/cases/v1/cases", headers=bearer(resident))
    assert sorted(case["case_no"] for case in mine.json()["items"]) == sorted(
        child["case_no"] for child in body["children"]
    )
    fund = await client.get(
        f"/cases/v1/cases/{children[FUND_WITHDRAWAL]['case_no']}", headers=bearer(resident)
    )
    assert fund.json()["department_id"] == "330300-housing_provident_fund"
    assert fund.json()["form"] == {"reason": "rent", "amount": 6000}  # its own fields alone

    # Filed in her county's instance, each child in its department's (X-Region-Code).
    routed = [headers.get("x-region-code") for headers in catalog.forwarded]
    assert routed == ["330302", "330302", "330300", "330300", "330302"]

    # The retry answers the same application and files nothing more.
    again = await file(client, resident, key=key)
    assert again.status_code == 201
    assert again.headers["idempotency-replayed"] == "true"
    assert again.json()["application_no"] == body["application_no"]
    assert await count(app, Case) == 4

    # She follows it as one.
    seen = await client.get(f"{PATH}/{body['application_no']}", headers=bearer(resident))
    assert seen.status_code == 200, seen.text
    assert [child["status"] for child in seen.json()["children"]] == [
        "submitted",
        "submitted",
        "submitted",
        "completed",
    ]
    listed = await client.get(PATH, headers=bearer(resident))
    assert [
        (item["application_no"], item["status"], item["children"])
        for item in listed.json()["items"]
    ] == [(body["application_no"], "filed", 4)]


async def test_an_item_her_answers_leave_out_is_not_filed(
    client: httpx.AsyncClient, resident: str
) -> None:
    filed = await file(client, resident, form={**MOVE_FORM, "social_card_lost": False})

    assert filed.status_code == 201, filed.text
    assert [child["item_code"] for child in filed.json()["children"]] == [
        HOUSEHOLD_EXTRACT,
        FUND_WITHDRAWAL,
        LICENCE_REPLACEMENT,
    ]
    assert filed.json()["left_out"] == [
        {
            "item_code": SOCIAL_CARD_LOSS,
            "item_name": "社会保障卡挂失",
            "reason": "condition_not_met",
        }
    ]


async def test_a_child_that_cannot_be_filed_just_now_is_filed_by_the_retry(
    app: Any, client: httpx.AsyncClient, catalog: CatalogDouble, resident: str, problem: Any
) -> None:
    key = str(uuid.uuid4())
    catalog.refuse_filing[LICENCE_REPLACEMENT] = (503, "upstream_unavailable")

    cut_short = await file(client, resident, key=key)

    answer = problem(cut_short, 503, "bundle_application_incomplete")
    assert (answer["filed"], answer["children"]) == (2, 4)
    assert await count(app, Case) == 2
    listed = await client.get(PATH, headers=bearer(resident))
    assert [item["status"] for item in listed.json()["items"]] == ["filing"]
    # The same key with another application is refused, not mixed into this one.
    other = await file(client, resident, key=key, form={**MOVE_FORM, "amount": 1})
    problem(other, 422, "idempotency_key_reused")

    retried = await file(client, resident, key=key)

    assert retried.status_code == 201, retried.text
    assert retried.json()["application_no"] == answer["application_no"]
    assert retried.json()["status"] == "in_progress"
    assert await count(app, Case) == 4  # the first two were not filed again
    assert await count(app, BundleApplication) == 1


async def test_a_part_its_department_refuses_withdraws_the_parts_filed_before_it(
    client: httpx.AsyncClient, catalog: CatalogDouble, resident: str, problem: Any
) -> None:
    key = str(uuid.uuid4())
    catalog.refuse_filing[LICENCE_REPLACEMENT] = (422, "form_invalid")

    refused = await file(client, resident, key=key)

    answer = problem(refused, 422, "bundle_child_refused")
    assert (answer["item_code"], answer["child_problem"]) == (LICENCE_REPLACEMENT, "form_invalid")
    assert len(answer["withdrawn"]) == 2
    assert answer["not_withdrawn"] == []
    for case_no in answer["withdrawn"]:
        case = await client.get(f"/cases/v1/cases/{case_no}", headers=bearer(resident))
        assert case.json()["status"] == "withdrawn"
    seen = await client.get(f"{PATH}/{answer['application_no']}", headers=bearer(resident))
    assert seen.json()["status"] == "compensated"
    # A retry is told it was compensated: she files anew, with a new key.
    problem(await file(client, resident, key=key), 409, "bundle_application_compensated")


async def test_a_form_a_part_would_refuse_files_nothing(
    app: Any, client: httpx.AsyncClient, resident: str, problem: Any
) -> None:
    without_amount = {name: value for name, value in MOVE_FORM.items() if name != "amount"}

    refused = await file(client, resident, form=without_amount)

    problem(refused, 422, "form_invalid")
    assert await count(app, Case) == 0
    assert await count(app, BundleApplication) == 0


async def test_only_she_reads_her_application(
    client: httpx.AsyncClient, resident: str, token_minter: Any, problem: Any
) -> None:
    number = (await file(client, resident)).json()["application_no"]
    stranger = token_minter.mint("citizen-chen", loa=3, region="330302026003")
    problem(
        await client.get(f"{PATH}/{number}", headers=bearer(stranger)),
        404,
        "bundle_application_not_found",
    )
    handler = token_minter.mint(
        "handler-1", typ="staff", loa=2, dept="330300-housing_provident_fund", roles=("handler",)
    )
    assert (await client.get(f"{PATH}/{number}", headers=bearer(handler))).status_code == 403
    assert (await client.get(PATH, headers=bearer(stranger))).json()["items"] == []


async def test_an_unknown_bundle_and_one_nothing_of_which_applies_are_refused(
    client: httpx.AsyncClient, resident: str, problem: Any
) -> None:
    problem(await file(client, resident, bundle="no_such_bundle"), 404, "bundle_not_found")


# --- bundle drafts: filled in by the platform before she files ---------------------------------


async def test_a_bundle_draft_is_filled_as_one_form_and_files_each_child_with_its_provenance(
    app: Any,
    client: httpx.AsyncClient,
    resident: str,
    exchange: ExchangeDouble,
    identity: IdentityDouble,
    problem: Any,
) -> None:
    opened = await client.post(
        "/cases/v1/bundle-drafts",
        json={"bundle_code": MOVE_BUNDLE, "answers": {"social_card_lost": True}},
        headers=bearer(resident),
    )
    assert opened.status_code == 201, opened.text
    draft = opened.json()
    number = draft["application_no"]
    assert number.startswith("330302-B")
    assert [child["item_code"] for child in draft["children"]] == [
        HOUSEHOLD_EXTRACT,
        FUND_WITHDRAWAL,
        LICENCE_REPLACEMENT,
        SOCIAL_CARD_LOSS,
    ]
    # Her identity once, from her verified identity, locked; the registry's fields await her
    # consent to the department whose draft reads them.
    assert (draft["form"]["name"], draft["form"]["id_number"]) == (
        identity.lin.name,
        identity.lin.id_number,
    )
    assert draft["provenance"]["name"]["locked"] is True
    [ask] = draft["consents_to_fill"]
    household = draft["children"][0]
    assert (ask["consumer"], ask["case_id"]) == (household["department_id"], household["draft_no"])

    exchange.consent_to_prefill(ask["case_id"], ask["consumer"], ask["fields"])
    filled = await client.post(
        f"/cases/v1/bundle-drafts/{number}/prefill", headers=bearer(resident)
    )
    assert filled.status_code == 200, filled.text
    assert filled.json()["provenance"]["registered_address"]["source"] == "data_resource"
    assert filled.json()["consents_to_fill"] == []

    # Filed before she typed what no registry holds: refused before anything is filed, and
    # the draft stays open for her to complete.
    early = await client.post(
        f"/cases/v1/bundle-drafts/{number}/submission",
        headers={**bearer(resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    problem(early, 422, "form_invalid")
    assert await count(app, Case) == 0
    still = await client.get(f"/cases/v1/bundle-drafts/{number}", headers=bearer(resident))
    assert still.status_code == 200, still.text

    # She types what no registry holds; each value goes to the children that ask it.
    typed = {
        name: MOVE_FORM[name]
        for name in ("contact_phone", "use", "reason", "amount", "mailing_address")
    }
    corrected = await client.patch(
        f"/cases/v1/bundle-drafts/{number}", json={"form": typed}, headers=bearer(resident)
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["provenance"]["amount"]["source"] == "typed"
    unknown = await client.patch(
        f"/cases/v1/bundle-drafts/{number}",
        json={"form": {"nickname": "x"}},
        headers=bearer(resident),
    )
    problem(unknown, 422, "unknown_form_field")

    key = str(uuid.uuid4())
    submitted = await client.post(
        f"/cases/v1/bundle-drafts/{number}/submission",
        headers={**bearer(resident), "Idempotency-Key": key},
    )
    assert submitted.status_code == 201, submitted.text
    filed = submitted.json()
    assert filed["application_no"] == number
    assert [child["status"] for child in filed["children"]] == [
        "submitted",
        "submitted",
        "submitted",
        "completed",
    ]
    household_case = await client.get(
        f"/cases/v1/cases/{filed['children'][0]['case_no']}", headers=bearer(resident)
    )
    provenance = household_case.json()["form_provenance"]
    assert provenance["registered_address"]["source"] == "data_resource"
    assert provenance["use"]["source"] == "typed"
    # Filed: the draft is an application now.
    problem(
        await client.get(f"/cases/v1/bundle-drafts/{number}", headers=bearer(resident)),
        409,
        "bundle_draft_submitted",
    )
    seen = await client.get(f"{PATH}/{number}", headers=bearer(resident))
    assert seen.json()["status"] == "in_progress"


async def test_a_bundle_draft_submission_cut_short_is_completed_by_the_retry(
    app: Any, client: httpx.AsyncClient, catalog: CatalogDouble, resident: str, problem: Any
) -> None:
    opened = await client.post(
        "/cases/v1/bundle-drafts",
        json={"bundle_code": MOVE_BUNDLE, "answers": {"social_card_lost": False}},
        headers=bearer(resident),
    )
    number = opened.json()["application_no"]
    typed = {
        name: MOVE_FORM[name]
        for name in (
            "registered_address",
            "contact_phone",
            "use",
            "reason",
            "amount",
            "mailing_address",
        )
    }
    await client.patch(
        f"/cases/v1/bundle-drafts/{number}", json={"form": typed}, headers=bearer(resident)
    )
    licence_draft = opened.json()["children"][2]["draft_no"]
    catalog.refuse_draft_submission = licence_draft

    first = await client.post(
        f"/cases/v1/bundle-drafts/{number}/submission",
        headers={**bearer(resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    answer = problem(first, 503, "bundle_application_incomplete")
    assert (answer["filed"], answer["children"]) == (2, 3)

    # Another key, even: the children filed before answer their cases again.
    retried = await client.post(
        f"/cases/v1/bundle-drafts/{number}/submission",
        headers={**bearer(resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert retried.status_code == 201, retried.text
    assert len({child["case_no"] for child in retried.json()["children"]}) == 3
    assert await count(app, Case) == 3
