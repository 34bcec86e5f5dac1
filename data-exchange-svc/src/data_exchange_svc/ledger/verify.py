"""Checking the ledger's receipts and proofs offline, and auditing a ledger database.

Pure functions take the documents the API hands out (a receipt, an inclusion proof, a
consistency proof, tree heads) and the ledger's public key; they need no network and no
database. The command line::

    python -m data_exchange_svc.ledger.verify receipt RECEIPT.json --proof PROOF.json \\
        --public-key BASE64
    python -m data_exchange_svc.ledger.verify consistency FIRST_HEAD.json SECOND_HEAD.json \\
        PROOF.json --public-key BASE64
    python -m data_exchange_svc.ledger.verify database [--database-url URL]

prints a JSON verdict and exits 0 when everything holds, 1 otherwise. ``RECEIPT.json`` may be a
whole match or call response (its ``receipt`` member is used) or a refusal's problem body.
"""

import argparse
import asyncio
import base64
import binascii
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from data_exchange_svc.ledger.entry import canonical_json
from data_exchange_svc.ledger.merkle import leaf_hash, verify_consistency, verify_inclusion
from data_exchange_svc.ledger.signing import TreeHead, verify_tree_head


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    #: The first check that failed, e.g. ``bad_signature``; None when valid.
    failure: str | None = None

    def document(self) -> dict[str, Any]:
        return {"valid": self.valid, "failure": self.failure}


OK = Verdict(True)


class MalformedDocument(ValueError):
    """A receipt or proof that does not have the expected members or encodings."""


def _hex(value: Any) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError) as exc:
        raise MalformedDocument("a hash is not hexadecimal") from exc
    if len(raw) != 32:
        raise MalformedDocument("a hash is not 32 bytes")
    return raw


def tree_head_from(document: Mapping[str, Any]) -> TreeHead:
    try:
        return TreeHead(
            tree_size=int(document["tree_size"]),
            root_hash=_hex(document["root_hash"]),
            timestamp=dt.datetime.fromisoformat(document["timestamp"]),
            signature=base64.b64decode(document["signature"], validate=True),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise MalformedDocument(f"not a tree head: {exc}") from exc


def public_key_from(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedDocument("the public key is not base64") from exc
    if len(key) != 32:
        raise MalformedDocument("an Ed25519 public key is 32 bytes")
    return key


def verify_receipt(
    receipt: Mapping[str, Any], proof: Mapping[str, Any], public_key: bytes
) -> Verdict:
    """The receipt's tree head is signed by the ledger key, and ``proof`` (an inclusion proof
    for the receipt's entry at the head's size) puts the receipt's entry in that tree."""
    try:
        head = tree_head_from(receipt["tree_head"])
        entry = receipt["entry"]
        if not isinstance(entry, dict):
            raise MalformedDocument("the receipt's entry is not an object")
        leaf = leaf_hash(canonical_json(entry))
        seq = int(receipt["seq"])
        path = [_hex(step) for step in proof["audit_path"]]
        proof_size, proof_seq = int(proof["tree_size"]), int(proof["seq"])
    except (KeyError, TypeError, ValueError) as exc:
        return Verdict(False, f"malformed: {exc}")
    if not verify_tree_head(head, public_key):
        return Verdict(False, "bad_signature")
    if entry.get("seq") != seq or proof_seq != seq:
        return Verdict(False, "seq_mismatch")
    if proof_size != head.tree_size:
        return Verdict(False, "tree_size_mismatch")
    if not verify_inclusion(leaf, seq - 1, head.tree_size, path, head.root_hash):
        return Verdict(False, "not_included")
    return OK


def verify_consistency_proof(
    first: Mapping[str, Any],
    second: Mapping[str, Any],
    proof: Sequence[str],
    public_key: bytes,
) -> Verdict:
    """Both tree heads are signed by the ledger key and the first is a prefix of the second."""
    try:
        first_head, second_head = tree_head_from(first), tree_head_from(second)
        path = [_hex(step) for step in proof]
    except MalformedDocument as exc:
        return Verdict(False, f"malformed: {exc}")
    if not (verify_tree_head(first_head, public_key) and verify_tree_head(second_head, public_key)):
        return Verdict(False, "bad_signature")
    if not verify_consistency(
        first_head.tree_size,
        first_head.root_hash,
        second_head.tree_size,
        second_head.root_hash,
        path,
    ):
        return Verdict(False, "inconsistent")
    return OK


def _load(path: str) -> Any:
    return json.loads(Path(path).read_text())


def _receipt_in(document: Mapping[str, Any]) -> Mapping[str, Any]:
    receipt = document.get("receipt", document)
    if not isinstance(receipt, Mapping):
        raise MalformedDocument("no receipt in the document")
    return receipt


async def audit_database(database_url: str) -> dict[str, Any]:
    from data_exchange_svc.ledger import repository
    from data_exchange_svc.ledger.service import audit
    from servicekit.db import Database

    database = Database(database_url)
    try:
        async with database.sessionmaker() as session:
            key = await repository.signing_key(session)
            # Without a key no tree head can hold: any stored one is then reported as forged.
            report = await audit(session, key.public_key if key else b"")
    finally:
        await database.dispose()
    return {
        "intact": report.intact,
        "entries_checked": report.entries_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "first_broken_seq": report.first_broken_seq,
        "reason": report.reason,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_exchange_svc.ledger.verify")
    commands = parser.add_subparsers(dest="command", required=True)
    receipt = commands.add_parser("receipt", help="check a receipt against an inclusion proof")
    receipt.add_argument("receipt")
    receipt.add_argument("--proof", required=True)
    receipt.add_argument("--public-key", required=True, help="base64, as the API publishes it")
    consistency = commands.add_parser("consistency", help="check two tree heads agree")
    consistency.add_argument("first")
    consistency.add_argument("second")
    consistency.add_argument("proof")
    consistency.add_argument("--public-key", required=True)
    database = commands.add_parser("database", help="recompute a ledger database")
    database.add_argument("--database-url", help="default: the service's settings")
    arguments = parser.parse_args(argv)

    if arguments.command == "database":
        from data_exchange_svc.settings import ExchangeSettings

        url = arguments.database_url or ExchangeSettings().database_url
        result = asyncio.run(audit_database(url))
        print(json.dumps(result))
        return 0 if result["intact"] else 1
    try:
        key = public_key_from(arguments.public_key)
        if arguments.command == "receipt":
            verdict = verify_receipt(
                _receipt_in(_load(arguments.receipt)), _load(arguments.proof), key
            )
        else:
            proof = _load(arguments.proof)
            verdict = verify_consistency_proof(
                _load(arguments.first), _load(arguments.second), proof.get("proof", proof), key
            )
    except (MalformedDocument, OSError, json.JSONDecodeError) as exc:
        verdict = Verdict(False, f"malformed: {exc}")
    print(json.dumps(verdict.document()))
    return 0 if verdict.valid else 1


if __name__ == "__main__":
    sys.exit(main())
