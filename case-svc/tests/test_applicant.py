"""Who applies comes from the verified identity, never from the form: the fields an item's form
schema marks ``x-applicant`` (a person's name and ID number, an enterprise's credit code and
name) take the identity identity-svc verified for the caller's token, the principal's when a
delegate files. Left out, they are filled in; typed otherwise, the form is refused (422
``applicant_mismatch``, naming the fields, never the values) and nothing is kept; typed alike,
the form is accepted. For each kind of applicant: a citizen, an enterprise, a delegate.

catalog-svc and identity-svc are the contract doubles in conftest.py."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from case_svc.models import Case, IdempotencyRecord

Problem = Callable[[httpx.Response, int, str], dict[str, Any]]
Submit = Callable[..., Awaitable[httpx.Response]]

SONGTAI_COMMUNITY = "330302026003"


async def count(app: FastAPI, model: type[Any]) -> int:
    async with app.state.service.database.sessionmaker() as session:
        total: int = await session.scalar(select(func.count()).select_from(model))
        return total


async def stored_form(app: FastAPI, case_no: str) -> dict[str, Any]:
    async with app.state.service.database.sessionmaker() as session:
        form: dict[str, Any] = await session.scalar(
            select(Case.form).where(Case.case_no == case_no)
        )
        return form


def without(form: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {name: value for name, value in form.items() if name not in fields}


@dataclass(frozen=True)
class Applicant:
    """One kind of applicant: whom its token names (and who acts), an item of its kind with
    the form as it fills it in, the verified identity the item's applicant fields must hold,
    and someone else's in the same fields."""

    sub: str
    act: str | None
    token: str
    item: str
    form: dict[str, Any]
    identity: dict[str, str]
    someone_else: dict[str, str]


@pytest.fixture(params=["citizen", "citizen_at_level_3", "enterprise", "delegate"])
def applicant(
    request: pytest.FixtureRequest, catalog: Any, identity: Any, token_minter: Any
) -> Applicant:
    def person(someone: Any) -> dict[str, str]:
        return {"name": someone.name, "id_number": someone.id_number}

    def company(someone: Any) -> dict[str, str]:
        return {"enterprise_name": someone.name, "unified_social_credit_code": someone.credit_code}

    def of(
        sub: str, act: str | None, item: str, mine: Any, theirs: Any, **claims: Any
    ) -> Applicant:
        token = token_minter.mint(sub, act=act, region=SONGTAI_COMMUNITY, **claims)
        parts = company if claims.get("typ") == "enterprise" else person
        return Applicant(
            sub, act, token, item, catalog.valid_form(item), parts(mine), parts(theirs)
        )

    match request.param:
        case "citizen":  # the social-security card loss report: instant, level 2
            return of(
                "citizen-lin", None, catalog.social_card_loss, identity.lin, identity.chen, loa=2
            )
        case "citizen_at_level_3":  # the ID card loss report: instant, face verified
            return of("citizen-lin", None, catalog.loss_report, identity.lin, identity.chen, loa=3)
        case "enterprise":  # the company's licence change, filed by its representative
            return of(
                identity.haoyu.credit_code,
                "citizen-son",
                catalog.licence_change,
                identity.haoyu,
                identity.songtai,
                typ="enterprise",
                loa=2,
            )
        case _:  # her grandson, acting for her by delegation, typing his own identity
            return of(
                "citizen-lin",
                "citizen-son",
                catalog.social_card_loss,
                identity.lin,
                identity.son,
                loa=2,
            )


# (a) a form naming someone else ------------------------------------------------------------


async def test_a_form_in_someone_elses_name_is_refused_naming_the_fields_and_nothing_is_kept(
    submit: Submit, applicant: Applicant, app: FastAPI, problem: Problem
) -> None:
    other = applicant.someone_else

    response = await submit(applicant.token, applicant.item, {**applicant.form, **other})

    body = problem(response, 422, "applicant_mismatch")
    assert sorted(error["field"] for error in body["errors"]) == sorted(
        f"form.{field}" for field in other
    )
    assert {error["type"] for error in body["errors"]} == {"applicant_mismatch"}
    for value in [*other.values(), *applicant.identity.values()]:
        assert value not in response.text
    assert await count(app, Case) == 0
    assert await count(app, IdempotencyRecord) == 0


async def test_one_field_of_someone_else_is_enough_to_refuse_and_only_it_is_named(
    submit: Submit, applicant: Applicant, problem: Problem, app: FastAPI
) -> None:
    field, value = sorted(applicant.someone_else.items())[-1]

    response = await submit(applicant.token, applicant.item, {**applicant.form, field: value})

    body = problem(response, 422, "applicant_mismatch")
    assert [error["field"] for error in body["errors"]] == [f"form.{field}"]
    assert await count(app, Case) == 0


# (b) a form that leaves the applicant out --------------------------------------------------


async def test_a_form_that_leaves_the_applicant_out_is_filled_from_the_verified_identity(
    submit: Submit, applicant: Applicant, app: FastAPI
) -> None:
    form = without(applicant.form, *applicant.identity)

    response = await submit(applicant.token, applicant.item, form)

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["form"] == {**form, **applicant.identity}
    assert await stored_form(app, case["case_no"]) == case["form"]


@pytest.mark.parametrize("blank", [None, "", "   "])
async def test_a_blank_applicant_field_is_filled_in_too(
    submit: Submit, applicant: Applicant, blank: str | None
) -> None:
    form = {**applicant.form, **dict.fromkeys(applicant.identity, blank)}

    response = await submit(applicant.token, applicant.item, form)

    assert response.status_code == 201, response.text
    assert response.json()["form"] == {**applicant.form, **applicant.identity}


