"""Personal identifiers (phone, name, ID number): sealed at rest, found by keyed hash, masked
whenever they leave the service. Nothing here logs a value.

A value is sealed with the service's keyring (``servicekit.sealing``: ``SEALING_KEYS``, by id,
new values under ``SEALING_KEY_ID``) for its row: bound to its kind and its account
(``SealedForRow`` columns), so that copied to another account, or to a column of another kind,
it does not open. ``python -m servicekit.sealing rewrap`` wraps them under a new key with the
service's other sealed columns.

Values sealed before key ids (AES-GCM under ``PERSONAL_DATA_KEY`` alone, in
``identity_svc.sealing``'s format, with ``<kind>:<account id>`` as associated data: no ``ov1.``
prefix) still open: the settings install ``legacy_opener`` with that key, which only opens, and
``rewrap`` seals each of them under the keyring. Nothing is sealed in that format any more; once
``rewrap`` has run, no value needs ``PERSONAL_DATA_KEY``.
"""

import uuid
from typing import Literal

from identity_svc.sealing import SealBroken, keyed_hash, unseal
from servicekit.sealing import (
    LegacyOpener,
    RowBinding,
    UnsealableValue,
    open_for_row,
    seal_for_row,
)

#: The sealing domain of identity-svc's columns (``IDENTITY_``).
DOMAIN = "identity"

#: ``client_address`` and ``login_address`` (a login name with an address) are only ever
#: hashed (login throttling), never sealed. ``delegate_phone`` is a phone a principal gave a
#: delegation to, sealed for her account.
Kind = Literal["phone", "name", "id_number", "client_address", "login_address", "delegate_phone"]
SealedKind = Literal["phone", "name", "id_number", "delegate_phone"]


class PersonalData:
    def __init__(self, *, lookup_key: bytes) -> None:
        self._lookup_key = lookup_key

    def seal(self, kind: SealedKind, value: str, *, account_id: uuid.UUID) -> bytes:
        return seal_for_row(DOMAIN, _binding(kind, account_id), value.encode())

    def unseal(self, kind: SealedKind, sealed: bytes, *, account_id: uuid.UUID) -> str:
        """The value; ``UnsealableValue`` if it is not this account's value of this kind."""
        return open_for_row(DOMAIN, _binding(kind, account_id), sealed).decode()

    def lookup_hash(self, kind: Kind, value: str) -> str:
        return keyed_hash(self._lookup_key, kind=kind, value=value)


def _binding(kind: SealedKind, account_id: uuid.UUID) -> RowBinding:
    return RowBinding(kind, (str(account_id),))


def legacy_opener(personal_data_key: bytes) -> LegacyOpener:
    """Opens a value sealed before key ids with ``PERSONAL_DATA_KEY``, bound to its kind and
    account as it was then."""

    def open_legacy(stored: bytes, binding: RowBinding) -> bytes:
        [account_id] = binding.row
        try:
            return unseal(
                personal_data_key, stored, associated_data=f"{binding.what}:{account_id}".encode()
            )
        except SealBroken as exc:
            raise UnsealableValue("a value sealed before key ids does not open") from exc

    return open_legacy


def mask_phone(phone: str) -> str:
    """``13800000000`` → ``138****0000``."""
    return f"{phone[:3]}****{phone[-4:]}"


def mask_id_number(number: str) -> str:
    """``330302195203140248`` → ``3303**********0248``: the city and the last four only."""
    return f"{number[:4]}{'*' * (len(number) - 8)}{number[-4:]}"


def mask_name(name: str) -> str:
    """``林秀英`` → ``林*英``; ``王芳`` → ``王*``; the first character stays, and the last when
    the name has three or more."""
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return f"{name[0]}*"
    return f"{name[0]}{'*' * (len(name) - 2)}{name[-1]}"
