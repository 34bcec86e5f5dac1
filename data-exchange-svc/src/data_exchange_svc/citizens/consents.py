"""Consents: a citizen lets one department read some fields of a resource about her, for one
purpose and one case, until a time she chooses (at most a year) or until she revokes it. The
case is one of hers, still open, and handled by that department: case-svc is asked when she
consents (see citizens.cases). It may be a draft application of hers, which becomes the case
when she submits it: consent for pre-fill is given before any case exists.

A data call by a department (staff or department system) for personal fields is refused unless
it names a case and a live consent of the subject covers it: consumer, resource, purpose, case
and every field. Internal platform services (typ ``service``, e.g. identity-svc's own checks at
the citizen's login) are not asked for consent, except for a purpose on the citizen's behalf
(``for_the_citizen`` in grants/purposes.toml: pre-fill), where the service names the department
it reads for and her consent must name that department; matches (yes/no, nothing disclosed)
neither.
"""

import datetime as dt
import uuid
from collections.abc import Sequence

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.citizens import cases, repository
from data_exchange_svc.citizens.subjects import require_citizen, subject_of
from data_exchange_svc.models import Consent
from data_exchange_svc.resources.catalogue import Catalogue, CataloguedResource
from data_exchange_svc.resources.service import require_fields, shared_resource
from servicekit.auth import Principal
from servicekit.problems import DomainError, Forbidden, NotFound, extension_members

#: The longest a consent may run.
MAX_CONSENT_DAYS = 366
#: Sensitivities that make a field personal data of the subject.
PERSONAL = frozenset({"personal", "sensitive_personal"})


class ConsentNotFound(NotFound):
    code = "consent_not_found"
    title = "No such consent of the caller"


class InvalidConsentExpiry(DomainError):
    status = 422
    code = "invalid_expiry"
    title = "An expiry must be in the future, within 366 days"


class ConsentNotApplicable(DomainError):
    status = 422
    code = "consent_not_applicable"
    title = "This resource is not about people: a citizen's consent does not apply to it"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


class ConsentRequired(Forbidden):
    code = "consent_required"
    title = "Personal data needs the subject's consent for this case, purpose and fields"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        },
        fields={"type": "array", "items": {"type": "string"}, "examples": [["face_template"]]},
    )


class ConsentRevoked(Forbidden):
    code = "consent_revoked"
    title = "The subject has revoked the consent for this use"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        }
    )


class ConsentExpired(Forbidden):
    code = "consent_expired"
    title = "The subject's consent for this use has expired"
    members = extension_members(
        case_id={
            "type": "string",
            "description": "The case number",
            "examples": ["330302-20261126-000001"],
        }
    )


async def give(
    session: AsyncSession,
    principal: Principal,
    *,
    consumer: str,
    resource: str,
    fields: Sequence[str],
    purpose: str,
    case_id: str,
    expires_at: dt.datetime,
    now: dt.datetime,
    catalogue: Catalogue,
    http: httpx.AsyncClient,
    authorization: str,
) -> Consent:
    """The citizen's (already linked) consent, for a case of hers that the consumer handles and
    that is still open (case-svc says, asked last); see citizens.subjects for the link."""
    if expires_at.tzinfo is None or not now < expires_at <= now + dt.timedelta(
        days=MAX_CONSENT_DAYS
    ):
        raise InvalidConsentExpiry()
    subject_hash = await subject_of(session, principal)
    shared = await shared_resource(catalogue, resource)
    if "person" not in shared.subject_kinds:
        raise ConsentNotApplicable(resource=shared.code)
    unique_fields = list(dict.fromkeys(fields))
    require_fields(shared, unique_fields, to_match=False)
    case = await cases.case_of_caller(http, authorization, case_id)
    cases.require_open_case_of(case, consumer)
    consent = Consent(
        account=principal.sub,
        subject_hash=subject_hash,
        consumer=consumer,
        resource_code=shared.code,
        fields=unique_fields,
        purpose=purpose,
        case_id=case_id,
        expires_at=expires_at,
    )
    await repository.add_consent(session, consent)
    return consent


async def mine(session: AsyncSession, principal: Principal) -> list[Consent]:
    require_citizen(principal)
    return await repository.consents_of(session, principal.sub)


async def revoke(
    session: AsyncSession, principal: Principal, consent_id: uuid.UUID, *, now: dt.datetime
) -> Consent:
    """Revoke at once; revoking again changes nothing. Another's consent is not found."""
    require_citizen(principal)
    consent = await repository.consent_for_update(session, consent_id)
    if consent is None or consent.account != principal.sub:
        raise ConsentNotFound()
    if consent.revoked_at is None:
        consent.revoked_at = now
        await session.flush()
    return consent


def needs_consent(
    principal: Principal, resource: CataloguedResource, fields: Sequence[str]
) -> bool:
    known = resource.fields_by_name
    return principal.typ in ("staff", "department_system") and any(
        name in known and known[name].sensitivity in PERSONAL for name in fields
    )


async def require_consent(
    session: AsyncSession,
    *,
    subject_hash: str,
    consumer: str,
    resource: str,
    fields: Sequence[str],
    purpose: str,
    case_id: str | None,
    now: dt.datetime,
) -> list[uuid.UUID]:
    """Live consents of the scope together must cover every field: the ones relied on (those
    naming a requested field). When they do not, the refusal says why: revoked (if revoked
    consents would have covered the rest), else expired (likewise), else required."""
    if case_id is None:
        raise ConsentRequired("a call for personal data names the case it serves")
    consents = await repository.consents_in_scope(
        session,
        subject_hash=subject_hash,
        consumer=consumer,
        resource_code=resource,
        purpose=purpose,
        case_id=case_id,
    )
    live = [c for c in consents if c.revoked_at is None and c.expires_at > now]
    missing = set(fields) - {name for consent in live for name in consent.fields}
    if not missing:
        return [consent.id for consent in live if not set(consent.fields).isdisjoint(fields)]
    revoked = {name for c in consents if c.revoked_at is not None for name in c.fields}
    if missing <= revoked:
        raise ConsentRevoked(case_id=case_id)
    expired = {
        name for c in consents if c.revoked_at is None and c.expires_at <= now for name in c.fields
    }
    if missing <= expired | revoked:
        raise ConsentExpired(case_id=case_id)
    raise ConsentRequired(case_id=case_id, fields=sorted(missing))
