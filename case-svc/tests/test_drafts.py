"""Draft applications: a citizen opens one for an item and gets its form filled in as far as
the platform can, each value with its provenance: her identity from her verified identity,
locked; fields bound to a data resource read through the exchange under case-svc's token for
the handling department, only once she consented to the draft. She corrects what she must (then
it is typed), and submitting the draft files the case, which keeps every field's provenance.
The exchange and identity-svc are the contract doubles of conftest."""

import asyncio
import copy
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from servicekit.testing import bearer

from .conftest import CatalogDouble, ExchangeDouble, IdentityDouble

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]

DEPARTMENT = "330302-public_security"
BOUND = ["registered_address", "birth_date"]


async def open_draft(
    client: httpx.AsyncClient, token: str, item_code: str, *, routed: bool = True
) -> httpx.Response:
    headers = bearer(token)
    if routed:
        headers["X-Region-Code"] = "330302"
    return await client.post("/cases/v1/drafts", json={"item_code": item_code}, headers=headers)


@pytest.fixture
async def draft(client: httpx.AsyncClient, catalog: CatalogDouble, resident: str) -> dict[str, Any]:
    opened = await open_draft(client, resident, catalog.household_extract)
    assert opened.status_code == 201, opened.text
    body: dict[str, Any] = opened.json()
    return body


async def test_a_new_draft_holds_her_verified_identity_locked_and_asks_consent_for_the_rest(
    draft: dict[str, Any], identity: IdentityDouble, exchange: ExchangeDouble
) -> None:
    lin = identity.lin
    assert draft["status"] == "draft"
    assert draft["draft_no"].startswith("330302-D")
    assert draft["department_id"] == DEPARTMENT
    assert draft["form"] == {
        "name": lin.name,
        "id_number": lin.id_number,
        "licence_number": lin.id_number,
    }
    for field in ("name", "id_number"):
        assert draft["provenance"][field]["source"] == "verified_identity"
        assert draft["provenance"][field]["locked"] is True
    # A field bound to her own number is hers too, from her verified identity, never a read;
    # she may correct it, as it is not her identity field.
    assert draft["provenance"]["licence_number"]["source"] == "verified_identity"
    assert draft["provenance"]["licence_number"]["locked"] is False
    assert draft["consents_to_fill"] == [
        {
            "consumer": DEPARTMENT,
            "resource": "population",
            "fields": BOUND,
            "purpose": "case_prefill",
            "case_id": draft["draft_no"],
            "form_fields": BOUND,
        }
    ]
    # case-svc asked, for the department and the draft, and was refused for want of consent.
    ((body, _),) = exchange.calls
    assert (body["purpose"], body["for_department"], body["case_id"]) == (
        "case_prefill",
        DEPARTMENT,
        draft["draft_no"],
    )


async def test_once_she_consents_the_bound_fields_are_filled_with_their_provenance(
    client: httpx.AsyncClient,
    draft: dict[str, Any],
    resident: str,
    identity: IdentityDouble,
    exchange: ExchangeDouble,
) -> None:
    consent_id = exchange.consent_to_prefill(draft["draft_no"], DEPARTMENT, BOUND)
    filled = await client.post(
        f"/cases/v1/drafts/{draft['draft_no']}/prefill", headers=bearer(resident)
    )
    assert filled.status_code == 200, filled.text
    body = filled.json()
    assert (
        body["form"]["registered_address"]
        == exchange.population[identity.lin.id_number]["registered_address"]
    )
    assert body["form"]["birth_date"] == "1952-03-14"
    address = body["provenance"]["registered_address"]
    assert address["source"] == "data_resource"
    assert (address["resource"], address["resource_field"]) == ("population", "registered_address")
    assert address["provider_department_type"] == "public_security"
    assert address["call_id"] == address["receipt"]["entry"]["call_id"]
    assert address["source_time"] == "2026-11-01T00:00:00Z"
    assert address["consent"] == {
        "consumer": DEPARTMENT,
        "purpose": "case_prefill",
        "case_id": draft["draft_no"],
        "consent_ids": [consent_id],
    }
    assert body["consents_to_fill"] == []
    # Read about her, under case-svc's own token.
    body_sent, token = exchange.calls[-1]
    assert body_sent["subject"] == {"id_number": identity.lin.id_number}
    assert token in identity.service_tokens


@pytest.fixture
def two_registries(catalog: CatalogDouble, monkeypatch: pytest.MonkeyPatch) -> str:
    """The household extract with a field of a second resource as well: the mailing address
    (a resource the exchange double does not grant case-svc, so its read is refused)."""
    code = "public_security.household_register_extract_mailed"
    item = copy.deepcopy(catalog.items[catalog.household_extract])
    item["code"] = code
    item["form_schema"]["properties"]["mailing_address"] = {
        "type": "string",
        "x-prefill": {"resource": "contact_information", "field": "mailing_address"},
    }
    monkeypatch.setitem(catalog.items, code, item)
    return code


