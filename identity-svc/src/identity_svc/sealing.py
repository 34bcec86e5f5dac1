"""Authenticated encryption under one key (AES-256-GCM) and keyed lookup hashes (HMAC-SHA256).

A sealed value is ``version (1 byte) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag``. The associated
data names what the value is and whose it is (a signing key's id), so a ciphertext copied into
another row or column fails to open instead of reading as something else. The private signing
keys are sealed so under ``KEY_ENCRYPTION_KEY``; personal data was sealed so under
``PERSONAL_DATA_KEY`` before it was sealed with key ids (``identity_svc.personal_data``), and
such values are only opened now.
"""

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_NONCE_BYTES = 12


class SealBroken(Exception):
    """The ciphertext was altered, sealed with another key, or belongs elsewhere."""


def seal(key: bytes, plaintext: bytes, *, associated_data: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return _VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def unseal(key: bytes, sealed: bytes, *, associated_data: bytes) -> bytes:
    if sealed[:1] != _VERSION:
        raise SealBroken("unknown seal version")
    nonce = sealed[1 : 1 + _NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + _NONCE_BYTES :], associated_data)
    except InvalidTag as exc:
        raise SealBroken("the seal does not open") from exc


def keyed_hash(key: bytes, *, kind: str, value: str) -> str:
    """The same value of the same kind always hashes alike; nobody without the key can tell."""
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
