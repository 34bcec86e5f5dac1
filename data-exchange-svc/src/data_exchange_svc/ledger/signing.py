"""Signed tree heads and the ledger's Ed25519 key.

A tree head signs ``onevisit-exchange-ledger/v1`` and a newline, then the canonical JSON of
``{"tree_size", "root_hash" (hex), "timestamp" (ISO 8601 UTC, microseconds)}``. The key is made
once per ledger, on first start, and kept in the database with its private half sealed
(AES-256-GCM) under the settings' ledger key-encryption key; the row has a fixed id, so that
instances starting together agree on one key.
"""

import base64
import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from data_exchange_svc.ledger.entry import canonical_json

_DOMAIN = b"onevisit-exchange-ledger/v1\n"
_NONCE_BYTES = 12
_SEAL_CONTEXT = b"onevisit.exchange.ledger_signing_key"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True, slots=True)
class TreeHead:
    tree_size: int
    root_hash: bytes
    timestamp: dt.datetime
    signature: bytes

    def signed_bytes(self) -> bytes:
        return tree_head_message(self.tree_size, self.root_hash, self.timestamp)

    def document(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp.astimezone(dt.UTC).isoformat(timespec="microseconds"),
            "signature": b64(self.signature),
        }


def tree_head_message(tree_size: int, root_hash: bytes, timestamp: dt.datetime) -> bytes:
    document = {
        "tree_size": tree_size,
        "root_hash": root_hash.hex(),
        "timestamp": timestamp.astimezone(dt.UTC).isoformat(timespec="microseconds"),
    }
    return _DOMAIN + canonical_json(document)


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def verify_tree_head(head: TreeHead, public_key: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(head.signature, head.signed_bytes())
    except (InvalidSignature, ValueError):
        return False
    return True


class LedgerSigner:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = key_id(self.public_key)

    @classmethod
    def generate(cls) -> "LedgerSigner":
        return cls(Ed25519PrivateKey.generate())

    def sign(self, tree_size: int, root_hash: bytes, timestamp: dt.datetime) -> TreeHead:
        signature = self._private.sign(tree_head_message(tree_size, root_hash, timestamp))
        return TreeHead(tree_size, root_hash, timestamp, signature)

    def sign_message(self, message: bytes) -> bytes:
        """Sign anything else the exchange vouches for (a request to a provider, say). The
        caller prefixes its own context: a tree head's message starts with one of its own."""
        return self._private.sign(message)

    def seal(self, key_encryption_key: bytes) -> bytes:
        raw = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + AESGCM(key_encryption_key).encrypt(nonce, raw, _SEAL_CONTEXT)

    @classmethod
    def unseal(cls, sealed: bytes, key_encryption_key: bytes) -> "LedgerSigner":
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            raw = AESGCM(key_encryption_key).decrypt(nonce, ciphertext, _SEAL_CONTEXT)
        except InvalidTag as exc:
            raise RuntimeError(
                "the ledger signing key does not open with the configured key-encryption key"
            ) from exc
        return cls(Ed25519PrivateKey.from_private_bytes(raw))
