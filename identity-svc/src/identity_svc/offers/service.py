"""The rules of offers: which life event offers what (``offers.toml``), whose offer it is, how
it reads (expired once past ``expires_at``), and her decision: declined, or confirmed and filed
as her (``identity_svc.offers.confirmation``). Services never commit; the confirmation records
what it did with the gateway in transactions of its own, so that a retry goes on with it."""

import datetime as dt
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity_svc.accounts import repository as accounts
from identity_svc.delegations.service import refuse_delegates
from identity_svc.models import InboxMessage, Offer
from identity_svc.offers import confirmation, repository
from identity_svc.offers.confirmation import NeedsInput
from identity_svc.offers.rules import RULES, Filing, OfferRules
from identity_svc.offers.schemas import (
    FiledChild,
    LifeEvent,
    OfferFiled,
    OfferPage,
    OfferRead,
    OfferStatus,
)
from servicekit.auth import Principal, require_assurance, require_type
from servicekit.pagination import Cursors
from servicekit.problems import Conflict, NotFound, extension_members

#: The level her confirmation needs: it files in her name and consents for her.
CONFIRMATION_LOA = 3


class OfferNotFound(NotFound):
    code = "offer_not_found"
    title = "No such offer of yours"


class OfferExpired(Conflict):
    code = "offer_expired"
    title = "This offer has expired: it files nothing any more"
    members = extension_members(
        expires_at={"type": "string", "format": "date-time", "examples": ["2027-01-06T10:00:00Z"]}
    )


class OfferNotOpen(Conflict):
    code = "offer_not_open"
    title = "This offer was decided already"
    members = extension_members(
        offer_status={"type": "string", "enum": ["confirmed", "declined"], "examples": ["declined"]}
    )


class OfferNeedsInput(Conflict):
    code = "offer_needs_input"
    title = "Something must still be typed: open the draft in the app, then file it"
    members = extension_members(
        draft_no={"type": "string", "examples": ["330302-B20261207-3f9a0c1b5e27"]},
        draft_path={
            "type": "string",
            "description": "The draft at case-svc, through the gateway",
            "examples": ["/cases/v1/bundle-drafts/330302-B20261207-3f9a0c1b5e27"],
        },
    )


def status_of(offer: Offer, now: dt.datetime) -> OfferStatus:
    if offer.status == "open":
        return "expired" if now >= offer.expires_at else "open"
    return "confirmed" if offer.status == "confirmed" else "declined"


def filing_of(offer: Offer) -> Filing:
    if offer.bundle_code is not None:
        return Filing(kind="bundle", code=offer.bundle_code)
    assert offer.item_code is not None  # the table's check: one or the other
    return Filing(kind="item", code=offer.item_code)


def view(offer: Offer, now: dt.datetime, rules: OfferRules = RULES) -> OfferRead:
    offering = rules.offering_for(offer.event_type)
    files = filing_of(offer)
    return OfferRead.model_validate(
        {
            "id": offer.id,
            "event_type": offer.event_type,
            "status": status_of(offer, now),
            "files": {"kind": files.kind, "code": files.code},
            "title": offering.title if offering else "",
            "summary": offering.summary if offering else "",
            "expires_at": offer.expires_at,
            "draft_no": offer.draft_no,
            "application_no": offer.application_no,
            "created_at": offer.created_at,
        }
    )


async def make_offer(
    session: AsyncSession, event: LifeEvent, *, now: dt.datetime, rules: OfferRules = RULES
) -> InboxMessage | None:
    """The offer the life event calls for, and its message in her inbox: none for a type the
    table does not name, an account that is no citizen's any more, or a life event she was
    offered for already."""
    offering = rules.offering_for(event.type)
    if offering is None:
        return None
    owner_id = event.data.account_id
    account = await accounts.get_by_text_id(session, owner_id)
    if account is None or account.typ != "citizen":
        return None
    if await repository.exists_for(session, owner_id, event.data.life_event_id):
        return None
    happened_at = event.time or now
    offer = Offer(
        owner_id=owner_id,
        event_type=event.type,
        life_event_id=event.data.life_event_id,
        bundle_code=offering.files.code if offering.files.kind == "bundle" else None,
        item_code=offering.files.code if offering.files.kind == "item" else None,
        status="open",
        expires_at=happened_at + offering.expires_after,
        created_at=happened_at,
    )
    session.add(offer)
    await session.flush()
    message = InboxMessage(
        owner_id=owner_id,
        kind="offer",
        offer_id=offer.id,
        event_id=event.id,
        created_at=happened_at,
    )
    session.add(message)
    await session.flush()
    return message


