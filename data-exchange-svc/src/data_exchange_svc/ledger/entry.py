"""One ledger entry and its canonical form: the bytes its Merkle leaf hashes.

Canonical JSON: keys sorted, no whitespace, UTF-8 (not ASCII-escaped), timestamps in ISO 8601
UTC with microseconds. A receipt carries the entry as this JSON document, so that anyone holding
it can recompute the leaf hash.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from data_exchange_svc.ledger.merkle import leaf_hash


def canonical_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class EntryContent:
    """What one entry says: everything its leaf hash covers."""

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

    def document(self) -> dict[str, Any]:
        return {
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

    def canonical(self) -> bytes:
        return canonical_json(self.document())

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.canonical())
