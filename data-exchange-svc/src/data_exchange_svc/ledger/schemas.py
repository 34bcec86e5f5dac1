"""What the ledger API gives: tree heads, receipts, proofs, verdicts. Hashes are hex, the
signature and public key base64; timestamps are the exact strings that were signed."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TreeHeadRead(BaseModel):
    tree_size: int = Field(ge=0)
    root_hash: str = Field(min_length=64, max_length=64)
    timestamp: str = Field(max_length=40)
    signature: str = Field(max_length=128)


class SignedTreeHeadRead(TreeHeadRead):
    #: SHA-256 (hex) of the raw public key that signed it.
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tree_size": 1201,
                    "root_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                    "timestamp": "2026-11-26T01:31:08Z",
                    "signature": "MEUCIQDx7v0n3c2n3E8v0b0p9lWq3yF2kTq1Y5a3Q5c2bK4N9w==",
                    "key_id": "ledger-2026-11",
                }
            ]
        }
    )

    key_id: str = Field(max_length=64)


#: One receipt as the ledger answers it: the examples of every answer that carries one.
RECEIPT_EXAMPLE: dict[str, Any] = {
    "seq": 1201,
    "leaf_index": 1200,
    "entry": {
        "seq": 1201,
        "at": "2026-11-26T01:31:07Z",
        "kind": "call",
        "consumer": "identity-svc",
        "resource": "population",
        "fields": ["registered_region"],
        "purpose": "real_name_verification",
        "outcome": "allowed",
    },
    "tree_head": {
        "tree_size": 1201,
        "root_hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "timestamp": "2026-11-26T01:31:08Z",
        "signature": "MEUCIQDx7v0n3c2n3E8v0b0p9lWq3yF2kTq1Y5a3Q5c2bK4N9w==",
        "key_id": "ledger-2026-11",
    },
}


class ReceiptRead(BaseModel):
    """Where a call's entry stands: anyone holding this, an inclusion proof and the public key
    can check that the ledger recorded exactly this entry."""

    model_config = ConfigDict(json_schema_extra={"examples": [RECEIPT_EXAMPLE]})

    seq: int = Field(ge=1)
    #: ``seq - 1``: the leaf's index in the Merkle tree.
    leaf_index: int = Field(ge=0)
    #: The entry as recorded; its canonical JSON is the leaf's content.
    entry: dict[str, Any]
    #: A signed tree head that already includes the entry.
    tree_head: SignedTreeHeadRead


class InclusionProofRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "seq": 1201,
                    "leaf_index": 1200,
                    "tree_size": 1201,
                    "leaf_hash": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                    "audit_path": [
                        "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
                    ],
                }
            ]
        }
    )

    seq: int
    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


class ConsistencyProofRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "first": 1024,
                    "second": 1201,
                    "proof": ["fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"],
                }
            ]
        }
    )

    first: int
    second: int
    proof: list[str]


class PublicKeyRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "algorithm": "Ed25519",
                    "public_key": "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=",
                    "key_id": "ledger-2026-11",
                }
            ]
        }
    )

    algorithm: str = "Ed25519"
    #: The raw 32-byte public key, base64.
    public_key: str
    key_id: str


class VerdictRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"valid": True, "failure": None}]})

    valid: bool
    failure: str | None
