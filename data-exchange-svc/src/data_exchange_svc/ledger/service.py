"""The access ledger's rules: recording access decisions, proofs, and the full audit.

Every attempt, allowed or refused, is handed to the appender (see ledger.appender), which
commits it in a transaction of its own: the request's transaction is rolled back on every
refusal, and an answer must never leave before its entry is durable. The caller gets a receipt
whose tree head already includes the entry.
"""

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.ledger import repository
from data_exchange_svc.ledger.appender import LedgerAppender, Receipt
from data_exchange_svc.ledger.entry import EntryContent
from data_exchange_svc.ledger.merkle import (
    Frontier,
    consistency_ranges,
    inclusion_ranges,
    nodes_for,
    range_hash,
)
from data_exchange_svc.ledger.signing import LedgerSigner, TreeHead, verify_tree_head
from data_exchange_svc.models import LedgerCheckpoint, LedgerEntry
from servicekit.db import utcnow
from servicekit.ids import new_id
from servicekit.problems import DomainError, NotFound, extension_members


class LedgerEmpty(NotFound):
    code = "ledger_empty"
    title = "No tree head has been published yet"


class EntryNotFound(NotFound):
    code = "entry_not_found"
    title = "The ledger has no entry with this sequence number"
    members = extension_members(
        seq={
            "type": "integer",
            "description": "The sequence number asked for",
            "examples": [1200],
        }
    )


class TreeSizeNotPublished(DomainError):
    status = 422
    code = "invalid_tree_size"
    title = "The tree size is not covered by a published tree head"
    members = extension_members(
        tree_size={
            "type": "integer",
            "description": "The tree size asked for",
            "examples": [1200],
        },
        latest_tree_size={
            "type": "integer",
            "description": "The size of the latest published tree head",
            "examples": [1024],
        },
        first={"type": "integer", "examples": [1024]},
        second={"type": "integer", "examples": [1200]},
    )


@dataclasses.dataclass(frozen=True, slots=True)
class AccessAttempt:
    """Who asked what about whom, and why: known before the decision is taken."""

    call_id: uuid.UUID
    kind: Literal["match", "call"]
    consumer: str
    actor: str
    resource: str
    fields: tuple[str, ...]
    purpose: str
    case_id: str | None
    #: The keyed hash of the subject's identity number, never the number.
    subject_hash: str


async def record(
    ledger: LedgerAppender, attempt: AccessAttempt, *, refusal_code: str | None = None
) -> Receipt:
    return await ledger.append(
        EntryContent(
            seq=0,
            at=utcnow(),
            call_id=attempt.call_id,
            kind=attempt.kind,
            consumer=attempt.consumer,
            actor=attempt.actor,
            resource=attempt.resource,
            fields=attempt.fields,
            purpose=attempt.purpose,
            case_id=attempt.case_id,
            subject_hash=attempt.subject_hash,
            outcome="refused" if refusal_code else "allowed",
            code=refusal_code,
        )
    )


async def record_loads(
    ledger: LedgerAppender,
    *,
    consumer: str,
    actor: str,
    resource: str,
    fields: tuple[str, ...],
    purpose: str,
    subject_hashes: Sequence[str],
    case_id: str | None = None,
) -> list[Receipt]:
    """One entry per subject a provider's load writes (kind ``load``), so that the subject's
    access log shows who changed her record, as it shows who read it (and in which case, for a
    certificate its issuer published on deciding one)."""
    at = utcnow()
    drafts = [
        EntryContent(
            seq=0,
            at=at,
            call_id=new_id(),
            kind="load",
            consumer=consumer,
            actor=actor,
            resource=resource,
            fields=fields,
            purpose=purpose,
            case_id=case_id,
            subject_hash=subject_hash,
            outcome="allowed",
            code=None,
        )
        for subject_hash in subject_hashes
    ]
    return list(await asyncio.gather(*(ledger.append(draft) for draft in drafts)))


#: Whether a refused attempt's case is one the subject named (see ``refusals_recorded``).
CaseVouch = Callable[[AccessAttempt], Awaitable[bool]]