def _herself(principal: Principal) -> str:
    """Offers are made to a citizen's own account: hers to read and decide, nobody's for her."""
    require_type(principal, "citizen")
    refuse_delegates(principal)
    return principal.sub


async def _own(session: AsyncSession, principal: Principal, offer_id: uuid.UUID) -> Offer:
    offer = await repository.of_owner(session, _herself(principal), offer_id)
    if offer is None:
        raise OfferNotFound()
    return offer


def _require_open(offer: Offer, now: dt.datetime) -> None:
    status = status_of(offer, now)
    if status == "expired":
        raise OfferExpired(expires_at=offer.expires_at.isoformat())
    if status != "open":
        raise OfferNotOpen(offer_status=status)


async def offers_of(
    session: AsyncSession,
    principal: Principal,
    *,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
    now: dt.datetime,
) -> OfferPage:
    """Her offers, newest first, a page at a time."""
    owner = _herself(principal)
    context = f"offers:{owner}"
    position = cursors.decode_optional(context, cursor)
    after = None
    if position is not None:
        after = (dt.datetime.fromisoformat(position["at"]), uuid.UUID(hex=position["id"]))
    rows = await repository.page_of(session, owner, after=after, limit=limit)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = cursors.encode(
            context, {"at": page[-1].created_at.isoformat(), "id": page[-1].id.hex}
        )
    return OfferPage(items=[view(offer, now) for offer in page], next_cursor=next_cursor)


async def offer_of(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, *, now: dt.datetime
) -> OfferRead:
    return view(await _own(session, principal, offer_id), now)


async def decline(
    session: AsyncSession, principal: Principal, offer_id: uuid.UUID, *, now: dt.datetime
) -> OfferRead:
    """Declined: it files nothing, ever. Declining it again changes nothing."""
    offer = await _own(session, principal, offer_id)
    if offer.status != "declined":
        _require_open(offer, now)
        await repository.decide(session, offer.id, status="declined", application_no=None, now=now)
        await session.refresh(offer)
    return view(offer, now)


async def confirm(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    http: httpx.AsyncClient,
    principal: Principal,
    offer_id: uuid.UUID,
    answers: dict[str, Any],
    now: dt.datetime,
    rules: OfferRules = RULES,
) -> OfferFiled:
    """File what the offer files, as her (her token through the gateway): her confirmation is
    her consent to the reads its draft asks for. The draft's number is kept as soon as it is
    opened, so that a confirmation tried again (the gateway out of reach, her token expired)
    goes on with it; the submission's key is the offer's, so that nothing is filed twice."""
    _herself(principal)
    require_assurance(principal, CONFIRMATION_LOA)
    async with sessionmaker() as session:
        offer = await _own(session, principal, offer_id)
    _require_open(offer, now)

    async def keep_draft(draft_no: str) -> str:
        async with sessionmaker.begin() as session:
            return await repository.keep_draft(session, offer_id, draft_no)

    outcome = await confirmation.file_for_her(
        http,
        token=principal.token,
        files=filing_of(offer),
        answers=answers,
        draft_no=offer.draft_no,
        key=f"offer-{offer.id}",
        consents_until=now + rules.consent_term,
        draft_opened=keep_draft,
    )
    if isinstance(outcome, NeedsInput):
        raise OfferNeedsInput(draft_no=outcome.draft_no, draft_path=outcome.draft_path)
    async with sessionmaker.begin() as session:
        await repository.decide(
            session,
            offer_id,
            status="confirmed",
            application_no=outcome.application_no,
            now=now,
        )
        confirmed = await _own(session, principal, offer_id)
        offer_view = view(confirmed, now, rules)
    return OfferFiled(
        offer=offer_view,
        application_no=outcome.application_no,
        children=[
            FiledChild(
                item_code=str(child.get("item_code", "")),
                case_no=child.get("case_no"),
                status=child.get("status"),
                department_id=child.get("department_id"),
            )
            for child in outcome.children
        ],
    )
