"""Subjects and personal identifiers: their validation, their keyed hashes, sealing at rest.

A subject is a person, named by an identity number (GB 11643), or an enterprise, named by a
unified social credit code (GB 32100). Both are found by an HMAC-SHA256 lookup hash, keyed so
that the small, structured 18-character spaces cannot be enumerated from a copy of a table; the
same hash names the subject in the access ledger, which never holds a plain identifier. A
credit code's hash is domain-separated from identity numbers', so that no code can ever share a
hash with a person.

Identity numbers at rest are encrypted with AES-256-GCM, each ciphertext bound to its lookup
hash (or to its row) as associated data, so that ciphertexts cannot be swapped unnoticed.
"""

import datetime as dt
import functools
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import JsonValue

from servicekit.credit_code import CreditCode, InvalidCreditCode
from servicekit.credit_code import parse_credit_code as parse_gb32100
from servicekit.problems import DomainError, NotFound, extension_members
from servicekit.resident_id import InvalidResidentId, ResidentId, parse_resident_id

_NONCE_BYTES = 12
_CONTEXT = b"onevisit.exchange.id_number:"
_DOCUMENT_CONTEXT = b"onevisit.exchange.sealed_fields:"
_CREDIT_CODE_DOMAIN = b"credit_code:"

SubjectKind = Literal["person", "enterprise"]


class UndecryptableIdentifier(Exception):
    """A stored ciphertext fails authentication: wrong key, or the row was altered."""


def normalise_id_number(text: str) -> str:
    return text.strip().upper()


@functools.lru_cache(maxsize=1 << 16)
def parse_id_number(text: str, *, today: dt.date) -> ResidentId:
    """Validate the form of a number. The exchange holds no region tree: any region code that is
    well formed counts as known (retired county codes stay on ID numbers for life). Remembered:
    a load names the same people many times over (subjects, spouses, household members)."""
    return parse_resident_id(normalise_id_number(text), today=today, region_known=lambda _: True)


def parse_credit_code(text: str) -> CreditCode:
    """Validate the form of a code. As for identity numbers, any well-formed region code counts
    as known: the exchange holds no region tree, and a retired code stays on a licence."""
    return parse_gb32100(text.strip(), region_known=lambda _: True)


class InvalidSubject(DomainError):
    """A subject (of a call, a match, a consent or a citizen link) that is no valid identifier,
    or of a kind the resource is not about."""

    status = 422
    code = "invalid_subject"
    title = "The subject is not a valid identifier of a kind the resource is about"
    members = extension_members(
        reason={
            "type": "string",
            "description": "The first rule the identifier breaks (an identity number's or a "
            "credit code's), `not_exactly_one_identifier`, or `subject_kind_not_accepted`",
            "examples": ["check_character_mismatch"],
        },
        subject_kinds={
            "type": "array",
            "items": {"type": "string", "enum": ["person", "enterprise"]},
            "description": "The kinds of subject the resource is about",
            "examples": [["person"]],
        },
    )


class SubjectNotFound(NotFound):
    code = "subject_not_found"
    title = "The registry holds no such subject"


class InvalidSubjectIdentifier(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """A validated subject: its kind and its identifier in normal form."""

    kind: SubjectKind
    identifier: str

    @property
    def kind_key(self) -> str:
        """The name of its identifier in a subject object: ``id_number`` or ``credit_code``."""
        return "id_number" if self.kind == "person" else "credit_code"


def parse_subject(*, id_number: str | None, credit_code: str | None, today: dt.date) -> SubjectRef:
    """Exactly one identifier, well formed; ``InvalidSubjectIdentifier`` with a reason if not."""
    if (id_number is None) == (credit_code is None):
        raise InvalidSubjectIdentifier(
            "not_exactly_one_identifier", "a subject is one id_number or one credit_code"
        )
    try:
        if id_number is not None:
            return SubjectRef("person", parse_id_number(id_number, today=today).number)
        assert credit_code is not None
        return SubjectRef("enterprise", parse_credit_code(credit_code).code)
    except (InvalidResidentId, InvalidCreditCode) as exc:
        raise InvalidSubjectIdentifier(exc.reason, str(exc)) from exc


class IdentifierProtector:
    def __init__(self, *, encryption_key: bytes, hash_key: bytes) -> None:
        self._aead = AESGCM(encryption_key)
        self._hash_key = hash_key

    def lookup_hash(self, id_number: str) -> str:
        digest = hmac.new(self._hash_key, normalise_id_number(id_number).encode(), hashlib.sha256)
        return digest.hexdigest()

    def credit_code_hash(self, credit_code: str) -> str:
        message = _CREDIT_CODE_DOMAIN + credit_code.strip().encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def subject_hash(self, subject: SubjectRef) -> str:
        if subject.kind == "person":
            return self.lookup_hash(subject.identifier)
        return self.credit_code_hash(subject.identifier)

    def seal_fields(self, values: dict[str, JsonValue], *, binding: str) -> bytes:
        """Seal a row's identifier-bearing fields as one JSON document, bound to ``binding``
        (the row's resource, subject hash and position)."""
        nonce = os.urandom(_NONCE_BYTES)
        plain = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
        return nonce + self._aead.encrypt(nonce, plain, _DOCUMENT_CONTEXT + binding.encode())

    def open_fields(self, sealed: bytes, *, binding: str) -> dict[str, JsonValue]:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _DOCUMENT_CONTEXT + binding.encode())
        except InvalidTag as exc:
            raise UndecryptableIdentifier("the sealed fields fail authentication") from exc
        values: dict[str, JsonValue] = json.loads(plain)
        return values

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