@asynccontextmanager
async def refusals_recorded(
    ledger: LedgerAppender, attempt: AccessAttempt, *, vouch: CaseVouch | None = None
) -> AsyncIterator[None]:
    """Around the handling of an attempt: a refusal (any domain error) is recorded and carries
    the attempt's ``call_id`` and its receipt to the caller.

    The case a refused attempt names is recorded only if ``vouch`` finds the subject named it
    (a consent for that case to that consumer): the subject's access log is no place for what a
    caller chose to write there."""
    try:
        yield
    except DomainError as refusal:
        if attempt.case_id is not None and vouch is not None and not await vouch(attempt):
            attempt = dataclasses.replace(attempt, case_id=None)
        receipt = await record(ledger, attempt, refusal_code=refusal.code)
        refusal.extensions["call_id"] = str(attempt.call_id)
        refusal.extensions["receipt"] = receipt_document(receipt)
        raise


async def ensure_signer(
    sessionmaker: async_sessionmaker[AsyncSession], key_encryption_key: bytes
) -> LedgerSigner:
    """The ledger's signing key, made and stored sealed on first start. Instances starting
    together race to insert the one row; each then reads the row that won."""
    async with sessionmaker.begin() as session:
        stored = await repository.signing_key(session)
        if stored is None:
            fresh = LedgerSigner.generate()
            await repository.add_signing_key_unless_present(
                session,
                public_key=fresh.public_key,
                private_key_sealed=fresh.seal(key_encryption_key),
            )
            stored = await repository.signing_key(session)
        if stored is None:
            raise RuntimeError("the ledger signing key could not be stored")
        return LedgerSigner.unseal(stored.private_key_sealed, key_encryption_key)


def receipt_document(receipt: Receipt) -> dict[str, object]:
    return {
        "seq": receipt.entry.seq,
        "leaf_index": receipt.leaf_index,
        "entry": receipt.entry.document(),
        "tree_head": {**receipt.tree_head.document(), "key_id": receipt.key_id},
    }


async def receipt_of(session: AsyncSession, seq: int, *, key_id: str) -> Receipt:
    """A receipt for an entry recorded earlier: its content and the latest signed tree head
    (which includes it, as every head after the entry's does)."""
    entry = await repository.entry(session, seq)
    if entry is None:
        raise EntryNotFound(seq=seq)
    return Receipt(content_of(entry), await latest_tree_head(session), key_id)


def content_of(entry: LedgerEntry) -> EntryContent:
    return EntryContent(
        seq=entry.seq,
        at=entry.at,
        call_id=entry.call_id,
        kind=entry.kind,
        consumer=entry.consumer,
        actor=entry.actor,
        resource=entry.resource,
        fields=tuple(entry.fields),
        purpose=entry.purpose,
        case_id=entry.case_id,
        subject_hash=entry.subject_hash,
        outcome=entry.outcome,
        code=entry.code,
    )


def tree_head_of(checkpoint: LedgerCheckpoint) -> TreeHead:
    return TreeHead(
        checkpoint.tree_size, checkpoint.root_hash, checkpoint.published_at, checkpoint.signature
    )


async def latest_tree_head(session: AsyncSession) -> TreeHead:
    checkpoint = await repository.latest_checkpoint(session)
    if checkpoint is None:
        raise LedgerEmpty()
    return tree_head_of(checkpoint)


@dataclasses.dataclass(frozen=True, slots=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]

    @property
    def leaf_index(self) -> int:
        return self.seq - 1


async def _published_size(session: AsyncSession, tree_size: int | None) -> int:
    latest = await repository.latest_tree_size(session)
    if latest is None:
        raise LedgerEmpty()
    if tree_size is None:
        return latest
    if not 1 <= tree_size <= latest:
        raise TreeSizeNotPublished(tree_size=tree_size, latest_tree_size=latest)
    return tree_size


async def inclusion_proof(
    session: AsyncSession, seq: int, tree_size: int | None = None
) -> InclusionProof:
    """The audit path of entry ``seq`` in the tree of ``tree_size`` leaves (by default the
    latest published): one query for O(log n) stored nodes."""
    size = await _published_size(session, tree_size)
    if seq < 1:
        raise EntryNotFound(seq=seq)
    if seq > size:
        raise TreeSizeNotPublished(
            f"entry {seq} is not in the tree of {size} entries", tree_size=size
        )
    spans = inclusion_ranges(seq - 1, size)
    stored = await repository.nodes(session, nodes_for([*spans, (seq - 1, seq)]))
    if (0, seq - 1) not in stored:
        raise EntryNotFound(seq=seq)
    return InclusionProof(
        seq=seq,
        tree_size=size,
        leaf_hash=stored[(0, seq - 1)],
        audit_path=[range_hash(span, stored) for span in spans],
    )


