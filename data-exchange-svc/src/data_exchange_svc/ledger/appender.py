"""The ledger's appender: one task per process that writes entries in batches.

Requests hand their entries to the appender and wait for the commit. The appender takes what
is queued (up to a limit), appends it in one transaction (one turn on the head row, one insert
of entries, one of tree nodes) and signs a tree head over the result, so that every entry's
receipt names a signed tree head that already includes it. While a batch commits the next one
gathers: under load batches grow and the head row is taken once per batch, not once per call;
when idle an entry is written at once, with no waiting for a batch to fill.

Several processes may each run an appender on one database: the head row orders their batches.

The appender keeps one connection for as long as it works (a new one after a failed batch): a
checkout per batch would cost the pool's ping, three round trips on PostgreSQL, on top of the
batch's own.
"""

import asyncio
import dataclasses
import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from data_exchange_svc.ledger import repository
from data_exchange_svc.ledger.entry import EntryContent
from data_exchange_svc.ledger.merkle import Frontier, NodeKey
from data_exchange_svc.ledger.signing import LedgerSigner, TreeHead
from servicekit.db import utcnow
from servicekit.problems import DomainError

logger = logging.getLogger(__name__)

#: An entry before it has its place in the ledger: the content with ``seq`` still 0.
Draft = EntryContent


class LedgerUnavailable(DomainError):
    status = 503
    code = "ledger_unavailable"
    title = "The access ledger cannot record the request now; nothing was disclosed"


@dataclasses.dataclass(frozen=True, slots=True)
class Receipt:
    """Where an entry stands in the ledger: its content and a signed tree head that has it."""

    entry: EntryContent
    tree_head: TreeHead
    key_id: str

    @property
    def leaf_index(self) -> int:
        return self.entry.seq - 1


_Pending = tuple[Draft, "asyncio.Future[Receipt]"]


class LedgerAppender:
    def __init__(
        self,
        engine: AsyncEngine,
        signer: LedgerSigner,
        *,
        batch_limit: int,
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._batch_limit = batch_limit
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ledger-appender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(LedgerUnavailable())

    async def append(self, draft: Draft) -> Receipt:
        """Queue an entry; return its receipt once the batch holding it has committed."""
        if self._task is None or self._task.done():
            raise LedgerUnavailable()
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((draft, future))
        return await future

    async def _run(self) -> None:
        connection: AsyncConnection | None = None
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < self._batch_limit and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                try:
                    if connection is None:
                        connection = await self._engine.connect()
                    receipts = await self._write(connection, [draft for draft, _ in batch])
                except asyncio.CancelledError:
                    # Stopping mid-batch: its callers get no answer. (Cancelled during COMMIT,
                    # the entries may still be recorded: the ledger then shows more than was
                    # answered, never less.)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(LedgerUnavailable())
                    raise
                except Exception:
                    logger.exception("a ledger batch of %d entries failed", len(batch))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(LedgerUnavailable())
                    await _discard(connection)
                    connection = None
                    continue
                for (_, future), receipt in zip(batch, receipts, strict=True):
                    # A request that gave up waiting still has its entry recorded.
                    if not future.done():
                        future.set_result(receipt)
        finally:
            await _discard(connection)

    async def _write(self, connection: AsyncConnection, drafts: Sequence[Draft]) -> list[Receipt]:
        async with connection.begin():
            size, packed = await repository.take_turn(connection, len(drafts))
            frontier = Frontier.decode(size, packed)
            contents: list[EntryContent] = []
            nodes: list[tuple[NodeKey, bytes]] = []
            for offset, draft in enumerate(drafts):
                content = dataclasses.replace(draft, seq=size + offset + 1)
                contents.append(content)
                nodes.extend(frontier.append(content.leaf_hash()))
            head = self._signer.sign(frontier.size, frontier.root(), utcnow())
            await repository.append(
                connection,
                entries=[_row(content) for content in contents],
                nodes=nodes,
                frontier=frontier.encode(),
                checkpoint={
                    "tree_size": head.tree_size,
                    "root_hash": head.root_hash,
                    "published_at": head.timestamp,
                    "signature": head.signature,
                },
            )
        return [Receipt(content, head, self._signer.key_id) for content in contents]


async def _discard(connection: AsyncConnection | None) -> None:
    """Give the connection back (the pool drops it if it broke); a failure to is no news."""
    if connection is not None:
        try:
            await connection.close()
        except Exception:
            logger.warning("the ledger's connection could not be closed", exc_info=True)


def _row(content: EntryContent) -> dict[str, object]:
    # Field by field: dataclasses.asdict would deep-copy every value of every entry of a batch.
    row = {field.name: getattr(content, field.name) for field in dataclasses.fields(content)}
    row["fields"] = list(content.fields)
    return row