# (c) a form that names the applicant -------------------------------------------------------


async def test_a_form_in_the_applicants_own_name_is_accepted(
    submit: Submit, applicant: Applicant, app: FastAPI
) -> None:
    response = await submit(applicant.token, applicant.item, applicant.form)

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["form"] == applicant.form
    assert await stored_form(app, case["case_no"]) == applicant.form


async def test_the_applicant_is_compared_as_people_write_it_and_kept_as_verified(
    submit: Submit, catalog: Any, identity: Any, token_minter: Any, app: FastAPI
) -> None:
    """Spaces around, a lower-case check character X, full-width brackets and letters: the
    same identity, kept as identity-svc verified it."""
    chen = token_minter.mint("citizen-chen", loa=2, region=SONGTAI_COMMUNITY)
    assert identity.chen.id_number.endswith("X")
    typed = {
        "name": f" {identity.chen.name} ",
        "id_number": identity.chen.id_number.lower(),
        "contact_phone": "13957700001",
    }
    company = token_minter.mint(identity.haoyu.credit_code, typ="enterprise", loa=2)
    typed_company = {
        "enterprise_name": identity.haoyu.name.replace("（", "(").replace("）", ")"),
        "unified_social_credit_code": identity.haoyu.credit_code.lower(),
        "change": "address",
    }

    person = await submit(chen, catalog.social_card_loss, typed)
    enterprise = await submit(company, catalog.licence_change, typed_company, region="330302")

    assert person.status_code == enterprise.status_code == 201, (person.text, enterprise.text)
    assert person.json()["form"] == {
        **typed,
        "name": identity.chen.name,
        "id_number": identity.chen.id_number,
    }
    assert enterprise.json()["form"] == {
        **typed_company,
        "enterprise_name": identity.haoyu.name,
        "unified_social_credit_code": identity.haoyu.credit_code,
    }


# identity-svc, asked as the caller -----------------------------------------------------------


async def test_identity_svc_is_asked_with_the_callers_own_token_and_only_for_such_forms(
    submit: Submit, applicant: Applicant, catalog: Any, identity: Any, resident: str
) -> None:
    await submit(resident, catalog.fund_withdrawal)  # a form without the applicant's identity
    assert identity.asked == []

    await submit(applicant.token, applicant.item)

    assert identity.asked == [(applicant.sub, applicant.act)]


async def test_a_citizen_without_a_verified_real_name_is_told_to_verify_it(
    submit: Submit, catalog: Any, token_minter: Any, app: FastAPI, problem: Problem
) -> None:
    never_verified = token_minter.mint("citizen-new", loa=2, region=SONGTAI_COMMUNITY)
    form = catalog.form_without_applicant(catalog.social_card_loss)

    response = await submit(never_verified, catalog.social_card_loss, form)

    body = problem(response, 403, "insufficient_assurance")
    assert (body["required_loa"], body["step"]) == (2, "real_name")
    assert await count(app, Case) == 0


async def test_a_token_of_an_account_that_lost_its_real_name_files_nothing_in_that_name(
    submit: Submit,
    catalog: Any,
    identity: Any,
    token_minter: Any,
    app: FastAPI,
    problem: Problem,
) -> None:
    # Issued while the account held her real name; a later face match of hers on another
    # account took it over, and identity-svc, not the token, is the authority on whose it is.
    identity.claimed_only.add("citizen-displaced")
    still_level_2 = token_minter.mint("citizen-displaced", loa=2, region=SONGTAI_COMMUNITY)
    form = catalog.form_without_applicant(catalog.social_card_loss)

    response = await submit(still_level_2, catalog.social_card_loss, form)

    body = problem(response, 403, "insufficient_assurance")
    assert (body["required_loa"], body["step"]) == (2, "face")
    assert await count(app, Case) == 0


async def test_a_token_whose_session_ended_is_refused_as_identity_svc_refuses_it(
    submit: Submit, applicant: Applicant, identity: Any, app: FastAPI, problem: Problem
) -> None:
    # Her real name was taken over from another phone a moment ago; the gateway has not polled
    # the revocation list since, identity-svc (the list's source) has.
    identity.revoked.add(applicant.sub)

    response = await submit(applicant.token, applicant.item, applicant.form)

    problem(response, 401, "token_revoked")
    assert await count(app, Case) == 0


async def test_a_password_only_citizen_is_told_to_verify_before_identity_svc_is_asked(
    submit: Submit, catalog: Any, identity: Any, token_minter: Any, problem: Problem
) -> None:
    password_only = token_minter.mint("citizen-lin", loa=1, region=SONGTAI_COMMUNITY)

    response = await submit(password_only, catalog.social_card_loss)

    body = problem(response, 403, "insufficient_assurance")
    assert body["step"] == "real_name"
    assert identity.asked == []


async def test_identity_svc_failing_is_a_503_and_nothing_is_kept(
    submit: Submit, applicant: Applicant, identity: Any, app: FastAPI, problem: Problem
) -> None:
    identity.failing_with = 500

    response = await submit(applicant.token, applicant.item, applicant.form)

    body = problem(response, 503, "upstream_unavailable")
    assert body["upstream_status"] == 500
    assert await count(app, Case) == 0


async def test_a_form_marking_a_part_its_applicant_cannot_have_is_the_catalogs_fault(
    submit: Submit, catalog: Any, resident: str, problem: Problem, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = catalog.items[catalog.social_card_loss]["form_schema"]
    wrong = {**schema["properties"]["id_number"], "x-applicant": "credit_code"}
    monkeypatch.setitem(schema["properties"], "id_number", wrong)

    response = await submit(resident, catalog.social_card_loss)

    problem(response, 502, "form_schema_unusable")
