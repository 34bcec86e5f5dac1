"""Every query on the access ledger. Entries are only ever appended."""

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.ledger.chain import GENESIS_HASH
from data_exchange_svc.models import LedgerEntry, LedgerHead

_HEAD_ID = 1


async def _advance_head(session: AsyncSession) -> tuple[int, str] | None:
    statement = (
        update(LedgerHead)
        .where(LedgerHead.id == _HEAD_ID)
        .values(seq=LedgerHead.seq + 1)
        .returning(LedgerHead.seq, LedgerHead.entry_hash)
        .execution_options(synchronize_session=False)
    )
    row = (await session.execute(statement)).one_or_none()
    return None if row is None else (row.seq, row.entry_hash)


async def take_next_seq(session: AsyncSession) -> tuple[int, str]:
    """Reserve the next sequence number; return it with the previous entry's hash.

    The head row is written first, so the writer holds it until its transaction ends: on
    PostgreSQL a row lock that queues the next writer (which then reads the committed head), on
    SQLite the database write lock, taken before this transaction has read anything, so no stale
    snapshot can be upgraded. Concurrent appends thus take strictly consecutive numbers.
    """
    advanced = await _advance_head(session)
    if advanced is None:
        # The first append ever (or after the table was emptied): create the head, tolerating a
        # concurrent writer that creates it first, then take the turn as usual.
        values = {"id": _HEAD_ID, "seq": 0, "entry_hash": GENESIS_HASH}
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(insert(LedgerHead).values(values).on_conflict_do_nothing())
        advanced = await _advance_head(session)
        if advanced is None:
            raise RuntimeError("the ledger head could not be created")
    return advanced


async def append(session: AsyncSession, entry: LedgerEntry) -> None:
    session.add(entry)
    await session.flush()
    await session.execute(
        update(LedgerHead)
        .where(LedgerHead.id == _HEAD_ID)
        .values(entry_hash=entry.entry_hash)
        .execution_options(synchronize_session=False)
    )


async def head(session: AsyncSession) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(LedgerHead.seq, LedgerHead.entry_hash).where(LedgerHead.id == _HEAD_ID)
        )
    ).one_or_none()
    return None if row is None else (row.seq, row.entry_hash)


async def entries_in_order(session: AsyncSession) -> list[LedgerEntry]:
    return list((await session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))).all())


async def get_by_call(session: AsyncSession, call_id: object) -> LedgerEntry | None:
    entry: LedgerEntry | None = await session.scalar(
        select(LedgerEntry).where(LedgerEntry.call_id == call_id)
    )
    return entry
