"""The rules of a draft application: who opens it and where it lives, what the platform fills
in and with what provenance, what she may correct, and how it becomes the case.

Where: like the case it becomes, a draft lives in the instance serving its handling
department's region (the catalog's handler of the item for her region), and its number starts
with that region, so that the gateway routes it there; opened elsewhere, it is opened there.

What is filled: the fields marked ``x-applicant`` from the identity identity-svc verified for
her token (locked: she cannot change them, and they are filled again at submission); the fields
marked ``x-prefill`` with a data resource by reading it through the exchange with case-svc's
own token, purpose ``case_prefill``, naming the draft as the case and the handling department
as the one case-svc reads for. The exchange lets such a read through only on her live consent
to that department for that draft, resource, purpose and fields, and shows the read in her
access log as that department's. Until she consents, the draft lists the consents that would
fill the rest (``consents_to_fill``), one per resource, for the app to ask in one step.

Nothing personal is logged; the form and its provenance are sealed at rest, as a case's are.
Services never commit: the request's transaction does.
"""

import asyncio
import datetime as dt
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc import events
from case_svc.cases import applicant
from case_svc.cases.forms import validate_form
from case_svc.cases.schemas import CaseRead, ConsentBasis, FieldProvenance
from case_svc.cases.service import (
    FiledElsewhere,
    ItemNotAvailable,
    applicant_region_of,
    case_view,
    check_applicant,
    file_case,
    routed_by_region,
)
from case_svc.clients import catalog, exchange, identity
from case_svc.clients.exchange import PrefillRefused, ServiceToken
from case_svc.drafts import repository
from case_svc.drafts.schemas import ConsentToFill, DraftCreate, DraftRead
from case_svc.models import Draft
from case_svc.workflow.deadlines import local_date
from case_svc.workflow.state_machine import Role
from servicekit.auth import Principal, require_assurance, require_type
from servicekit.events import Outbox
from servicekit.problems import (
    FIELD_ERRORS,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.regions import RegionCode

PREFILL_KEYWORD = "x-prefill"
#: A draft being filled in; one that became a case.
OPEN, FILED = "draft", "filed"


class DraftNotFound(NotFound):
    code = "draft_application_not_found"
    title = "No such draft application of yours"


class DraftFiled(Conflict):
    code = "draft_filed"
    title = "The draft application was already submitted: it is a case now"
    members = extension_members(
        case_no={
            "type": "string",
            "description": "The case it became",
            "examples": ["330300-20261207-000001"],
        }
    )


class IdentityFieldLocked(DomainError):
    status = 422
    code = "identity_field_locked"
    title = "The applicant's identity fields hold her verified identity: they cannot be changed"
    members = extension_members(
        fields={"type": "array", "items": {"type": "string"}, "examples": [["id_number"]]}
    )


class UnknownFormField(DomainError):
    status = 422
    code = "unknown_form_field"
    title = "The item's form has no such field"
    members = extension_members(
        errors={
            **FIELD_ERRORS,
            "examples": [
                [{"field": "form.nickname", "message": "no such field", "type": "unknown_field"}]
            ],
        }
    )


class DelegateNotAllowed(Forbidden):
    code = "delegate_not_allowed"
    # The exchange's title for the same code (a draft's pre-fill rests on her consent; a
    # delegate files with POST /cases/v1/cases).
    title = "Only the citizen herself does this: a delegate cannot give her consent for her"


class HandlingDepartmentChanged(Conflict):
    code = "handling_department_changed"
    title = (
        "The catalog now names another handling department for this item: open a new draft "
        "(her consents named the old one)"
    )


#: Registry fields that are the applicant's own identity, wherever a form binds them (a
#: driving licence's number is its holder's ID number): filled from her verified identity, as
#: her identity fields are, never read from the registry.
IDENTITY_BINDINGS = {("population", "name"): "name", ("population", "id_number"): "id_number"}


@dataclass(frozen=True, slots=True)
class Binding:
    """A form field the platform fills from a data resource's field."""

    form_field: str
    resource: str
    resource_field: str


def prefill_bindings(schema: Mapping[str, Any]) -> list[Binding]:
    """The form's fields marked ``x-prefill`` that are not the applicant's identity (those come
    from her verified identity, never from a read)."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    bindings = []
    for name, definition in properties.items():
        if not isinstance(definition, Mapping) or applicant.APPLICANT_KEYWORD in definition:
            continue
        source = definition.get(PREFILL_KEYWORD)
        if (
            isinstance(source, Mapping)
            and isinstance(source.get("resource"), str)
            and isinstance(source.get("field"), str)
        ):
            bindings.append(Binding(name, source["resource"], source["field"]))
    return bindings


def _new_draft_no(department_region: str, now: dt.datetime) -> str:
    # Random, not counted: most drafts are never filed, and the number tells nothing of others.
    return f"{department_region}-D{local_date(now).strftime('%Y%m%d')}-{secrets.token_hex(6)}"


def _require_citizen_applicant(principal: Principal) -> None:
    require_type(principal, "citizen")
    _require_herself(principal)
    require_assurance(principal, applicant.MIN_LOA)


def _require_herself(principal: Principal) -> None:
    # A draft's pre-fill rests on her own consent, which a delegate cannot give for her.
    if principal.act is not None:
        raise DelegateNotAllowed()


async def open_draft(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    payload: DraftCreate,
    now: dt.datetime,
    routed_by: str | None,
    catalog_reads: catalog.CatalogReads,
    service_token: ServiceToken | None,
) -> DraftRead | FiledElsewhere:
    """Open a draft application of hers for the item, filled in as far as the platform can
    (see the module's docstring), in the instance of its handling department's region."""
    _require_citizen_applicant(principal)
    item = await catalog_reads.item(http, payload.item_code)
    if not item.published:
        raise ItemNotAvailable(f"{item.code} is {item.status}", item_status=item.status)
    check_applicant(principal, item)
    region = applicant_region_of(principal, payload.applicant_region)
    handler = await catalog_reads.handler(http, item.code, region)
    department = handler.department
    if not routed_by_region(routed_by, department.region_code):
        return FiledElsewhere(department.region_code.official)
    draft = Draft(
        draft_no=_new_draft_no(department.region_code.official, now),
        item_code=item.code,
        item_name=item.name,
        item_version=str(item.version),
        applicant_id=principal.sub,
        applicant_type=principal.typ,
        applicant_region=region.official,
        department_id=department.id,
        department_name=department.name,
        region_code=department.region_code.official,
        form={},
        provenance={},
        status=OPEN,
        created_at=now,
        updated_at=now,
    )
    await _fill(http, principal, item, draft, now=now, service_token=service_token)
    await repository.add(session, draft)
    return draft_view(draft, item.form_schema)


async def _fill(
    http: httpx.AsyncClient,
    principal: Principal,
    item: catalog.CatalogItem,
    draft: Draft,
    *,
    now: dt.datetime,
    service_token: ServiceToken | None,
) -> None:
    """Fill her identity's fields, then every bound field she has not typed and the exchange
    lets case-svc read (a refusal leaves the field for her consent or her typing)."""
    form = dict(draft.form)
    provenance = dict(draft.provenance)
    verified = await identity.verified_identity(http, token=principal.token)
    identity_fields = applicant.applicant_fields(item.form_schema, subject=item.subject)
    parts = verified.parts()
    for field, part in identity_fields.items():
        value = parts.get(part)
        if value is None:
            raise UpstreamUnavailable(f"identity-svc told no {part} of the applicant")
        form[field] = value
        provenance[field] = _entry(source="verified_identity", locked=True, at=now)
    subject = verified.registry_subject()
    wanted: dict[str, list[Binding]] = {}
    for binding in prefill_bindings(item.form_schema):
        if binding.form_field in provenance:
            continue
        own = parts.get(IDENTITY_BINDINGS.get((binding.resource, binding.resource_field), ""))
        if own is not None:
            form[binding.form_field] = own
            provenance[binding.form_field] = _entry(
                source="verified_identity", locked=False, at=now
            )
            continue
        wanted.setdefault(binding.resource, []).append(binding)
    if wanted:
        if subject is None or service_token is None:
            raise UpstreamUnavailable("case-svc cannot ask the exchange for her data")
        await _read_bound(
            http,
            draft,
            wanted,
            subject=subject,
            service_token=service_token,
            form=form,
            provenance=provenance,
            now=now,
        )
    draft.form = form
    draft.provenance = provenance
    draft.updated_at = now


async def _read_bound(
    http: httpx.AsyncClient,
    draft: Draft,
    wanted: Mapping[str, list[Binding]],
    *,
    subject: dict[str, str],
    service_token: ServiceToken,
    form: dict[str, Any],
    provenance: dict[str, Any],
    now: dt.datetime,
) -> None:
    """One read per resource, the resources' reads at once (each is a call through the gateway,
    and nothing of one waits on another); their values into ``form`` and their provenance into
    ``provenance`` in the form's order, as if read one after the other. A refusal leaves that
    resource's fields unfilled; any other failure fails the fill, the first in the form's order
    (once every read has answered: none is left running)."""
    reads = await asyncio.gather(
        *(
            exchange.prefill_read(
                http,
                token=service_token,
                subject=subject,
                resource=resource,
                fields=list(dict.fromkeys(binding.resource_field for binding in bindings)),
                draft_no=draft.draft_no,
                department_id=draft.department_id,
            )
            for resource, bindings in wanted.items()
        ),
        return_exceptions=True,
    )
    for (resource, bindings), read in zip(wanted.items(), reads, strict=True):
        if isinstance(read, PrefillRefused):
            continue
        if isinstance(read, BaseException):
            raise read
        for binding in bindings:
            value = read.fields.get(binding.resource_field)
            # A many-row resource answers lists: one record (her only child's birth) fills the
            # field; several (two children) leave it to her.
            if isinstance(value, list):
                value = value[0] if len(value) == 1 else None
            if value is None:
                continue
            form[binding.form_field] = value
            provenance[binding.form_field] = _entry(
                source="data_resource",
                at=now,
                resource=resource,
                resource_field=binding.resource_field,
                provider_department_type=read.provider_department_type,
                call_id=read.call_id,
                receipt=read.receipt,
                source_time=read.source_timestamp,
                consent=ConsentBasis(
                    consumer=draft.department_id,
                    purpose=exchange.PREFILL_PURPOSE,
                    case_id=draft.draft_no,
                    consent_ids=read.consents,
                ).model_dump(),
            )


def _entry(**values: Any) -> dict[str, Any]:
    entry = FieldProvenance.model_validate(values)
    return entry.model_dump(mode="json", exclude_none=True)


async def _own_draft(
    session: AsyncSession, principal: Principal, draft_no: str, *, for_update: bool = False
) -> Draft:
    """Her draft; anyone else's is as absent as a missing one. ``for_update``: locked until the
    request's transaction ends, so that two changes at once (two devices, a fill and a
    correction) each merge into what the other wrote rather than write over it."""
    _require_herself(principal)
    draft = await repository.by_number(session, draft_no, for_update=for_update)
    if draft is None or draft.applicant_id != principal.sub or principal.typ != "citizen":
        raise DraftNotFound()
    return draft


def _require_open(draft: Draft) -> None:
    if draft.status != OPEN:
        raise DraftFiled(case_no=draft.case_no)


async def read_draft(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    draft_no: str,
    catalog_reads: catalog.CatalogReads,
) -> DraftRead:
    """Her draft as it stands: reading it reads nothing from the exchange (the exchange itself
    asks for it when she consents)."""
    draft = await _own_draft(session, principal, draft_no)
    item = await catalog_reads.item(http, draft.item_code)
    return draft_view(draft, item.form_schema)


async def fill_again(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    draft_no: str,
    now: dt.datetime,
    catalog_reads: catalog.CatalogReads,
    service_token: ServiceToken | None,
) -> DraftRead:
    """Fill what the platform can now (after she consented): typed values stay hers."""
    _require_citizen_applicant(principal)
    draft = await _own_draft(session, principal, draft_no, for_update=True)
    _require_open(draft)
    item = await catalog_reads.item(http, draft.item_code)
    await _fill(http, principal, item, draft, now=now, service_token=service_token)
    return draft_view(draft, item.form_schema)


async def correct(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    draft_no: str,
    values: Mapping[str, Any],
    now: dt.datetime,
    catalog_reads: catalog.CatalogReads,
) -> DraftRead:
    """Set the fields she types or corrects (None clears one), each marked typed; her
    identity's fields are refused (``IdentityFieldLocked``), unknown ones too."""
    draft = await _own_draft(session, principal, draft_no, for_update=True)
    _require_open(draft)
    item = await catalog_reads.item(http, draft.item_code)
    locked = sorted(
        set(values) & set(applicant.applicant_fields(item.form_schema, subject=item.subject))
    )
    if locked:
        raise IdentityFieldLocked(fields=locked)
    properties = item.form_schema.get("properties")
    known = set(properties) if isinstance(properties, Mapping) else set()
    unknown = sorted(set(values) - known)
    if unknown:
        raise UnknownFormField(
            ", ".join(unknown),
            errors=[
                {"field": f"form.{name}", "message": "no such field", "type": "unknown_field"}
                for name in unknown
            ],
        )
    form = dict(draft.form)
    provenance = dict(draft.provenance)
    for name, value in values.items():
        if value is None:
            form.pop(name, None)
            provenance.pop(name, None)
        else:
            form[name] = value
            provenance[name] = _entry(source="typed", at=now)
    draft.form = form
    draft.provenance = provenance
    draft.updated_at = now
    return draft_view(draft, item.form_schema)


