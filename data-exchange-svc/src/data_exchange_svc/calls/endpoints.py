"""HTTP endpoints for matches and data calls: parse, identify the caller, delegate.

Each request is an access attempt with its own ``call_id``; whatever the outcome, it ends up in
the access ledger, and the answer (or the refusal's problem body) carries its receipt.
"""

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.calls import service
from data_exchange_svc.calls.cases import CaseLookup, CaseNotOfSubject
from data_exchange_svc.calls.schemas import CallCreate, CallRead, MatchCreate, MatchRead
from data_exchange_svc.calls.service import InvalidClaim, ReadingForNotAllowed
from data_exchange_svc.citizens import repository as citizens_repository
from data_exchange_svc.citizens.cases import CaseNotFound
from data_exchange_svc.citizens.consents import ConsentExpired, ConsentRequired, ConsentRevoked
from data_exchange_svc.deps import ConsumerDep, ExchangeState, StateDep
from data_exchange_svc.grants.service import (
    FieldNotGranted,
    GrantRateLimited,
    NoGrant,
    PurposeNotAllowed,
)
from data_exchange_svc.grants.workflow import ConsumerUnidentified
from data_exchange_svc.identifiers import InvalidSubject, SubjectNotFound
from data_exchange_svc.jurisdiction import parse_department
from data_exchange_svc.ledger.appender import LedgerUnavailable
from data_exchange_svc.ledger.schemas import ReceiptRead
from data_exchange_svc.ledger.service import (
    AccessAttempt,
    CaseVouch,
    receipt_document,
    refusals_recorded,
)
from data_exchange_svc.remote.providers import (
    ProviderError,
    ProviderNotConfigured,
    ProviderTimeout,
    ProviderUnavailable,
)
from data_exchange_svc.resources.service import (
    FieldNotMatchable,
    FieldNotReadable,
    ResourceNotFound,
    ResourceNotServed,
    ResourceNotShared,
    UnknownField,
)
from servicekit.auth import Principal, requires_scopes
from servicekit.db import Database
from servicekit.openapi import problem_responses
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/exchange/v1", tags=["data calls"])


def _case_vouch(state: ExchangeState) -> CaseVouch:
    """A refused attempt's case is kept in the ledger if the subject consented, for it, to the
    consumer; a service's (the platform's own) is kept as it is."""

    async def vouch(attempt: AccessAttempt) -> bool:
        if attempt.case_id is None or not _is_department(attempt.consumer):
            return True
        async with _reading_session(state.database) as session:
            return await citizens_repository.consent_names_case(
                session,
                subject_hash=attempt.subject_hash,
                consumer=attempt.consumer,
                case_id=attempt.case_id,
            )

    return vouch


def _case_lookup(state: ExchangeState, principal: Principal) -> CaseLookup:
    """case-svc is asked about a case the attempt names as the caller: it shows a department's
    staff and systems the cases their department handles."""
    return CaseLookup(state.http, f"Bearer {principal.token}")


def _is_department(consumer: str) -> bool:
    # Departments consume under their id, "<region>-<type>"; services under their name.
    return parse_department(consumer) is not None


def _reading_session(database: Database) -> AsyncSession:
    """The session a match or a call reads through. It writes nothing there (its ledger entry
    is the appender's, in a transaction of its own), so it opens one itself rather than take
    ``SessionDep``: there is no transaction to commit, and FastAPI's handling of a dependency
    that yields cost about a tenth of a call's CPU."""
    return database.sessionmaker()


@router.post(
    "/matches",
    dependencies=[requires_scopes("exchange:matches")],
    response_model=MatchRead,
    responses=problem_responses(
        ConsumerUnidentified,
        NoGrant,
        PurposeNotAllowed,
        FieldNotGranted,
        ResourceNotFound,
        ResourceNotShared,
        UnknownField,
        InvalidSubject,
        GrantRateLimited,
        FieldNotMatchable,
        InvalidClaim,
        ResourceNotServed,
        ProviderError,
        ProviderUnavailable,
        ProviderTimeout,
        ProviderNotConfigured,
        CaseNotFound,
        CaseNotOfSubject,
        UpstreamUnavailable,
        LedgerUnavailable,
    ),
)
async def create_match(payload: MatchCreate, principal: ConsumerDep, state: StateDep) -> MatchRead:
    """Verify without sharing: do the claimed values hold for the subject (in one row of a
    many-row resource)? Answers only yes or no; a subject the resource does not hold is a no.
    Predicate fields answer questions: ``{"age_at_least": "60"}``, ``{"certificate_number":
    "...", "currently_valid": "true"}``. Needs a grant covering the claimed fields for the
    purpose."""
    protector = state.identifiers
    attempt = service.attempt_for(
        principal,
        kind="match",
        resource=payload.resource,
        fields=list(payload.claims),
        purpose=payload.purpose,
        case_id=payload.case_id,
        subject=payload.subject,
        protector=protector,
    )
    async with (
        refusals_recorded(state.ledger, attempt, vouch=_case_vouch(state)),
        _reading_session(state.database) as session,
    ):
        answer = await service.match(
            session=session,
            checks=state.access_checks,
            ledger_appender=state.ledger,
            principal=principal,
            attempt=attempt,
            subject=payload.subject,
            claims=payload.claims,
            protector=protector,
            remote=state.remote_providers,
            case_lookup=_case_lookup(state, principal),
        )
    return MatchRead(
        match=answer.match,
        call_id=attempt.call_id,
        receipt=ReceiptRead.model_validate(receipt_document(answer.receipt)),
    )


@router.post(
    "/calls",
    dependencies=[requires_scopes("exchange:calls")],
    response_model=CallRead,
    responses=problem_responses(
        ConsumerUnidentified,
        NoGrant,
        PurposeNotAllowed,
        FieldNotGranted,
        ResourceNotFound,
        ResourceNotShared,
        UnknownField,
        InvalidSubject,
        GrantRateLimited,
        FieldNotReadable,
        SubjectNotFound,
        ConsentRequired,
        ConsentRevoked,
        ConsentExpired,
        ReadingForNotAllowed,
        ResourceNotServed,
        ProviderError,
        ProviderUnavailable,
        ProviderTimeout,
        ProviderNotConfigured,
        CaseNotFound,
        CaseNotOfSubject,
        UpstreamUnavailable,
        LedgerUnavailable,
    ),
)
async def create_call(payload: CallCreate, principal: ConsumerDep, state: StateDep) -> CallRead:
    """Read a subject's fields: only those requested, only if a grant of the caller's allows
    each of them for the purpose. A many-row resource answers each field with a list."""
    protector = state.identifiers
    attempt = service.attempt_for(
        principal,
        kind="call",
        resource=payload.resource,
        fields=payload.fields,
        purpose=payload.purpose,
        case_id=payload.case_id,
        subject=payload.subject,
        protector=protector,
        for_department=payload.for_department,
    )
    async with (
        refusals_recorded(state.ledger, attempt, vouch=_case_vouch(state)),
        _reading_session(state.database) as session,
    ):
        answer = await service.call(
            session=session,
            checks=state.access_checks,
            ledger_appender=state.ledger,
            principal=principal,
            attempt=attempt,
            subject=payload.subject,
            protector=protector,
            remote=state.remote_providers,
            case_lookup=_case_lookup(state, principal),
        )
    return CallRead(
        call_id=attempt.call_id,
        resource=attempt.resource,
        provider_department_type=answer.provider_department_type,
        consents=answer.consents,
        fields=answer.fields,
        source_timestamp=answer.source_timestamp,
        receipt=ReceiptRead.model_validate(receipt_document(answer.receipt)),
    )
