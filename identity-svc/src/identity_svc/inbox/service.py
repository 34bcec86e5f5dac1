"""The rules of the inbox: which case event becomes which message (a table), whose inbox it
lands in, what texts her phone, and reading it. Services never commit: the request's session
does, with the event's inbox row."""

import datetime as dt
import uuid

import structlog
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.delegations.service import refuse_delegates
from identity_svc.inbox.schemas import (
    AccessNotice,
    CaseEvent,
    DataAccessed,
    Inbox,
    MessageKind,
    MessageRead,
    RectificationReported,
)
from identity_svc.models import InboxMessage, Offer
from identity_svc.offers import repository as offers
from identity_svc.offers.service import view as offer_view
from identity_svc.runtime import Runtime
from identity_svc.sms.senders import SmsSender, SmsUnavailable
from servicekit.auth import Principal, require_type
from servicekit.pagination import Cursors
from servicekit.problems import NotFound

log = structlog.get_logger("identity_svc.inbox")

#: Which message a case event makes: (event type, the case's status or None for any) → its
#: kind, or None for none. The first row that matches decides.
RULES: tuple[tuple[str, str | None, MessageKind | None], ...] = (
    ("case.submitted", None, "case_filed"),
    # Its completion is told once, by case.completed.
    ("case.status_changed", "completed", None),
    ("case.status_changed", "supplement_requested", "action_needed"),
    ("case.status_changed", None, "case_progressed"),
    ("case.completed", None, "case_completed"),
    ("rectification.reported", None, "rectification_reported"),
)
#: What texts her phone, and what it says: a case number and where to look, nothing personal.
TEXTS: dict[str, str] = {
    "action_needed": "【浙里办】您的办件{case_no}需要补充材料，请登录浙里办查看并补正。",
    "offer": "【浙里办】有一项服务可为您一键办理，请登录浙里办在消息中查看，确认后办理。",
}


class MessageNotFound(NotFound):
    code = "inbox_message_not_found"
    title = "No such message in your inbox"


def kind_of(event_type: str, status: str) -> MessageKind | None:
    for rule_type, rule_status, kind in RULES:
        if rule_type == event_type and rule_status in (None, status):
            return kind
    return None


async def take(
    session: AsyncSession, event: CaseEvent | RectificationReported, *, now: dt.datetime
) -> InboxMessage | None:
    """The event's message in its applicant's inbox, if it makes one."""
    kind = kind_of(event.type, event.data.status)
    if kind is None:
        return None
    message = InboxMessage(
        owner_id=event.data.applicant_id,
        kind=kind,
        case_no=event.data.case_no,
        item_code=event.data.item_code,
        case_status=event.data.status,
        event_id=event.id,
        created_at=event.time or now,
    )
    session.add(message)
    await session.flush()
    return message


async def tell_access(
    session: AsyncSession, event: DataAccessed, *, now: dt.datetime
) -> InboxMessage | None:
    """The access's message in her inbox, for her to know (nothing waits on her: no text);
    none for an account that is not here."""
    owner_id = event.data.account_id
    if await accounts.get_by_text_id(session, owner_id) is None:
        return None
    notice = AccessNotice.model_validate(event.data.model_dump(exclude={"account_id"}))
    message = InboxMessage(
        owner_id=owner_id,
        kind="data_accessed",
        access_notice=notice.model_dump(mode="json"),
        event_id=event.id,
        created_at=event.time or now,
    )
    session.add(message)
    await session.flush()
    return message


async def text_if_it_waits_on_her(
    session: AsyncSession,
    runtime: Runtime,
    sender: SmsSender,
    message: InboxMessage,
    *,
    now: dt.datetime,
) -> None:
    """Text her phone when the message waits on her. A text that cannot be sent leaves the
    message unmarked (it is in her inbox all the same); an enterprise's has no phone here."""
    template = TEXTS.get(message.kind)
    if template is None:
        return
    try:
        account_id = uuid.UUID(message.owner_id)
    except ValueError:
        return
    account = await accounts.get(session, account_id)
    if account is None:
        return
    phone = runtime.personal_data.unseal("phone", account.phone_sealed, account_id=account.id)
    try:
        await sender.send(to=phone, text=template.format(case_no=message.case_no))
    except (SmsUnavailable, OSError) as exc:
        log.warning(
            "inbox_text_not_sent", message_id=str(message.id), error_type=type(exc).__name__
        )
        return
    message.texted_at = now


def _owner(principal: Principal) -> str:
    """Whose inbox the caller reads: her own; an enterprise's, for whoever acts for it. A
    delegate acting for a citizen does not read hers."""
    require_type(principal, "citizen", "enterprise")
    if principal.typ == "citizen":
        refuse_delegates(principal)
    return principal.sub


def _view(message: InboxMessage, offer: Offer | None, now: dt.datetime) -> MessageRead:
    return MessageRead.model_validate(
        {
            "id": message.id,
            "kind": message.kind,
            "case_no": message.case_no,
            "item_code": message.item_code,
            "case_status": message.case_status,
            "offer": offer_view(offer, now) if offer is not None else None,
            "access": message.access_notice,
            "created_at": message.created_at,
            "read_at": message.read_at,
            "texted": message.texted_at is not None,
        }
    )


async def inbox_of(
    session: AsyncSession,
    principal: Principal,
    *,
    unread_only: bool,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
    now: dt.datetime,
) -> Inbox:
    """Her messages, newest first, a page at a time, and how many are unread; an offer's shows
    the offer as it is now."""
    owner = _owner(principal)
    context = f"inbox:{owner}:{unread_only}"
    position = cursors.decode_optional(context, cursor)
    query = select(InboxMessage).where(InboxMessage.owner_id == owner)
    if unread_only:
        query = query.where(InboxMessage.read_at.is_(None))
    if position is not None:
        at, last = dt.datetime.fromisoformat(position["at"]), uuid.UUID(hex=position["id"])
        query = query.where(
            or_(
                InboxMessage.created_at < at,
                and_(InboxMessage.created_at == at, InboxMessage.id < last),
            )
        )
    query = query.order_by(InboxMessage.created_at.desc(), InboxMessage.id.desc()).limit(limit + 1)
    rows = (await session.scalars(query)).all()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors.encode(
            context, {"at": page[-1].created_at.isoformat(), "id": page[-1].id.hex}
        )
    unread = await session.scalar(
        select(func.count())
        .select_from(InboxMessage)
        .where(InboxMessage.owner_id == owner, InboxMessage.read_at.is_(None))
    )
    offered = await offers.by_ids(
        session, [message.offer_id for message in page if message.offer_id is not None]
    )
    items = [
        _view(message, offered.get(message.offer_id) if message.offer_id else None, now)
        for message in page
    ]
    return Inbox(items=items, unread=unread or 0, next_cursor=next_cursor)


async def mark_read(
    session: AsyncSession, principal: Principal, message_id: uuid.UUID, *, now: dt.datetime
) -> None:
    """Read: once (reading it again keeps when it was first read). Anyone else's is not found."""
    owner = _owner(principal)
    found = await session.scalar(
        select(InboxMessage.id).where(InboxMessage.id == message_id, InboxMessage.owner_id == owner)
    )
    if found is None:
        raise MessageNotFound()
    await session.execute(
        update(InboxMessage)
        .where(InboxMessage.id == message_id, InboxMessage.read_at.is_(None))
        .values(read_at=now)
    )
