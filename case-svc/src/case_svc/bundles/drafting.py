"""Bundle drafts: a one-issue bundle filled in by the platform before she files it, so that she
types nothing the government already holds.

A bundle draft is a one-issue application (``status`` ``draft``, its number the one the
application keeps) whose children are draft applications (``case_svc.drafts``): one per item
that applies to her answers, each opened through the gateway in the instance of its department's
region, filled there from her verified identity and, on her consent to that department for that
draft, from the registries, each value with its provenance. The bundle draft shows them merged,
each field once, and every consent that would fill more (``consents_to_fill``); filling again,
correcting (each child takes the fields its item's form has) and submitting act on every child.
Submitting files each child draft as its case, in order, as a bundle is filed: completed by the
retry (a child already filed answers its case again), compensated when a department refuses.
"""

import datetime as dt
import secrets
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_svc.bundles import repository
from case_svc.bundles.schemas import BundleApplicationRead, BundleDraftCreate, BundleDraftRead
from case_svc.bundles.service import (
    COMPENSATED,
    FILING,
    BundleApplicationCompensated,
    BundleApplicationNotFound,
    NothingApplies,
    child_form,
    child_key,
    file_children,
    home_region,
    new_application,
    visible_to,
)
from case_svc.cases.service import (
    FiledElsewhere,
    applicant_region_of,
    checked_form,
    routed_by_region,
)
from case_svc.clients import cases as cases_client
from case_svc.clients import catalog
from case_svc.drafts.service import DelegateNotAllowed, DraftFiled, UnknownFormField
from case_svc.models import BundleApplication, BundleChild
from servicekit.auth import Principal, require_type
from servicekit.http import raise_for_problem
from servicekit.problems import Conflict, DomainError, UpstreamUnavailable, extension_members

DRAFT = "draft"
DRAFTS_PATH = "/cases/v1/drafts"


class BundleDraftSubmitted(Conflict):
    code = "bundle_draft_submitted"
    title = "This bundle draft was submitted: follow it as an application"
    members = extension_members(
        application_no={"type": "string", "examples": ["330302-B20261207-3f9a0c1b5e27"]}
    )


async def open_bundle_draft(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    principal: Principal,
    payload: BundleDraftCreate,
    routed_by: str | None,
    passed_on: tuple[type[DomainError], ...],
    now: dt.datetime,
) -> BundleDraftRead | FiledElsewhere:
    """Open a draft of each item that applies to her answers, where its department's instance
    keeps it, and the bundle draft over them, where her county's instance keeps it."""
    _require_herself(principal)
    region = applicant_region_of(principal, payload.applicant_region)
    home = home_region(region)
    if not routed_by_region(routed_by, home):
        return FiledElsewhere(home.official)
    plan = await catalog.plan_bundle(http, payload.bundle_code, region, payload.answers)
    if not plan.applying:
        raise NothingApplies(bundle_code=payload.bundle_code)
    application = new_application(
        plan, principal, home, request_key=secrets.token_hex(32), request_digest="", now=now
    )
    application.status = DRAFT
    drafts: dict[int, dict[str, Any]] = {}
    for child in application.children:
        opened = await cases_client.file_where_it_belongs(
            http,
            token=principal.token,
            body={"item_code": child.item_code, "applicant_region": region.official},
            key_header=None,
            region_code=child.department_region,
            passed_on=passed_on,
            path=DRAFTS_PATH,
        )
        drafts[child.seq] = opened.json()
        child.draft_no = drafts[child.seq]["draft_no"]
    async with sessionmaker.begin() as session:
        session.add(application)
    return merged_view(application, drafts)


def _require_herself(principal: Principal) -> None:
    """A draft is filled with her consent to her data: hers to open, fill and file alone."""
    require_type(principal, "citizen")
    if principal.act is not None:
        raise DelegateNotAllowed("a delegate neither opens nor reads her draft")


async def _own_draft(
    session: AsyncSession, principal: Principal, application_no: str
) -> BundleApplication:
    _require_herself(principal)
    application = await repository.by_number(session, application_no)
    if application is None or not visible_to(principal, application):
        raise BundleApplicationNotFound()
    if application.status != DRAFT:
        raise BundleDraftSubmitted(application_no=application.application_no)
    return application