async def test_the_reads_of_different_resources_go_out_at_once(
    client: httpx.AsyncClient, two_registries: str, resident: str, exchange: ExchangeDouble
) -> None:
    # Each read waits at the exchange until the other arrives: read one after the other, the
    # first would never be answered.
    exchange.barrier = asyncio.Barrier(2)
    opened = await open_draft(client, resident, two_registries)
    assert opened.status_code == 201, opened.text
    assert sorted(body["resource"] for body, _ in exchange.calls) == [
        "contact_information",
        "population",
    ]
    asked = [
        (wanted["resource"], wanted["form_fields"]) for wanted in opened.json()["consents_to_fill"]
    ]
    assert asked == [("population", BOUND), ("contact_information", ["mailing_address"])]


async def test_a_resource_refused_leaves_its_fields_and_the_others_are_filled_in_form_order(
    client: httpx.AsyncClient, two_registries: str, resident: str, exchange: ExchangeDouble
) -> None:
    opened = await open_draft(client, resident, two_registries)
    draft_no = opened.json()["draft_no"]
    exchange.consent_to_prefill(draft_no, DEPARTMENT, BOUND)
    filled = await client.post(f"/cases/v1/drafts/{draft_no}/prefill", headers=bearer(resident))
    assert filled.status_code == 200, filled.text
    body = filled.json()
    assert list(body["form"]) == ["name", "id_number", "licence_number", *BOUND]
    assert [wanted["resource"] for wanted in body["consents_to_fill"]] == ["contact_information"]


async def test_a_read_that_fails_fails_the_fill_and_fills_nothing(
    client: httpx.AsyncClient,
    two_registries: str,
    resident: str,
    exchange: ExchangeDouble,
    problem: Problem,
) -> None:
    opened = await open_draft(client, resident, two_registries)
    draft_no = opened.json()["draft_no"]
    exchange.consent_to_prefill(draft_no, DEPARTMENT, BOUND)
    exchange.down = "failing"
    failed = await client.post(f"/cases/v1/drafts/{draft_no}/prefill", headers=bearer(resident))
    assert problem(failed, 503, "upstream_unavailable")["upstream_status"] == 503
    exchange.down = None
    kept = await client.get(f"/cases/v1/drafts/{draft_no}", headers=bearer(resident))
    assert "registered_address" not in kept.json()["form"]


async def test_her_identity_fields_cannot_be_changed(
    client: httpx.AsyncClient, draft: dict[str, Any], resident: str, problem: Problem
) -> None:
    changed = await client.patch(
        f"/cases/v1/drafts/{draft['draft_no']}",
        json={"form": {"id_number": "330302199001010011", "contact_phone": "13957700000"}},
        headers=bearer(resident),
    )
    assert problem(changed, 422, "identity_field_locked")["fields"] == ["id_number"]


async def test_a_field_unknown_to_the_form_is_refused(
    client: httpx.AsyncClient, draft: dict[str, Any], resident: str, problem: Problem
) -> None:
    changed = await client.patch(
        f"/cases/v1/drafts/{draft['draft_no']}",
        json={"form": {"nickname": "x"}},
        headers=bearer(resident),
    )
    problem(changed, 422, "unknown_form_field")


async def test_someone_elses_draft_is_not_found(
    client: httpx.AsyncClient, draft: dict[str, Any], token_minter: Any, problem: Problem
) -> None:
    other = token_minter.mint("citizen-chen", loa=3, region="330302026003")
    for response in (
        await client.get(f"/cases/v1/drafts/{draft['draft_no']}", headers=bearer(other)),
        await client.patch(
            f"/cases/v1/drafts/{draft['draft_no']}",
            json={"form": {"use": "school"}},
            headers=bearer(other),
        ),
    ):
        problem(response, 404, "draft_application_not_found")


