"""Every query on the access ledger: entries and tree nodes are only ever appended."""

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from data_exchange_svc.ledger.merkle import NodeKey, node_id, node_key
from data_exchange_svc.models import (
    Base,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerNode,
    LedgerSigningKey,
)
from servicekit.db import insert_for, utcnow

_HEAD_ID = 1
_KEY_ID = 1


# The appender's statements are Core statements on the tables, built once and run on its own
# connection: a batch needs none of the ORM's unit of work, and building a statement and its
# cache key, then going through the session, cost more per batch than the round trips.
_ENTRY = Base.metadata.tables[LedgerEntry.__tablename__]
_NODE = Base.metadata.tables[LedgerNode.__tablename__]
_HEAD = Base.metadata.tables[LedgerHead.__tablename__]
_CHECKPOINT = Base.metadata.tables[LedgerCheckpoint.__tablename__]

_ADVANCE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == _HEAD_ID)
    .values(size=_HEAD.c.size + bindparam("count"))
    .returning(_HEAD.c.size, _HEAD.c.frontier)
)
_SET_FRONTIER = (
    update(_HEAD).where(_HEAD.c.id == _HEAD_ID).values(frontier=bindparam("new_frontier"))
)
_INSERT_ENTRIES = insert(_ENTRY)
_INSERT_NODES = insert(_NODE)
_INSERT_CHECKPOINT = insert(_CHECKPOINT)


async def _advance_head(connection: AsyncConnection, count: int) -> tuple[int, bytes] | None:
    row = (await connection.execute(_ADVANCE_HEAD, {"count": count})).one_or_none()
    return None if row is None else (row.size - count, row.frontier)


async def take_turn(connection: AsyncConnection, count: int) -> tuple[int, bytes]:
    """Reserve ``count`` leaves; return the tree size before them and its frontier.

    The head row is written first, so the writer holds it until its transaction ends: on
    PostgreSQL a row lock that queues the next writer (which then reads the committed head), on
    SQLite the database write lock, taken before this transaction has read anything. Writers in
    any number of processes thus append strictly after one another.
    """
    advanced = await _advance_head(connection, count)
    if advanced is None:
        # The first append ever: create the head, tolerating a concurrent writer that creates it
        # first, then take the turn as usual.
        values = {"id": _HEAD_ID, "size": 0, "frontier": b""}
        await connection.execute(
            insert_for(connection.dialect, _HEAD).values(values).on_conflict_do_nothing()
        )
        advanced = await _advance_head(connection, count)
        if advanced is None:
            raise RuntimeError("the ledger head could not be created")
    return advanced


async def append(
    connection: AsyncConnection,
    *,
    entries: Sequence[dict[str, Any]],
    nodes: Sequence[tuple[NodeKey, bytes]],
    frontier: bytes,
    checkpoint: dict[str, Any],
) -> None:
    """One batch: its entries, the nodes they complete, the new frontier, its signed head."""
    await connection.execute(_INSERT_ENTRIES, list(entries))
    await connection.execute(
        _INSERT_NODES, [{"id": node_id(key), "hash": value} for key, value in nodes]
    )
    await connection.execute(_SET_FRONTIER, {"new_frontier": frontier})
    await connection.execute(_INSERT_CHECKPOINT, checkpoint)


async def nodes(session: AsyncSession, keys: Collection[NodeKey]) -> dict[NodeKey, bytes]:
    """The stored nodes among ``keys``, in one query (a proof needs O(log n) of them)."""
    if not keys:
        return {}
    rows = await session.execute(
        select(LedgerNode.id, LedgerNode.hash).where(LedgerNode.id.in_([node_id(k) for k in keys]))
    )
    return {node_key(row.id): row.hash for row in rows}


async def nodes_between(
    session: AsyncSession, level: int, first: int, last: int
) -> dict[int, bytes]:
    rows = await session.execute(
        select(LedgerNode.id, LedgerNode.hash).where(
            LedgerNode.id.between(node_id((level, first)), node_id((level, last)))
        )
    )
    return {node_key(row.id)[1]: row.hash for row in rows}


async def head_size(session: AsyncSession) -> int:
    size: int | None = await session.scalar(
        select(LedgerHead.size).where(LedgerHead.id == _HEAD_ID)
    )
    return size or 0


async def latest_checkpoint(session: AsyncSession) -> LedgerCheckpoint | None:
    checkpoint: LedgerCheckpoint | None = await session.scalar(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.tree_size.desc()).limit(1)
    )
    return checkpoint


async def latest_tree_size(session: AsyncSession) -> int | None:
    size: int | None = await session.scalar(select(func.max(LedgerCheckpoint.tree_size)))
    return size


async def checkpoints_between(
    session: AsyncSession, first: int, last: int
) -> list[LedgerCheckpoint]:
    statement = (
        select(LedgerCheckpoint)
        .where(LedgerCheckpoint.tree_size.between(first, last))
        .order_by(LedgerCheckpoint.tree_size)
    )
    return list((await session.scalars(statement)).all())


async def entry(session: AsyncSession, seq: int) -> LedgerEntry | None:
    return await session.get(LedgerEntry, seq)


async def entries_after(session: AsyncSession, seq: int, limit: int) -> list[LedgerEntry]:
    statement = (
        select(LedgerEntry).where(LedgerEntry.seq > seq).order_by(LedgerEntry.seq).limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def entries_in_order(session: AsyncSession) -> list[LedgerEntry]:
    return list((await session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq))).all())


async def signing_key(session: AsyncSession) -> LedgerSigningKey | None:
    return await session.get(LedgerSigningKey, _KEY_ID)


async def add_signing_key_unless_present(
    session: AsyncSession, *, public_key: bytes, private_key_sealed: bytes
) -> None:
    values = {"id": _KEY_ID, "public_key": public_key, "private_key_sealed": private_key_sealed}
    await session.execute(
        insert_for(session, LedgerSigningKey)
        .values(**values, created_at=utcnow())
        .on_conflict_do_nothing()
    )