async def submit_draft(
    *,
    session: AsyncSession,
    http: httpx.AsyncClient,
    principal: Principal,
    draft_no: str,
    now: dt.datetime,
    claim_idle: dt.timedelta,
    outbox: Outbox,
    catalog_reads: catalog.CatalogReads,
) -> CaseRead:
    """File the draft as her case, in this instance (the draft's own): its form checked as any
    application's, her identity's fields filled again from her verified identity, and each
    field's provenance kept with the case."""
    _require_citizen_applicant(principal)
    draft = await repository.by_number(session, draft_no, for_update=True)
    if draft is None or draft.applicant_id != principal.sub or principal.typ != "citizen":
        raise DraftNotFound()
    _require_open(draft)
    item = await catalog_reads.item(http, draft.item_code)
    if not item.published:
        raise ItemNotAvailable(f"{item.code} is {item.status}", item_status=item.status)
    check_applicant(principal, item)
    fields = applicant.applicant_fields(item.form_schema, subject=item.subject)
    verified = await identity.verified_identity(http, token=principal.token)
    form = applicant.with_verified_applicant(draft.form, fields, verified)
    validate_form(form, item.form_schema)
    region = RegionCode.parse(draft.applicant_region)
    handler = await catalog_reads.handler(http, item.code, region)
    if handler.department.id != draft.department_id:
        raise HandlingDepartmentChanged()
    holder = verified.registry_subject() if item.issues_certificate is not None else None
    case = await file_case(
        session,
        principal=principal,
        form=form,
        holder=holder,
        item=item,
        handler=handler,
        region=region,
        now=now,
        provenance=dict(draft.provenance),
    )
    await events.report_filed(outbox, session, case)
    draft.status = FILED
    draft.case_no = case.case_no
    draft.updated_at = now
    return case_view(case, principal, frozenset({Role.APPLICANT}), now=now, idle=claim_idle)