async def consistency_proof(session: AsyncSession, first: int, second: int) -> list[bytes]:
    """The proof that the tree of ``first`` leaves is a prefix of the tree of ``second``."""
    await _published_size(session, second)
    if not 0 <= first <= second:
        raise TreeSizeNotPublished(
            "the first tree must not be larger than the second", first=first, second=second
        )
    spans = consistency_ranges(first, second)
    stored = await repository.nodes(session, nodes_for(spans))
    return [range_hash(span, stored) for span in spans]


# The audit: the whole ledger recomputed from its entries.

BreakReason = Literal[
    "missing_entry",
    "leaf_mismatch",
    "node_mismatch",
    "checkpoint_mismatch",
    "bad_signature",
    "truncated",
    "beyond_head",
]


@dataclasses.dataclass(frozen=True, slots=True)
class LedgerReport:
    entries_checked: int
    checkpoints_checked: int
    first_broken_seq: int | None = None
    reason: BreakReason | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


async def audit(session: AsyncSession, public_key: bytes, *, chunk: int = 5000) -> LedgerReport:
    """Recompute every leaf from its entry and every stored node from the leaves, check every
    signed tree head against the recomputed tree, and name the first entry that breaks.

    An edited entry no longer matches its stored leaf (``leaf_mismatch``); an edit that also
    rewrote the stored leaf and nodes is caught by the first signed tree head after it
    (``checkpoint_mismatch``, naming the first entry after the last head that still holds:
    with sequential calls, exactly the edited one). Streams the ledger in chunks.
    """
    head_size = await repository.head_size(session)
    frontier = Frontier()
    checkpoints_checked = 0
    last_good_head = 0

    def report(seq: int, reason: BreakReason) -> LedgerReport:
        return LedgerReport(frontier.size, checkpoints_checked, seq, reason)

    while True:
        entries = await repository.entries_after(session, frontier.size, chunk)
        if not entries:
            break
        first, last = entries[0].seq, entries[-1].seq
        stored_leaves = await repository.nodes_between(session, 0, first - 1, last - 1)
        heads = await repository.checkpoints_between(session, first, last)
        computed: dict[tuple[int, int], bytes] = {}
        breaks: list[tuple[int, BreakReason]] = []
        for entry in entries:
            if entry.seq != frontier.size + 1:
                breaks.append((frontier.size + 1, "missing_entry"))
                break
            leaf = content_of(entry).leaf_hash()
            if stored_leaves.get(entry.seq - 1) != leaf:
                breaks.append((entry.seq, "leaf_mismatch"))
                break
            computed.update(frontier.append(leaf)[1:])
            while heads and heads[0].tree_size == frontier.size:
                tree_head = tree_head_of(heads.pop(0))
                if not verify_tree_head(tree_head, public_key):
                    breaks.append((last_good_head + 1, "bad_signature"))
                elif tree_head.root_hash != frontier.root():
                    breaks.append((last_good_head + 1, "checkpoint_mismatch"))
                else:
                    checkpoints_checked += 1
                    last_good_head = frontier.size
                    continue
                break
            if breaks:
                break
        for level in sorted({level for level, _ in computed}):
            indexes = [index for key_level, index in computed if key_level == level]
            stored = await repository.nodes_between(session, level, min(indexes), max(indexes))
            for index in indexes:
                if stored.get(index) != computed[(level, index)]:
                    breaks.append(((index << level) + 1, "node_mismatch"))
        if breaks:
            seq, reason = min(breaks)
            return report(seq, reason)
    if frontier.size < head_size:
        return report(frontier.size + 1, "truncated")
    if frontier.size > head_size:
        return report(head_size + 1, "beyond_head")
    latest = await repository.latest_checkpoint(session)
    if latest is not None and latest.tree_size > frontier.size:
        return report(frontier.size + 1, "truncated")
    return LedgerReport(frontier.size, checkpoints_checked)
