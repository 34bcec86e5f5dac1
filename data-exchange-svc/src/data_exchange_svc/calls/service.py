"""The rules of a data call and a match: who may ask, about what, why, and what they learn.

Checks run in an order that discloses nothing early: the resource and field names first (public
information), then the form of the subject (exactly one identifier, of a kind the resource is
about) and of the claims, then the caller's grants and their rate limits, then (for a
department reading a person's personal data, or anyone reading on her behalf: a purpose
``for_the_citizen`` such as pre-fill) the subject's consent for the case, then (for a
department naming a case) that the case is the subject's and the department's (calls.cases);
only a caller that passes them all learns whether the subject exists. A match tells even a
granted caller nothing but yes or no.

A grant covers the subjects of its region: a subject its records place elsewhere is, to that
caller, not held at all (a call answers 404 ``subject_not_found``, a match no).

The catalogue and the grants come from the process's caches (see resources.catalogue and
grants.cache), so that a call usually costs one query: the holding (two with consent).
"""

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import JsonValue
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.calls.cases import CaseLookup, CasesOfSubjects, require_case_of_subject
from data_exchange_svc.calls.schemas import Subject
from data_exchange_svc.citizens import consents
from data_exchange_svc.datasets.holdings import Holding, holding_of
from data_exchange_svc.grants.cache import ActiveGrant, ActiveGrants
from data_exchange_svc.grants.purposes import for_the_citizen
from data_exchange_svc.grants.rate_limits import GrantRateLimiter
from data_exchange_svc.grants.service import authorise, charge
from data_exchange_svc.grants.workflow import ConsumerUnidentified
from data_exchange_svc.identifiers import (
    IdentifierProtector,
    InvalidSubject,
    InvalidSubjectIdentifier,
    SubjectNotFound,
    SubjectRef,
    parse_subject,
)
from data_exchange_svc.ledger import service as ledger
from data_exchange_svc.ledger.appender import LedgerAppender, Receipt
from data_exchange_svc.ledger.service import AccessAttempt
from data_exchange_svc.remote.providers import RemoteProviders
from data_exchange_svc.resources.catalogue import Catalogue, CataloguedResource
from data_exchange_svc.resources.service import (
    require_fields,
    require_readable,
    served_spec,
    shared_resource,
)
from data_exchange_svc.resources.spec import ResourceSpec
from data_exchange_svc.resources.values import InvalidValue, check_claim, today_in_china
from servicekit.auth import Principal, require_type
from servicekit.db import utcnow
from servicekit.ids import new_id
from servicekit.problems import DomainError
from servicekit.regions import InvalidRegionCode, RegionCode


class ReadingForNotAllowed(DomainError):
    status = 422
    code = "for_department_not_allowed"
    title = (
        "Only a platform service reading on a citizen's behalf (a purpose for the citizen) "
        "names the department it reads for"
    )


class InvalidClaim(DomainError):
    status = 422
    code = "invalid_claim"
    title = "A claim is not one the field can answer"


def consumer_of(principal: Principal) -> str:
    """Whose grants apply: a service's own name; a department's id for its staff and systems."""
    if principal.typ in ("staff", "department_system") and principal.dept:
        return principal.dept
    return principal.sub


def subject_hash_of(subject: Subject, protector: IdentifierProtector) -> str:
    """The ledger's name for the subject asked about, valid or not: the keyed hash of the
    identity number if one is given, else of the credit code (else of nothing)."""
    if subject.id_number is not None or subject.credit_code is None:
        return protector.lookup_hash(subject.id_number or "")
    return protector.credit_code_hash(subject.credit_code)