async def test_submitting_the_draft_files_the_case_with_every_fields_provenance(
    client: httpx.AsyncClient,
    draft: dict[str, Any],
    resident: str,
    exchange: ExchangeDouble,
    problem: Problem,
) -> None:
    number = draft["draft_no"]
    exchange.consent_to_prefill(number, DEPARTMENT, BOUND)
    await client.post(f"/cases/v1/drafts/{number}/prefill", headers=bearer(resident))
    corrected = await client.patch(
        f"/cases/v1/drafts/{number}",
        json={
            "form": {
                "registered_address": "浙江省温州市鹿城区五马街道（合成数据）",
                "contact_phone": "13957700000",
                "use": "school",
            }
        },
        headers=bearer(resident),
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["provenance"]["registered_address"]["source"] == "typed"

    key = str(uuid.uuid4())
    headers = {**bearer(resident), "Idempotency-Key": key}
    filed = await client.post(f"/cases/v1/drafts/{number}/submission", headers=headers)
    assert filed.status_code == 201, filed.text
    case = filed.json()
    assert case["department_id"] == DEPARTMENT
    assert case["form"]["registered_address"] == "浙江省温州市鹿城区五马街道（合成数据）"
    sources = {name: entry["source"] for name, entry in case["form_provenance"].items()}
    assert sources == {
        "name": "verified_identity",
        "id_number": "verified_identity",
        "registered_address": "typed",
        "birth_date": "data_resource",
        "licence_number": "verified_identity",
        "contact_phone": "typed",
        "use": "typed",
    }

    shown = await client.get(f"/cases/v1/cases/{case['case_no']}", headers=bearer(resident))
    assert shown.json()["form_provenance"] == case["form_provenance"]
    replayed = await client.post(f"/cases/v1/drafts/{number}/submission", headers=headers)
    assert replayed.json()["case_no"] == case["case_no"]
    again = await client.post(
        f"/cases/v1/drafts/{number}/submission",
        headers={**bearer(resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert problem(again, 409, "draft_filed")["case_no"] == case["case_no"]
    kept = await client.get(f"/cases/v1/drafts/{number}", headers=bearer(resident))
    assert (kept.json()["status"], kept.json()["case_no"]) == ("filed", case["case_no"])


async def test_an_incomplete_draft_is_not_filed(
    client: httpx.AsyncClient, draft: dict[str, Any], resident: str, problem: Problem
) -> None:
    refused = await client.post(
        f"/cases/v1/drafts/{draft['draft_no']}/submission",
        headers={**bearer(resident), "Idempotency-Key": str(uuid.uuid4())},
    )
    problem(refused, 422, "form_invalid")


async def test_a_draft_opened_elsewhere_is_opened_in_its_departments_instance(
    client: httpx.AsyncClient, catalog: CatalogDouble, resident: str
) -> None:
    opened = await open_draft(client, resident, catalog.household_extract, routed=False)
    assert opened.status_code == 201, opened.text
    assert opened.headers["Location"] == f"/cases/v1/drafts/{opened.json()['draft_no']}"
    assert catalog.forwarded[-1]["x-region-code"] == "330302"


async def test_a_draft_needs_a_verified_citizen(
    client: httpx.AsyncClient, catalog: CatalogDouble, token_minter: Any, problem: Problem
) -> None:
    unverified = token_minter.mint("citizen-new", loa=1, region="330302026003")
    refused = await open_draft(client, unverified, catalog.household_extract)
    problem(refused, 403, "insufficient_assurance")


async def test_a_delegate_neither_opens_nor_reads_her_draft(
    client: httpx.AsyncClient,
    catalog: CatalogDouble,
    draft: dict[str, Any],
    token_minter: Any,
    problem: Problem,
) -> None:
    acting = token_minter.mint("citizen-lin", act="citizen-son", loa=3, region="330302026003")
    problem(
        await open_draft(client, acting, catalog.household_extract), 403, "delegate_not_allowed"
    )
    read = await client.get(f"/cases/v1/drafts/{draft['draft_no']}", headers=bearer(acting))
    problem(read, 403, "delegate_not_allowed")


async def test_corrections_sent_at_once_from_two_devices_are_not_lost(
    client: httpx.AsyncClient, draft: dict[str, Any], resident: str
) -> None:
    """Each correction reads her draft, merges its fields and writes it back: two at once must
    not write over each other. Every one answered 200 is in the draft (one may be asked to
    try again, never silently lost)."""
    number = draft["draft_no"]
    fields = {
        "contact_phone": "13957700000",
        "use": "school",
        "registered_address": "浙江省温州市鹿城区五马街道（合成数据）",
    }
    answers = await asyncio.gather(
        *(
            client.patch(
                f"/cases/v1/drafts/{number}",
                json={"form": {name: value}},
                headers=bearer(resident),
            )
            for name, value in fields.items()
        )
    )
    assert all(answer.status_code in (200, 503) for answer in answers), [
        answer.text for answer in answers
    ]
    assert any(answer.status_code == 200 for answer in answers)
    form = (await client.get(f"/cases/v1/drafts/{number}", headers=bearer(resident))).json()["form"]
    for (name, value), answer in zip(fields.items(), answers, strict=True):
        if answer.status_code == 200:
            assert form.get(name) == value, name
