"""HTTP endpoints of departments' life-event subscriptions: parse, identify the caller,
delegate."""

import uuid

from fastapi import APIRouter, Response, status

from data_exchange_svc.deps import ActiveGrantsDep, DepartmentSystemDep, SettingsDep
from data_exchange_svc.grants.workflow import UnknownPurpose
from data_exchange_svc.lifeevents import subscriptions
from data_exchange_svc.lifeevents.schemas import (
    DeliveryPage,
    Redelivering,
    Redelivery,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionRead,
    delivery_view,
)
from data_exchange_svc.lifeevents.subscriptions import (
    DeliveryNotFound,
    EndpointNotAllowed,
    EventTypeNotGranted,
    NoDepartment,
    PurposeNeedsConsent,
    SubscriptionNotFound,
    UnknownEventType,
)
from data_exchange_svc.models import EventSubscription
from servicekit.db import SessionDep, utcnow
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.pagination import CursorQuery, CursorsDep, InvalidCursor, LimitQuery, page_size_of

router = APIRouter(prefix="/exchange/v1/subscriptions", tags=["life events"])


def _view(subscription: EventSubscription) -> SubscriptionRead:
    return SubscriptionRead.model_validate(subscription, from_attributes=True)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    responses=problem_responses(
        NoDepartment,
        UnknownEventType,
        UnknownPurpose,
        PurposeNeedsConsent,
        EventTypeNotGranted,
        EndpointNotAllowed,
    ),
)
async def subscribe(
    payload: SubscriptionCreate,
    principal: DepartmentSystemDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    settings: SettingsDep,
    active_grants: ActiveGrantsDep,
) -> Response:
    """Subscribe your department to a type of life event (``life.birth_registered``, ...):
    each one is pushed to ``endpoint``, signed with the secret this answer shows once
    (Standard Webhooks: ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; check
    it with ``servicekit.webhooks.verify_delivery``), retried with backoff while the endpoint
    fails. A delivery carries the subject's identifier and the event's fields your active
    grants on its resource allow for ``purpose`` (403 ``event_type_not_granted`` when they
    allow none), and its ledger receipt: each is an entry of the ledger, in the subject's
    access log."""
    if claim.replay is not None:
        return claim.replay
    subscribed = await subscriptions.subscribe(
        session,
        principal,
        event_type=payload.event_type,
        endpoint=payload.endpoint,
        purpose=payload.purpose,
        fields=payload.fields,
        active_grants=active_grants,
        http_allowed=settings.subscription_http_allowed,
        now=utcnow(),
    )
    view = SubscriptionCreated(
        **_view(subscribed.subscription).model_dump(), secret=subscribed.secret
    )
    return await claim.answer(
        session,
        status=201,
        body=view.model_dump(mode="json"),
        headers={"Location": f"/exchange/v1/subscriptions/{view.id}"},
    )


@router.get(
    "",
    response_model=SubscriptionPage,
    responses=problem_responses(NoDepartment, InvalidCursor),
)
async def list_subscriptions(
    principal: DepartmentSystemDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> SubscriptionPage:
    """Your department's subscriptions, newest first."""
    found, next_cursor = await subscriptions.page(
        session, principal, cursors=cursors, cursor=cursor, limit=page_size_of(settings, limit)
    )
    return SubscriptionPage(items=[_view(item) for item in found], next_cursor=next_cursor)


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(NoDepartment, SubscriptionNotFound),
)
async def read_subscription(
    subscription_id: uuid.UUID, principal: DepartmentSystemDep, session: SessionDep
) -> SubscriptionRead:
    return _view(await subscriptions.get(session, principal, subscription_id))


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=problem_responses(NoDepartment, SubscriptionNotFound),
)
async def cancel_subscription(
    subscription_id: uuid.UUID, principal: DepartmentSystemDep, session: SessionDep
) -> None:
    """Cancel it (again: no change). What is still pending for it is not pushed."""
    await subscriptions.cancel(session, principal, subscription_id, now=utcnow())


@router.get(
    "/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    responses=problem_responses(NoDepartment, SubscriptionNotFound, InvalidCursor),
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    principal: DepartmentSystemDep,
    session: SessionDep,
    cursors: CursorsDep,
    settings: SettingsDep,
    cursor: CursorQuery = None,
    limit: LimitQuery = None,
) -> DeliveryPage:
    """What was addressed to the subscription, oldest first, with each one's state (pending,
    delivered, or given up on: ``dead``) and its ledger entry. Delivered ones are kept for
    ``EXCHANGE_OUTBOX_RETENTION_DAYS`` (7 by default)."""
    subscription = await subscriptions.get(session, principal, subscription_id)
    found, next_cursor = await subscriptions.deliveries(
        session,
        subscription,
        cursors=cursors,
        cursor=cursor,
        limit=page_size_of(settings, limit),
    )
    return DeliveryPage(items=[delivery_view(row) for row in found], next_cursor=next_cursor)


@router.post(
    "/{subscription_id}/redeliveries",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Redelivering,
    responses=problem_responses(NoDepartment, SubscriptionNotFound, DeliveryNotFound),
)
async def redeliver(
    subscription_id: uuid.UUID,
    payload: Redelivery,
    principal: DepartmentSystemDep,
    session: SessionDep,
) -> Redelivering:
    """Push again every delivery after the last event you processed (``after``: its
    ``webhook-id``), in order: a system restored from a backup catches up from its cursor.
    A redelivery carries the same ``webhook-id``, a new timestamp and signature."""
    subscription = await subscriptions.get(session, principal, subscription_id)
    count = await subscriptions.redeliver(session, subscription, after=payload.after, now=utcnow())
    return Redelivering(deliveries=count)
