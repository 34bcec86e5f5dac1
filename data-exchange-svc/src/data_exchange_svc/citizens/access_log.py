"""A citizen's access log: every ledger entry about her, allowed or refused, newest first.

Each item carries its receipt against the latest signed tree head, so the citizen (or anyone
she shows it to) can check with the ledger's public key that the entry is in the ledger as
shown. The page is cut at that tree head, so every item's receipt is complete.
"""

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.citizens import repository
from data_exchange_svc.citizens.subjects import subject_of
from data_exchange_svc.ledger import repository as ledger_repository
from data_exchange_svc.ledger.appender import Receipt
from data_exchange_svc.ledger.service import content_of, tree_head_of
from servicekit.auth import Principal
from servicekit.pagination import Cursors


@dataclass(frozen=True, slots=True)
class AccessLogPage:
    receipts: list[Receipt]
    next_cursor: str | None


async def page(
    session: AsyncSession,
    principal: Principal,
    *,
    cursors: Cursors,
    cursor: str | None,
    limit: int,
    key_id: str,
) -> AccessLogPage:
    subject_hash = await subject_of(session, principal)
    context = f"access-log:{subject_hash}"
    position = cursors.decode_optional(context, cursor)
    before_seq: int | None = position["before"] if position is not None else None
    checkpoint = await ledger_repository.latest_checkpoint(session)
    if checkpoint is None:
        return AccessLogPage([], None)
    entries = await repository.entries_about(
        session,
        subject_hash=subject_hash,
        before_seq=before_seq,
        up_to=checkpoint.tree_size,
        limit=limit + 1,
    )
    head = tree_head_of(checkpoint)
    receipts = [Receipt(content_of(entry), head, key_id) for entry in entries[:limit]]
    more = len(entries) > limit
    next_cursor = cursors.encode(context, {"before": entries[limit - 1].seq}) if more else None
    return AccessLogPage(receipts, next_cursor)