def attempt_for(
    principal: Principal,
    *,
    kind: Literal["match", "call"],
    resource: str,
    fields: list[str],
    purpose: str,
    case_id: str | None,
    subject: Subject,
    protector: IdentifierProtector,
    for_department: str | None = None,
) -> AccessAttempt:
    """The attempt as the ledger records it. Its consumer is whose use it is: the caller's
    (see ``consumer_of``), or the department a platform service names that it reads for, for a
    purpose on the citizen's behalf (then her consent must name that department). Anyone else
    naming a department is refused here, before anything is recorded under that department's
    name."""
    if for_department is not None and not (principal.typ == "service" and for_the_citizen(purpose)):
        raise ReadingForNotAllowed()
    return AccessAttempt(
        call_id=new_id(),
        kind=kind,
        consumer=for_department if for_department is not None else consumer_of(principal),
        actor=principal.sub,
        resource=resource,
        fields=tuple(dict.fromkeys(fields)),
        purpose=purpose,
        case_id=case_id,
        subject_hash=subject_hash_of(subject, protector),
    )


def _require_consumer(principal: Principal) -> None:
    require_type(principal, "service", "staff", "department_system")
    if principal.typ != "service" and not principal.dept:
        raise ConsumerUnidentified()


def _valid_subject(resource: CataloguedResource, subject: Subject) -> SubjectRef:
    try:
        parsed = parse_subject(
            id_number=subject.id_number, credit_code=subject.credit_code, today=today_in_china()
        )
    except InvalidSubjectIdentifier as exc:
        raise InvalidSubject(str(exc), reason=exc.reason) from exc
    if parsed.kind not in resource.subject_kinds:
        raise InvalidSubject(
            f"{resource.code} is about {' or '.join(resource.subject_kinds)} subjects",
            reason="subject_kind_not_accepted",
            subject_kinds=resource.subject_kinds,
        )
    return parsed


def _require_answerable(resource: CataloguedResource, claims: Mapping[str, str]) -> None:
    known = resource.fields_by_name
    try:
        for name, claim in claims.items():
            check_claim(name, known[name].value_type, claim)
    except InvalidValue as exc:
        raise InvalidClaim(str(exc)) from exc


async def _reads_in_autocommit(session: AsyncSession) -> None:
    """A call only reads through its session (its ledger entry is the appender's, in a
    transaction of its own): each read runs in autocommit, as its own snapshot, which is what
    READ COMMITTED gives each statement of a transaction anyway. It saves BEGIN and COMMIT, two
    of the four round trips of a call (with the pool's ping and the holding's query)."""
    if not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def _within_grants(holding: Holding, grants: Sequence[ActiveGrant]) -> bool:
    """Whether every region the holding places its subject in lies in every relied-on grant's
    region (grants of the platform, with none, cover everyone)."""
    scopes = [grant.region for grant in grants if grant.region is not None]
    if not scopes:
        return True
    try:
        placed = [RegionCode.parse(region).prefix for region in holding.placing_regions()]
    except InvalidRegionCode:
        return False
    if not placed:
        # Nothing places the subject: only a province-wide grant covers it.
        return all(len(scope) == 2 for scope in scopes)
    return all(prefix.startswith(scope) for prefix in placed for scope in scopes)


@dataclass(frozen=True, slots=True)
class AccessChecks:
    """What the process holds to check calls by: its catalogue snapshot, its cache of active
    grants, the grants' rate counters and the cases found to be their subjects'."""

    catalogue: Catalogue
    active_grants: ActiveGrants
    rate_limiter: GrantRateLimiter
    cases_of_subjects: CasesOfSubjects


