"""Recording access decisions in the ledger, and checking the chain.

An allowed access is recorded in the request's own transaction, so that the answer and its
entry commit together. A refusal cannot be: the refusal is an exception, and the request's
transaction is rolled back on every exception. ``record_refusal`` therefore writes the entry in
a short transaction of its own; otherwise refused calls, the ones an audit most wants to see,
would leave no trace.
"""

import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from data_exchange_svc.ledger import repository
from data_exchange_svc.ledger.chain import ChainedEntry, ChainReport, EntryContent, entry_hash
from data_exchange_svc.ledger.chain import verify_chain as verify_entries
from data_exchange_svc.models import LedgerEntry
from servicekit.db import utcnow
from servicekit.problems import DomainError


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
    session: AsyncSession, attempt: AccessAttempt, *, refusal_code: str | None = None
) -> LedgerEntry:
    seq, prev_hash = await repository.take_next_seq(session)
    content = EntryContent(
        seq=seq,
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
    entry = LedgerEntry(
        seq=content.seq,
        at=content.at,
        call_id=content.call_id,
        kind=content.kind,
        consumer=content.consumer,
        actor=content.actor,
        resource=content.resource,
        fields=list(content.fields),
        purpose=content.purpose,
        case_id=content.case_id,
        subject_hash=content.subject_hash,
        outcome=content.outcome,
        code=content.code,
        prev_hash=prev_hash,
        entry_hash=entry_hash(prev_hash, content),
    )
    await repository.append(session, entry)
    return entry


async def record_refusal(
    sessionmaker: async_sessionmaker[AsyncSession], attempt: AccessAttempt, *, code: str
) -> None:
    """Record a refusal in its own transaction (see the module docstring for why)."""
    async with sessionmaker.begin() as session:
        await record(session, attempt, refusal_code=code)


@asynccontextmanager
async def refusals_recorded(
    sessionmaker: async_sessionmaker[AsyncSession], attempt: AccessAttempt
) -> AsyncIterator[None]:
    """Around the handling of an attempt: a refusal (any domain error) is recorded, in its own
    transaction, and carries the attempt's ``call_id`` to the caller."""
    try:
        yield
    except DomainError as refusal:
        await record_refusal(sessionmaker, attempt, code=refusal.code)
        refusal.extensions["call_id"] = str(attempt.call_id)
        raise


def chained(entry: LedgerEntry) -> ChainedEntry:
    content = EntryContent(
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
    return ChainedEntry(content=content, prev_hash=entry.prev_hash, entry_hash=entry.entry_hash)


async def verify_ledger(session: AsyncSession) -> ChainReport:
    """The whole chain, checked against the recorded head. (Loads every entry: fine at this
    scale; the signed checkpoints to come will let a check start from the last one.)"""
    entries = await repository.entries_in_order(session)
    return verify_entries(
        (chained(entry) for entry in entries), head=await repository.head(session)
    )
