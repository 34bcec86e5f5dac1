"""Subjects and personal identifiers: their validation, their keyed hashes, sealing at rest.

A subject is a person, named by an identity number (GB 11643), or an enterprise, named by a
unified social credit code (GB 32100). Both are found by an HMAC-SHA256 lookup hash, keyed so
that the small, structured 18-character spaces cannot be enumerated from a copy of a table; the
same hash names the subject in the access ledger, which never holds a plain identifier. A
credit code's hash is domain-separated from identity numbers', so that no code can ever share a
hash with a person.

Identity numbers at rest, and the fields of a hosted row or a held batch that carry them, are
sealed with the service's keyring (``servicekit.sealing``: ``SEALING_KEYS``, by id, new values
under ``SEALING_KEY_ID``) for their row: an identity number bound to its lookup hash, sealed
fields to their row (``SealedForRow`` columns), so that they cannot be swapped unnoticed.
``python -m servicekit.sealing rewrap`` wraps them under a new key with the service's other
sealed columns.

Values sealed before key ids (AES-256-GCM under ``IDENTIFIER_ENCRYPTION_KEY`` alone, a nonce
then the ciphertext, bound as they are now under other names: no ``ov1.`` prefix) still open:
the settings install ``legacy_opener`` with that key, which only opens, and ``rewrap`` seals each
of them under the keyring. Nothing is sealed in that format any more; once ``rewrap`` has run, no
value needs ``IDENTIFIER_ENCRYPTION_KEY``.
"""

import datetime as dt
import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import JsonValue

from servicekit.credit_code import CreditCode, InvalidCreditCode
from servicekit.credit_code import parse_credit_code as parse_gb32100
from servicekit.problems import DomainError, NotFound, extension_members
from servicekit.resident_id import InvalidResidentId, ResidentId, parse_resident_id
from servicekit.sealing import (
    LegacyOpener,
    RowBinding,
    UnsealableValue,
    open_for_row,
    seal_for_row,
)

#: The sealing domain of data-exchange-svc's columns (``EXCHANGE_``).
DOMAIN = "exchange"
#: What a population record's identity number is sealed as, bound to its lookup hash.
ID_NUMBER = "id_number"
_CREDIT_CODE_DOMAIN = b"credit_code:"
_CERTIFICATE_NUMBER_DOMAIN = b"certificate_number:"
_LEGACY_NONCE_BYTES = 12
#: The associated data of a value sealed before key ids, by what it is: then its binding's
#: values, joined by colons.
_LEGACY_CONTEXTS = {
    ID_NUMBER: b"onevisit.exchange.id_number:",
    "hosted_record": b"onevisit.exchange.sealed_fields:",
    "record_change": b"onevisit.exchange.sealed_fields:record_change:",
}

SubjectKind = Literal["person", "enterprise"]


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
    def __init__(self, *, hash_key: bytes) -> None:
        self._hash_key = hash_key

    def lookup_hash(self, id_number: str) -> str:
        digest = hmac.new(self._hash_key, normalise_id_number(id_number).encode(), hashlib.sha256)
        return digest.hexdigest()

    def credit_code_hash(self, credit_code: str) -> str:
        message = _CREDIT_CODE_DOMAIN + credit_code.strip().encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def certificate_number_hash(self, certificate_type: str, number: str) -> str:
        """A certificate's number by its keyed hash, within its type: numbers of different
        types may coincide."""
        message = _CERTIFICATE_NUMBER_DOMAIN + f"{certificate_type}:{number.strip()}".encode()
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def subject_hash(self, subject: SubjectRef) -> str:
        if subject.kind == "person":
            return self.lookup_hash(subject.identifier)
        return self.credit_code_hash(subject.identifier)

    def seal_fields(self, values: dict[str, JsonValue], *, binding: RowBinding) -> bytes:
        """Seal a row's identifier-bearing fields as one JSON document, bound to ``binding``
        (the hosted row, or the held change)."""
        plain = json.dumps(values, ensure_ascii=False, separators=(",", ":")).encode()
        return seal_for_row(DOMAIN, binding, plain)

    def open_fields(self, sealed: bytes, *, binding: RowBinding) -> dict[str, JsonValue]:
        """The fields; ``UnsealableValue`` if they were not sealed for ``binding``."""
        values: dict[str, JsonValue] = json.loads(open_for_row(DOMAIN, binding, sealed))
        return values

    def encrypt(self, id_number: str, *, lookup_hash: str) -> bytes:
        plain = normalise_id_number(id_number).encode()
        return seal_for_row(DOMAIN, RowBinding(ID_NUMBER, (lookup_hash,)), plain)

    def decrypt(self, sealed: bytes, *, lookup_hash: str) -> str:
        """The number; ``UnsealableValue`` if it is not the one of ``lookup_hash``."""
        return open_for_row(DOMAIN, RowBinding(ID_NUMBER, (lookup_hash,)), sealed).decode()


def legacy_opener(identifier_encryption_key: bytes) -> LegacyOpener:
    """Opens a value sealed before key ids with ``IDENTIFIER_ENCRYPTION_KEY``, bound to its
    lookup hash or its row as it was then."""
    aead = AESGCM(identifier_encryption_key)

    def open_legacy(stored: bytes, binding: RowBinding) -> bytes:
        context = _LEGACY_CONTEXTS.get(binding.what)
        if context is None:
            raise UnsealableValue(f"nothing of kind {binding.what!r} was sealed before key ids")
        nonce, ciphertext = stored[:_LEGACY_NONCE_BYTES], stored[_LEGACY_NONCE_BYTES:]
        try:
            return aead.decrypt(nonce, ciphertext, context + ":".join(binding.row).encode())
        except InvalidTag as exc:
            raise UnsealableValue("a value sealed before key ids does not open") from exc

    return open_legacy
