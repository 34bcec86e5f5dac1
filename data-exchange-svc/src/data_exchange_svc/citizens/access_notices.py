"""Every access to her data reaches her inbox: a task tails the ledger from a stored cursor and
tells each allowed call, match and delivery about a subject linked to an account as a platform
event (``data.accessed``, ids and codes only), emitted in the transaction that moves the cursor
past it, so that each access is told once, across restarts and replicas.

The tail reads the ledger, never writes it: the appender's path is untouched. Entries are
committed in ``seq`` order (each batch takes the head row after the last committed), so a
cursor on ``seq`` skips nothing. An access to a subject not linked yet is not told later.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.citizens import repository
from data_exchange_svc.models import LedgerEntry
from servicekit.events import Emission, Outbox

log = structlog.get_logger("data_exchange_svc.citizens.access_notices")

#: The platform event an access to her data makes.
DATA_ACCESSED = "data.accessed"
#: The entries told: an access that disclosed something (a load writes her record, and a
#: refused attempt disclosed nothing; both stay in her access log).
TOLD_KINDS = frozenset({"call", "match", "delivery"})
ALLOWED = "allowed"


def notice_of(entry: LedgerEntry, account: str) -> Emission:
    """The event telling ``account`` of one access: who, why, what (field names, never
    values), when, and the entry's place in the ledger, to fetch its receipt by."""
    return Emission(
        DATA_ACCESSED,
        account,
        {
            "account_id": account,
            "ledger_seq": entry.seq,
            "kind": entry.kind,
            "consumer": entry.consumer,
            "purpose": entry.purpose,
            "resource": entry.resource,
            "fields": list(entry.fields),
            "case_id": entry.case_id,
            "at": entry.at.isoformat(),
        },
        entry.at,
    )


async def tell_accesses(session: AsyncSession, platform: Outbox, *, batch_limit: int) -> int:
    """One round, in the caller's transaction: the next entries after the cursor, an event for
    each one to tell, the cursor moved past them all. How many entries were passed (0: the
    ledger holds nothing new)."""
    cursor = await repository.take_notice_cursor(session)
    rows = await repository.entries_after(session, after_seq=cursor, limit=batch_limit)
    if not rows:
        return 0
    emissions = [
        notice_of(entry, account)
        for entry, account in rows
        if account is not None and entry.outcome == ALLOWED and entry.kind in TOLD_KINDS
    ]
    if not await repository.move_notice_cursor(session, past=cursor, to=rows[-1][0].seq):
        # Another replica moved it between our read and our write (SQLite has no row lock
        # to queue us): its round told these; ours must not.
        raise RuntimeError("the access notice cursor moved under this round")
    await platform.emit_all(session, emissions)
    return len(rows)


async def tail_ledger(
    sessionmaker: async_sessionmaker[AsyncSession],
    platform: Outbox,
    *,
    poll_seconds: float,
    batch_limit: int,
) -> None:
    """Tell accesses as they are recorded: a round at once while rounds come back full, else
    one every ``poll_seconds``. A failed round is rolled back and tried again."""
    while True:
        try:
            async with sessionmaker.begin() as session:
                passed = await tell_accesses(session, platform, batch_limit=batch_limit)
        except Exception:
            log.exception("access_notices_failed")
            passed = 0
        if passed < batch_limit:
            await asyncio.sleep(poll_seconds)


@asynccontextmanager
async def telling_accesses(
    sessionmaker: async_sessionmaker[AsyncSession],
    platform: Outbox,
    *,
    poll_seconds: float,
    batch_limit: int,
) -> AsyncIterator[None]:
    """The tail while the block runs; none when ``poll_seconds`` is 0 (off on this replica) or
    no service subscribes to ``data.accessed`` (the cursor then waits where it is, rather than
    passing accesses told to nobody)."""
    if poll_seconds == 0 or not platform.subscriptions.get(DATA_ACCESSED):
        yield
        return
    task = asyncio.create_task(
        tail_ledger(sessionmaker, platform, poll_seconds=poll_seconds, batch_limit=batch_limit),
        name="access-notices",
    )
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