async def _each_child(
    http: httpx.AsyncClient,
    principal: Principal,
    application: BundleApplication,
    method: str,
    tail: str = "",
    bodies: dict[int, dict[str, Any]] | None = None,
) -> dict[int, dict[str, Any]]:
    """Every child draft's answer to the same request (its own body, when ``bodies`` gives
    one), asked where it lives with her token."""
    answers: dict[int, dict[str, Any]] = {}
    for child in application.children:
        body = None if bodies is None else bodies.get(child.seq)
        if bodies is not None and body is None:
            continue  # nothing of this child's
        try:
            response = await http.request(
                method,
                f"{DRAFTS_PATH}/{child.draft_no}{tail}",
                json=body,
                headers={"Authorization": f"Bearer {principal.token}"},
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the case-svc of a child draft could not be reached") from exc
        raise_for_problem(response, upstream="case-svc", passed_on=(UnknownFormField,))
        answers[child.seq] = response.json()
    return answers


async def read_bundle_draft(
    session: AsyncSession, http: httpx.AsyncClient, principal: Principal, application_no: str
) -> BundleDraftRead:
    application = await _own_draft(session, principal, application_no)
    return merged_view(application, await _each_child(http, principal, application, "GET"))


async def fill_again(
    session: AsyncSession, http: httpx.AsyncClient, principal: Principal, application_no: str
) -> BundleDraftRead:
    """Every child filled again: what her consents now let the registries fill."""
    application = await _own_draft(session, principal, application_no)
    filled = await _each_child(http, principal, application, "POST", "/prefill")
    return merged_view(application, filled)


async def correct(
    session: AsyncSession,
    http: httpx.AsyncClient,
    catalog_reads: catalog.CatalogReads,
    principal: Principal,
    application_no: str,
    values: dict[str, Any],
) -> BundleDraftRead:
    """Her typed values, each to every child whose item's form has the field; a field no child
    has is refused before any child is changed."""
    application = await _own_draft(session, principal, application_no)
    bodies: dict[int, dict[str, Any]] = {}
    known: set[str] = set()
    for child in application.children:
        item = await catalog_reads.item(http, child.item_code)
        own = child_form(values, item)
        known.update(own)
        if own:
            bodies[child.seq] = {"form": own}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UnknownFormField(
            errors=[
                {"field": f"form.{name}", "message": "no such field", "type": "unknown_field"}
                for name in unknown
            ]
        )
    await _each_child(http, principal, application, "PATCH", bodies=bodies)
    return merged_view(application, await _each_child(http, principal, application, "GET"))


async def submit(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    catalog_reads: catalog.CatalogReads,
    principal: Principal,
    application_no: str,
    key: str,
    passed_on: tuple[type[DomainError], ...],
    now: dt.datetime,
) -> BundleApplicationRead:
    """Each child draft submitted as its case, as a bundle is filed; a retry (any key) files
    the rest: a child draft already submitted answers its case.

    Every child's form is checked first, as its instance will check it: one that still lacks
    what she must type refuses the submission (422) before anything is filed, and the draft
    stays open for her to complete."""
    _require_herself(principal)
    async with sessionmaker() as session:
        application = await repository.by_number(session, application_no)
    if application is None or not visible_to(principal, application):
        raise BundleApplicationNotFound()
    if application.status == COMPENSATED:
        raise BundleApplicationCompensated(application_no=application.application_no)
    if application.status not in (DRAFT, FILING):
        raise BundleDraftSubmitted(application_no=application.application_no)
    if application.status == DRAFT:
        drafts = await _each_child(http, principal, application, "GET")
        for child in application.children:
            item = await catalog_reads.item(http, child.item_code)
            await checked_form(http, principal, item, drafts[child.seq]["form"])
        async with sessionmaker.begin() as session:
            await repository.set_status(session, application.id, FILING, now)
        application.status = FILING
    auth = {"Authorization": f"Bearer {principal.token}"}

    async def file_child(child: BundleChild) -> dict[str, Any]:
        headers = {**auth, "Idempotency-Key": child_key(key, child.item_code)}
        try:
            response = await http.post(
                f"{DRAFTS_PATH}/{child.draft_no}/submission", headers=headers
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable("the case-svc of a child draft could not be reached") from exc
        try:
            raise_for_problem(response, upstream="case-svc", passed_on=(DraftFiled, *passed_on))
        except DraftFiled as filed:  # submitted by an earlier try: its case
            return {"case_no": filed.extensions["case_no"]}
        case: dict[str, Any] = response.json()
        return case

    return await file_children(sessionmaker, http, principal, application, file_child, now=now)


def merged_view(
    application: BundleApplication, drafts: dict[int, dict[str, Any]]
) -> BundleDraftRead:
    """The children's drafts as one form: each field once (the first child that has it filled
    gives its value and provenance), every consent that would fill more once."""
    form: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    consents: list[dict[str, Any]] = []
    children = []
    for child in application.children:
        draft = drafts.get(child.seq, {})
        for field, value in draft.get("form", {}).items():
            if field not in provenance:
                form[field] = value
                provenance[field] = {
                    **draft.get("provenance", {}).get(field, {}),
                    "item_code": child.item_code,
                }
        for ask in draft.get("consents_to_fill", []):
            if ask not in consents:
                consents.append(ask)
        children.append(
            {
                "item_code": child.item_code,
                "item_name": child.item_name,
                "department_id": child.department_id,
                "department_name": child.department_name,
                "department_tier": child.department_tier,
                "draft_no": child.draft_no,
            }
        )
    return BundleDraftRead.model_validate(
        {
            "application_no": application.application_no,
            "bundle_code": application.bundle_code,
            "bundle_name": application.bundle_name,
            "children": children,
            "form": form,
            "provenance": provenance,
            "consents_to_fill": consents,
            "left_out": application.left_out,
            "created_at": application.created_at,
        }
    )
