"""One-issue applications: filing a bundle once, as one application, and following it.

Filing asks the catalog for the bundle's plan for this applicant (the items that apply to her
answers, each with the department that handles it for her region), checks every child's form
as its own instance will, and only then files anything: the application and its children are
written first, in a transaction of their own, and each child case is filed through the gateway
in the instance of its department's region, with her own token and a key derived from hers, and
recorded as it is filed. So a filing cut short is never half an application:

- **complete**: a child that could not be filed just now (its instance or the gateway out of
  reach, her token expired) leaves the application ``filing`` and answers 503
  ``bundle_application_incomplete`` (401 for the token); the retry with the same
  Idempotency-Key and body files the rest, and the same cases again for those filed before
  (their derived keys replay them);
- **compensate**: a child its department refuses (a documented 4xx after every check passed
  here: the catalog changed in between) withdraws the children filed before it and answers 422
  ``bundle_child_refused`` naming them; the application is ``compensated`` and a retry is told
  so (409). An instant item's case, completed on filing, cannot be withdrawn: the answer lists
  it apart.

The application lives in the instance serving the applicant's region (its number starts with
her county); its progress is read from its children, each where it lives.
"""

import asyncio
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from case_svc.bundles import repository
from case_svc.bundles.schemas import (
    BundleApplicationCreate,
    BundleApplicationPage,
    BundleApplicationRead,
    BundleApplicationSummary,
    BundleChildRead,
    BundleStatus,
    LeftOutRead,
)
from case_svc.cases.service import (
    FiledElsewhere,
    ItemNotAvailable,
    applicant_region_of,
    checked_form,
    routed_by_region,
)
from case_svc.clients import cases as cases_client
from case_svc.clients import catalog
from case_svc.models import BundleApplication, BundleChild
from case_svc.workflow.state_machine import CaseStatus
from servicekit.auth import Principal, TokenExpired, TokenRevoked, require_type
from servicekit.idempotency import IdempotencyKeyReused
from servicekit.pagination import Cursors
from servicekit.problems import (
    Conflict,
    DomainError,
    NotFound,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.regions import RegionCode, RegionLevel
from servicekit.working_days import local_date

FILING, FILED, COMPENSATED = "filing", "filed", "compensated"
_ENDED = frozenset(
    {CaseStatus.COMPLETED, CaseStatus.DENIED, CaseStatus.NOT_ACCEPTED, CaseStatus.WITHDRAWN}
)

_NUMBER = {"type": "string", "examples": ["330302-B20261207-3f9a0c1b5e27"]}
_CASE_NUMBERS = {
    "type": "array",
    "items": {"type": "string"},
    "examples": [["330302-20261207-000003"]],
}


class NothingApplies(DomainError):
    status = 422
    code = "bundle_nothing_applies"
    title = "No item of this bundle applies to this applicant"
    members = extension_members(bundle_code={"type": "string", "examples": ["birth"]})


class BundleApplicationIncomplete(DomainError):
    status = 503
    code = "bundle_application_incomplete"
    title = "Part of the application is filed: retry with the same Idempotency-Key and body"
    members = extension_members(
        application_no=_NUMBER,
        filed={"type": "integer", "description": "Children filed so far", "examples": [2]},
        children={"type": "integer", "examples": [4]},
    )


class BundleChildRefused(DomainError):
    status = 422
    code = "bundle_child_refused"
    title = "A department refused its part; the parts filed before it were withdrawn"
    members = extension_members(
        application_no=_NUMBER,
        item_code={"type": "string", "examples": ["medical_security.maternity_allowance"]},
        child_problem={
            "type": "string",
            "description": "The code of the problem the child's filing was refused with",
            "examples": ["form_invalid"],
        },
        withdrawn=_CASE_NUMBERS,
        not_withdrawn={
            **_CASE_NUMBERS,
            "description": "Filed children that could not be withdrawn (an instant item's "
            "case is completed on filing)",
        },
    )


class BundleApplicationCompensated(Conflict):
    code = "bundle_application_compensated"
    title = "This application was refused in part and withdrawn: file it anew"
    members = extension_members(application_no=_NUMBER)


class BundleApplicationNotFound(NotFound):
    code = "bundle_application_not_found"
    title = "No such one-issue application of yours"


def home_region(region: RegionCode) -> RegionCode:
    """Where her applications live: her county (or her region, above one)."""
    return region.at_level(RegionLevel.COUNTY) if region.level >= RegionLevel.COUNTY else region


def _digest(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()


def child_key(key: str, item_code: str) -> str:
    """The Idempotency-Key a child is filed with: one per (her key, item)."""
    return "bundle-" + hashlib.sha256(f"{key}\x00{item_code}".encode()).hexdigest()[:40]


def child_form(form: dict[str, Any], item: catalog.CatalogItem) -> dict[str, Any]:
    """The merged form's fields that the item's own form asks."""
    properties = item.form_schema.get("properties", {})
    return {name: value for name, value in form.items() if name in properties}


def _new_number(home: RegionCode, now: dt.datetime) -> str:
    # Random, not counted: the number tells nothing of other applications.
    return f"{home.official}-B{local_date(now).strftime('%Y%m%d')}-{secrets.token_hex(6)}"


async def file_application(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    catalog_reads: catalog.CatalogReads,
    principal: Principal,
    payload: BundleApplicationCreate,
    key: str,
    digest_key: bytes,
    routed_by: str | None,
    passed_on: tuple[type[DomainError], ...],
    now: dt.datetime,
) -> BundleApplicationRead | FiledElsewhere:
    """File the bundle for the verified applicant, or resume the filing this key began; or,
    unless the gateway routed the request to the instance of her region (``routed_by``), the
    answer is to file it there. Every write commits on its own (``sessionmaker``): what is
    filed stays recorded even when the request then fails."""
    require_type(principal, "citizen", "enterprise")
    region = applicant_region_of(principal, payload.applicant_region)
    home = home_region(region)
    if not routed_by_region(routed_by, home):
        return FiledElsewhere(home.official)
    request_key = _digest(digest_key, principal.sub, key)
    body = orjson.dumps(payload.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS).decode()
    request_digest = _digest(digest_key, body)
    async with sessionmaker() as session:
        application = await repository.by_request_key(session, request_key)
    if application is not None:
        if application.request_digest != request_digest:
            raise IdempotencyKeyReused("this key began the filing of another application")
        if application.status == COMPENSATED:
            raise BundleApplicationCompensated(application_no=application.application_no)
    else:
        plan = await catalog.plan_bundle(http, payload.bundle_code, region, payload.form)
        if not plan.applying:
            raise NothingApplies(bundle_code=payload.bundle_code)
        for planned in plan.applying:  # every child as its instance will check it, first
            item = await catalog_reads.item(http, planned.item_code)
            if not item.published:
                raise ItemNotAvailable(f"{item.code} is {item.status}", item_status=item.status)
            await checked_form(http, principal, item, child_form(payload.form, item))
        application = new_application(
            plan, principal, home, request_key=request_key, request_digest=request_digest, now=now
        )
        async with sessionmaker.begin() as session:
            session.add(application)

    async def file_child(child: BundleChild) -> dict[str, Any]:
        item = await catalog_reads.item(http, child.item_code)
        filing = {
            "item_code": child.item_code,
            "form": child_form(payload.form, item),
            "applicant_region": region.official,
        }
        filed = await cases_client.file_where_it_belongs(
            http,
            token=principal.token,
            body=filing,
            key_header=child_key(key, child.item_code),
            region_code=child.department_region,
            passed_on=passed_on,
        )
        case: dict[str, Any] = filed.json()
        return case

    return await file_children(sessionmaker, http, principal, application, file_child, now=now)


#: Files one child, answering its case as the instance that filed it answered it.
FileChild = Callable[[BundleChild], Awaitable[dict[str, Any]]]


async def file_children(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    principal: Principal,
    application: BundleApplication,
    file_child: FileChild,
    *,
    now: dt.datetime,
) -> BundleApplicationRead:
    """File the children not filed yet, in order, each recorded as it is; then the application
    is filed. A child out of reach leaves it filing (503); a child refused compensates."""
    progress: dict[int, tuple[str | None, dt.datetime | None]] = {}
    for child in application.children:
        if child.case_no is not None:
            continue
        try:
            case = await file_child(child)
        except UpstreamUnavailable as exc:
            raise BundleApplicationIncomplete(
                f"{child.item_code} could not be filed just now",
                application_no=application.application_no,
                filed=sum(other.case_no is not None for other in application.children),
                children=len(application.children),
            ) from exc
        except (TokenExpired, TokenRevoked):
            raise  # her token, not the application: a retry with a fresh one files the rest
        except DomainError as refused:
            raise await _compensate(
                sessionmaker, http, principal, application, child, refused, now=now
            ) from refused
        async with sessionmaker.begin() as session:
            await repository.record_filed(session, application.id, child.seq, case["case_no"], now)
        child.case_no = case["case_no"]
        if "status" in case:  # else read back below
            progress[child.seq] = (case["status"], _when(case.get("due_at")))
    async with sessionmaker.begin() as session:
        await repository.set_status(session, application.id, FILED, now)
    application.status = FILED
    missing = [child for child in application.children if child.seq not in progress]
    progress.update(await _read_children(http, principal.token, missing))
    return application_view(application, progress)


def new_application(
    plan: catalog.BundlePlan,
    principal: Principal,
    home: RegionCode,
    *,
    request_key: str,
    request_digest: str,
    now: dt.datetime,
) -> BundleApplication:
    return BundleApplication(
        application_no=_new_number(home, now),
        bundle_code=plan.bundle_code,
        bundle_name=plan.bundle_name,
        applicant_id=principal.sub,
        applicant_type=principal.typ,
        applicant_region=home.official,
        request_key=request_key,
        request_digest=request_digest,
        status=FILING,
        left_out=[
            {"item_code": left.item_code, "item_name": left.item_name, "reason": left.reason}
            for left in plan.left_out
        ],
        created_at=now,
        updated_at=now,
        children=[
            BundleChild(
                seq=seq,
                item_code=planned.item_code,
                item_name=planned.item_name,
                department_id=planned.department.id,
                department_name=planned.department.name,
                department_tier=planned.department.tier,
                department_region=planned.department.region_code.official,
            )
            for seq, planned in enumerate(plan.applying, start=1)
        ],
    )


async def _compensate(
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    principal: Principal,
    application: BundleApplication,
    refused_child: BundleChild,
    refused: DomainError,
    *,
    now: dt.datetime,
) -> BundleChildRefused:
    """Withdraw the children filed before the refused one; the application is compensated."""
    withdrawn: list[str] = []
    not_withdrawn: list[str] = []
    for child in application.children:
        if child.case_no is None:
            continue
        if await _withdraw(http, principal.token, child.case_no):
            withdrawn.append(child.case_no)
            async with sessionmaker.begin() as session:
                await repository.record_withdrawn(session, application.id, child.seq, now)
        else:
            not_withdrawn.append(child.case_no)
    async with sessionmaker.begin() as session:
        await repository.set_status(session, application.id, COMPENSATED, now)
    return BundleChildRefused(
        f"{refused_child.item_code}: {refused.detail or refused.title}",
        application_no=application.application_no,
        item_code=refused_child.item_code,
        child_problem=refused.code,
        withdrawn=withdrawn,
        not_withdrawn=not_withdrawn,
    )


async def _withdraw(http: httpx.AsyncClient, token: str, case_no: str) -> bool:
    """Withdraw her case as she would (through the gateway, at its version): whether it is."""
    auth = {"Authorization": f"Bearer {token}"}
    path = f"{cases_client.CASES_PATH}/{case_no}"
    try:
        read = await http.get(path, headers=auth)
        if read.status_code != 200:
            return False
        answer = await http.post(
            f"{path}/transitions",
            json={"action": "withdraw"},
            headers={**auth, "If-Match": read.headers.get("etag", "")},
        )
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def _when(value: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


async def _read_children(
    http: httpx.AsyncClient, token: str, children: list[BundleChild]
) -> dict[int, tuple[str | None, dt.datetime | None]]:
    """Each filed child's status and due time, read where it lives (at once); (None, None)
    for one whose instance could not be read just now."""

    async def read(case_no: str) -> tuple[str | None, dt.datetime | None]:
        try:
            answer = await http.get(
                f"{cases_client.CASES_PATH}/{case_no}",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError:
            return None, None
        if answer.status_code != 200:
            return None, None
        case = answer.json()
        return case.get("status"), _when(case.get("due_at"))

    filed = [child for child in children if child.case_no is not None]
    read_back = await asyncio.gather(*(read(child.case_no or "") for child in filed))
    return {child.seq: seen for child, seen in zip(filed, read_back, strict=True)}


def progress_of(stored: str, statuses: list[str | None]) -> BundleStatus:
    """Where the application stands: its filing until filed, then its children's statuses."""
    if stored == FILING:
        return "filing"
    if stored == COMPENSATED:
        return "compensated"
    if statuses and all(status == CaseStatus.COMPLETED for status in statuses):
        return "completed"
    if statuses and all(status in _ENDED for status in statuses):
        return "concluded"
    if CaseStatus.SUPPLEMENT_REQUESTED in statuses:
        return "action_needed"
    return "in_progress"


def application_view(
    application: BundleApplication,
    progress: dict[int, tuple[str | None, dt.datetime | None]],
) -> BundleApplicationRead:
    children = [
        BundleChildRead(
            item_code=child.item_code,
            item_name=child.item_name,
            department_id=child.department_id,
            department_name=child.department_name,
            department_tier=child.department_tier,
            case_no=child.case_no,
            status=progress.get(child.seq, (None, None))[0],
            due_at=progress.get(child.seq, (None, None))[1],
        )
        for child in application.children
    ]
    return BundleApplicationRead(
        application_no=application.application_no,
        bundle_code=application.bundle_code,
        bundle_name=application.bundle_name,
        status=progress_of(application.status, [child.status for child in children]),
        children=children,
        left_out=[LeftOutRead.model_validate(left) for left in application.left_out],
        created_at=application.created_at,
    )


def visible_to(principal: Principal, application: BundleApplication) -> bool:
    """Hers; a delegate's when every part of it is an item the delegation covers (none listed:
    all of them)."""
    if application.applicant_id != principal.sub:
        return False
    if principal.act is None or not principal.scope:
        return True
    return all(child.item_code in principal.scope for child in application.children)


async def application_of(
    session: AsyncSession, http: httpx.AsyncClient, principal: Principal, application_no: str
) -> BundleApplicationRead:
    """Her application, with each child's progress read where it lives. Anyone else's, or
    none, is 404 alike."""
    require_type(principal, "citizen", "enterprise")
    application = await repository.by_number(session, application_no)
    if application is None or not visible_to(principal, application):
        raise BundleApplicationNotFound()
    progress = await _read_children(http, principal.token, list(application.children))
    return application_view(application, progress)


async def applications_of(
    session: AsyncSession,
    principal: Principal,
    *,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> BundleApplicationPage:
    """Her applications in this instance, newest first (the gateway merges the instances')."""
    require_type(principal, "citizen", "enterprise")
    context = f"bundle-applications:{principal.sub}"
    position = cursors.decode_optional(context, cursor)
    before = None
    if position is not None:
        before = (dt.datetime.fromisoformat(position["at"]), str(position["no"]))
    rows = await repository.of_applicant(session, principal.sub, before=before, limit=limit + 1)
    page = rows[:limit]
    if principal.act is not None and principal.scope:  # a delegate sees what he was given
        shown = set(
            await repository.within_items(session, [row[0].id for row in page], principal.scope)
        )
    else:
        shown = {row[0].id for row in page}
    next_cursor = None
    if len(rows) > limit:
        last = page[-1][0]
        next_cursor = cursors.encode(
            context, {"at": last.created_at.isoformat(), "no": last.application_no}
        )
    return BundleApplicationPage(
        items=[
            BundleApplicationSummary.model_validate(
                {
                    "application_no": application.application_no,
                    "bundle_code": application.bundle_code,
                    "bundle_name": application.bundle_name,
                    "status": application.status,
                    "children": children,
                    "created_at": application.created_at,
                }
            )
            for application, children in page
            if application.id in shown
        ],
        next_cursor=next_cursor,
    )