def draft_view(draft: Draft, form_schema: dict[str, Any]) -> DraftRead:
    provenance = {
        name: FieldProvenance.model_validate(entry) for name, entry in draft.provenance.items()
    }
    unfilled: dict[str, list[Binding]] = {}
    for binding in prefill_bindings(form_schema):
        if binding.form_field not in provenance:
            unfilled.setdefault(binding.resource, []).append(binding)
    return DraftRead(
        draft_no=draft.draft_no,
        status=OPEN if draft.status == OPEN else FILED,
        item_code=draft.item_code,
        item_name=draft.item_name,
        item_version=draft.item_version,
        applicant_id=draft.applicant_id,
        applicant_type=draft.applicant_type,
        department_id=draft.department_id,
        department_name=draft.department_name,
        region_code=draft.region_code,
        form_schema=form_schema,
        form=draft.form,
        provenance=provenance,
        consents_to_fill=[
            ConsentToFill(
                consumer=draft.department_id,
                resource=resource,
                fields=list(dict.fromkeys(binding.resource_field for binding in bindings)),
                purpose=exchange.PREFILL_PURPOSE,
                case_id=draft.draft_no,
                form_fields=[binding.form_field for binding in bindings],
            )
            for resource, bindings in unfilled.items()
        ]
        if draft.status == OPEN
        else [],
        case_no=draft.case_no,
        created_at=draft.created_at,
        updated_at=draft.updated_at,
    )
