"""Identity numbers at rest: encrypted with AES-256-GCM, found by an HMAC-SHA256 lookup hash.

The lookup hash is keyed so that the 18-digit space (small, structured: region, birth date,
sequence) cannot be enumerated from a copy of the table. Each ciphertext is bound to its own
lookup hash as associated data, so ciphertexts cannot be swapped between rows unnoticed. The
same keyed hash names the subject in the access ledger, which never holds a plain number.
"""

import datetime as dt
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from servicekit.resident_id import ResidentId, parse_resident_id

_NONCE_BYTES = 12
_CONTEXT = b"onevisit.exchange.id_number:"


class UndecryptableIdentifier(Exception):
    """A stored ciphertext fails authentication: wrong key, or the row was altered."""


def normalise_id_number(text: str) -> str:
    return text.strip().upper()


def parse_id_number(text: str, *, today: dt.date) -> ResidentId:
    """Validate the form of a number. The exchange holds no region tree: any region code that is
    well formed counts as known (retired county codes stay on ID numbers for life)."""
    return parse_resident_id(normalise_id_number(text), today=today, region_known=lambda _: True)


class IdentifierProtector:
    def __init__(self, *, encryption_key: bytes, hash_key: bytes) -> None:
        self._aead = AESGCM(encryption_key)
        self._hash_key = hash_key

    def lookup_hash(self, id_number: str) -> str:
        digest = hmac.new(self._hash_key, normalise_id_number(id_number).encode(), hashlib.sha256)
        return digest.hexdigest()

    def encrypt(self, id_number: str, *, lookup_hash: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        plain = normalise_id_number(id_number).encode()
        return nonce + self._aead.encrypt(nonce, plain, _CONTEXT + lookup_hash.encode())

    def decrypt(self, sealed: bytes, *, lookup_hash: str) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _CONTEXT + lookup_hash.encode())
        except InvalidTag as exc:
            raise UndecryptableIdentifier(
                "the stored identity number fails authentication"
            ) from exc
        return plain.decode()
