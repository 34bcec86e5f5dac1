"""The access ledger's hash chain, as pure functions over entries.

Each entry's hash is ``SHA-256(prev_hash || canonical JSON of the entry)``, the first entry's
``prev_hash`` being 32 zero bytes. Changing, removing or reordering any entry breaks every hash
after it; ``verify_chain`` names the first sequence number where the chain no longer holds.
Canonical JSON: keys sorted, no whitespace, UTF-8, timestamps in ISO 8601 UTC with
microseconds. (Signed tree heads over a Merkle tree of these entries will build on the same
canonical form.)
"""

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

GENESIS_HASH = "00" * 32

BreakReason = Literal[
    "missing_entry",
    "prev_hash_mismatch",
    "entry_hash_mismatch",
    "truncated",
    "beyond_head",
    "head_mismatch",
]


@dataclass(frozen=True, slots=True)
class EntryContent:
    """What one entry says: everything the hash covers."""

    seq: int
    at: dt.datetime
    call_id: uuid.UUID
    kind: str
    consumer: str
    actor: str
    resource: str
    fields: tuple[str, ...]
    purpose: str
    case_id: str | None
    subject_hash: str
    outcome: str
    code: str | None

    def canonical(self) -> bytes:
        document: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "call_id": str(self.call_id),
            "kind": self.kind,
            "consumer": self.consumer,
            "actor": self.actor,
            "resource": self.resource,
            "fields": list(self.fields),
            "purpose": self.purpose,
            "case_id": self.case_id,
            "subject_hash": self.subject_hash,
            "outcome": self.outcome,
            "code": self.code,
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode()


@dataclass(frozen=True, slots=True)
class ChainedEntry:
    content: EntryContent
    prev_hash: str
    entry_hash: str


def entry_hash(prev_hash: str, content: EntryContent) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + content.canonical()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries_checked: int
    first_broken_seq: int | None = None
    reason: BreakReason | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


def verify_chain(
    entries: Iterable[ChainedEntry], *, head: tuple[int, str] | None = None
) -> ChainReport:
    """Check ``entries`` (in seq order, from seq 1). ``head`` is the (seq, hash) the ledger last
    recorded as its end: entries cut off the tail are caught against it."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for entry in entries:
        seq = entry.content.seq
        if seq != expected_seq:
            return ChainReport(checked, expected_seq, "missing_entry")
        if entry.prev_hash != prev_hash:
            return ChainReport(checked, seq, "prev_hash_mismatch")
        if entry_hash(entry.prev_hash, entry.content) != entry.entry_hash:
            return ChainReport(checked, seq, "entry_hash_mismatch")
        checked += 1
        prev_hash = entry.entry_hash
        expected_seq += 1
    if head is not None:
        head_seq, head_hash = head
        last_seq = expected_seq - 1
        if head_seq > last_seq:
            return ChainReport(checked, last_seq + 1, "truncated")
        if head_seq < last_seq:
            return ChainReport(checked, head_seq + 1, "beyond_head")
        if head_seq > 0 and head_hash != prev_hash:
            return ChainReport(checked, head_seq, "head_mismatch")
    return ChainReport(checked)