async def _granted_holding(
    session: AsyncSession,
    *,
    checks: AccessChecks,
    principal: Principal,
    attempt: AccessAttempt,
    subject: Subject,
    claims: Mapping[str, str] | None,
    protector: IdentifierProtector,
    remote: RemoteProviders,
    case_lookup: CaseLookup,
) -> tuple[ResourceSpec, Holding | None, list[uuid.UUID]]:
    _require_consumer(principal)
    resource = await shared_resource(checks.catalogue, attempt.resource)
    require_fields(resource, attempt.fields, to_match=claims is not None)
    if claims is None:
        require_readable(resource, attempt.fields)
    subject_ref = _valid_subject(resource, subject)
    if claims is not None:
        _require_answerable(resource, claims)
    await _reads_in_autocommit(session)
    grants = await checks.active_grants.of(
        session, consumer=consumer_of(principal), resource_code=resource.code, now=utcnow()
    )
    relied_on = authorise(grants, purpose=attempt.purpose, fields=attempt.fields)
    await charge(checks.rate_limiter, relied_on)
    # Consent is the subject's own: a person's. An enterprise's records are governed by the
    # grant alone (including its legal representative's registered name and number). A read
    # on her behalf (pre-fill) rests on her consent whoever reads.
    consent_required = (
        claims is None
        and subject_ref.kind == "person"
        and (
            for_the_citizen(attempt.purpose)
            or consents.needs_consent(principal, resource, attempt.fields)
        )
    )
    consented_by: list[uuid.UUID] = []
    if consent_required:
        consented_by = await consents.require_consent(
            session,
            subject_hash=attempt.subject_hash,
            consumer=attempt.consumer,
            resource=resource.code,
            fields=attempt.fields,
            purpose=attempt.purpose,
            case_id=attempt.case_id,
            now=utcnow(),
        )
    await require_case_of_subject(
        session,
        principal=principal,
        attempt=attempt,
        consented=consent_required,
        cases_of_subjects=checks.cases_of_subjects,
        case_lookup=case_lookup,
        protector=protector,
    )
    spec = served_spec(resource)
    holding: Holding | None
    if spec.hosting == "remote":
        asked = list(claims) if claims is not None else list(attempt.fields)
        holding = await remote.holding(spec, subject_ref, fields=asked, attempt=attempt)
    else:
        holding = await holding_of(
            session, spec, subject_ref, subject_hash=attempt.subject_hash, protector=protector
        )
    if holding is not None and not _within_grants(holding, relied_on):
        holding = None
    return spec, holding, consented_by


@dataclass(frozen=True, slots=True)
class MatchAnswer:
    match: bool
    receipt: Receipt


async def match(
    *,
    session: AsyncSession,
    checks: AccessChecks,
    ledger_appender: LedgerAppender,
    principal: Principal,
    attempt: AccessAttempt,
    subject: Subject,
    claims: dict[str, str],
    protector: IdentifierProtector,
    remote: RemoteProviders,
    case_lookup: CaseLookup,
) -> MatchAnswer:
    """Yes or no: the subject exists and every claim holds. An unknown subject is simply no."""
    _, holding, _ = await _granted_holding(
        session,
        checks=checks,
        principal=principal,
        attempt=attempt,
        subject=subject,
        claims=claims,
        protector=protector,
        remote=remote,
        case_lookup=case_lookup,
    )
    matched = holding is not None and holding.holds(claims, today=today_in_china())
    return MatchAnswer(matched, await ledger.record(ledger_appender, attempt))


@dataclass(frozen=True, slots=True)
class CallAnswer:
    provider_department_type: str
    #: The subject's consents the call rested on (none when it needed none).
    consents: list[uuid.UUID]
    fields: dict[str, JsonValue]
    source_timestamp: dt.datetime
    receipt: Receipt


async def call(
    *,
    session: AsyncSession,
    checks: AccessChecks,
    ledger_appender: LedgerAppender,
    principal: Principal,
    attempt: AccessAttempt,
    subject: Subject,
    protector: IdentifierProtector,
    remote: RemoteProviders,
    case_lookup: CaseLookup,
) -> CallAnswer:
    """The requested fields of the subject, if a grant allows every one for the purpose."""
    spec, holding, consented_by = await _granted_holding(
        session,
        checks=checks,
        principal=principal,
        attempt=attempt,
        subject=subject,
        claims=None,
        protector=protector,
        remote=remote,
        case_lookup=case_lookup,
    )
    if holding is None:
        raise SubjectNotFound()
    values = holding.read([spec.field(name) for name in attempt.fields])
    receipt = await ledger.record(ledger_appender, attempt)
    return CallAnswer(
        provider_department_type=spec.owner_department_type,
        consents=consented_by,
        fields=values,
        source_timestamp=holding.source_timestamp,
        receipt=receipt,
    )
