"""HTTP endpoints for the citizen herself (her consents, her access log), and the link of her
account to the registry that identity-svc records."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response

from data_exchange_svc.citizens import access_log, consents, subjects
from data_exchange_svc.citizens.cases import CaseClosed, CaseNotFound, CaseNotHandledByConsumer
from data_exchange_svc.citizens.consents import (
    ConsentNotApplicable,
    ConsentNotFound,
    InvalidConsentExpiry,
)
from data_exchange_svc.citizens.schemas import (
    AccessLogItem,
    AccessLogPage,
    ConsentCreate,
    ConsentList,
    ConsentRead,
    SubjectLink,
    SubjectLinkRead,
)
from data_exchange_svc.citizens.subjects import (
    DelegateNotAllowed,
    NotTheIdentityService,
    SubjectNotLinked,
)
from data_exchange_svc.deps import (
    CatalogueDep,
    CitizenDep,
    IdentifiersDep,
    LedgerSignerDep,
    ServiceDep,
    SettingsDep,
)
from data_exchange_svc.identifiers import InvalidSubject, SubjectNotFound
from data_exchange_svc.ledger.schemas import ReceiptRead
from data_exchange_svc.ledger.service import receipt_document
from data_exchange_svc.models import Consent
from data_exchange_svc.resources.service import ResourceNotFound, ResourceNotShared, UnknownField
from servicekit.auth import InsufficientAssurance
from servicekit.db import SessionDep, utcnow
from servicekit.http import HttpDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.pagination import (
    CursorQuery,
    CursorsDep,
    InvalidCursor,
    LimitQuery,
    page_size_of,
)
from servicekit.problems import UpstreamUnavailable

router = APIRouter(prefix="/exchange/v1/me", tags=["citizens"])


def _status(consent: Consent, now: dt.datetime) -> Literal["live", "expired", "revoked"]:
    if consent.revoked_at is not None:
        return "revoked"
    return "live" if consent.expires_at > now else "expired"


def _view(consent: Consent, now: dt.datetime) -> ConsentRead:
    return ConsentRead(
        id=consent.id,
        consumer=consent.consumer,
        resource=consent.resource_code,
        fields=consent.fields,
        purpose=consent.purpose,
        case_id=consent.case_id,
        expires_at=consent.expires_at,
        revoked_at=consent.revoked_at,
        created_at=consent.created_at,
        status=_status(consent, now),
    )


@router.post(
    "/consents",
    response_model=ConsentRead,
    status_code=201,
    responses=problem_responses(
        DelegateNotAllowed,
        InsufficientAssurance,
        SubjectNotLinked,
        ResourceNotFound,
        ResourceNotShared,
        UnknownField,
        ConsentNotApplicable,
        InvalidConsentExpiry,
        CaseNotFound,
        CaseNotHandledByConsumer,
        CaseClosed,
        UpstreamUnavailable,
    ),
)
async def give_consent(
    payload: ConsentCreate,
    principal: CitizenDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    catalogue: CatalogueDep,
    http: HttpDep,
    request: Request,
) -> Response:
    """Consent for one case of hers, or for a draft application of hers that will become one
    (``330300-D20261207-3f9a0c1b5e27``: so that a pre-fill read, purpose ``case_prefill``, may fill
    its form): case-svc must show her the case or draft, still open and handled by
    ``consumer`` (422 ``case_not_found``, 422 ``case_not_handled_by_consumer``, 409
    ``case_closed``; 503 ``upstream_unavailable`` when it cannot be asked)."""
    if claim.replay is not None:
        return claim.replay
    now = utcnow()
    consent = await consents.give(
        session,
        principal,
        consumer=payload.consumer,
        resource=payload.resource,
        fields=payload.fields,
        purpose=payload.purpose,
        case_id=payload.case_id,
        expires_at=payload.expires_at,
        now=now,
        catalogue=catalogue,
        http=http,
        # A verified bearer token (CitizenDep): case-svc is asked as her.
        authorization=request.headers["authorization"],
    )
    return await claim.answer(session, status=201, body=_view(consent, now).model_dump(mode="json"))


@router.get(
    "/consents",
    response_model=ConsentList,
    responses=problem_responses(DelegateNotAllowed, InsufficientAssurance, SubjectNotLinked),
)
async def list_consents(principal: CitizenDep, session: SessionDep) -> ConsentList:
    """All of the citizen's consents, newest first, with their status now."""
    now = utcnow()
    return ConsentList(items=[_view(c, now) for c in await consents.mine(session, principal)])


@router.delete(
    "/consents/{consent_id}",
    status_code=204,
    responses=problem_responses(DelegateNotAllowed, InsufficientAssurance, ConsentNotFound),
)
async def revoke_consent(
    consent_id: uuid.UUID, principal: CitizenDep, session: SessionDep
) -> Response:
    await consents.revoke(session, principal, consent_id, now=utcnow())
    return Response(status_code=204)


@router.get(
    "/access-log",
    response_model=AccessLogPage,
    responses=problem_responses(
        DelegateNotAllowed, InsufficientAssurance, SubjectNotLinked, InvalidCursor
    ),
)
async def read_access_log(
    principal: CitizenDep,
    session: SessionDep,
    signer: LedgerSignerDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> AccessLogPage:
    """Who read (or tried to read) the citizen's data, what, when, why, and the outcome."""
    found = await access_log.page(
        session,
        principal,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
        key_id=signer.key_id,
    )
    items = []
    for receipt in found.receipts:
        entry = receipt.entry
        items.append(
            AccessLogItem(
                seq=entry.seq,
                at=entry.at,
                call_id=entry.call_id,
                kind=entry.kind,
                consumer=entry.consumer,
                resource=entry.resource,
                fields=list(entry.fields),
                purpose=entry.purpose,
                case_id=entry.case_id,
                outcome=entry.outcome,
                code=entry.code,
                receipt=ReceiptRead.model_validate(receipt_document(receipt)),
            )
        )
    return AccessLogPage(items=items, next_cursor=found.next_cursor)


links_router = APIRouter(prefix="/exchange/v1/citizen-links", tags=["citizens"])


@links_router.put(
    "/{account}",
    response_model=SubjectLinkRead,
    responses=problem_responses(NotTheIdentityService, InvalidSubject, SubjectNotFound),
)
async def link_citizen(
    account: Annotated[str, Path(min_length=1, max_length=128)],
    payload: SubjectLink,
    principal: ServiceDep,
    session: SessionDep,
    settings: SettingsDep,
    protector: IdentifiersDep,
) -> SubjectLinkRead:
    """identity-svc (only) records which registry subject the account is, when her face match
    binds her real name to it; the citizen's consents and access log then follow her account."""
    linked = await subjects.link_from_identity(
        session,
        principal,
        account=account,
        id_number=payload.id_number,
        protector=protector,
        identity_service=settings.identity_service,
    )
    return SubjectLinkRead(linked_at=linked.linked_at)
