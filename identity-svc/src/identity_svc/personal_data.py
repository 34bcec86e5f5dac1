"""Personal identifiers (phone, name, ID number): sealed at rest, found by keyed hash, masked
whenever they leave the service. Nothing here logs a value."""

import uuid
from typing import Literal

from identity_svc.sealing import keyed_hash, seal, unseal

#: ``client_address`` and ``login_address`` (a login name with an address) are only ever
#: hashed (login throttling), never sealed. ``delegate_phone`` is a phone a principal gave a
#: delegation to, sealed for her account.
Kind = Literal["phone", "name", "id_number", "client_address", "login_address", "delegate_phone"]


class PersonalData:
    def __init__(self, *, encryption_key: bytes, lookup_key: bytes) -> None:
        self._encryption_key = encryption_key
        self._lookup_key = lookup_key

    def seal(self, kind: Kind, value: str, *, account_id: uuid.UUID) -> bytes:
        return seal(self._encryption_key, value.encode(), associated_data=_aad(kind, account_id))

    def unseal(self, kind: Kind, sealed: bytes, *, account_id: uuid.UUID) -> str:
        opened = unseal(self._encryption_key, sealed, associated_data=_aad(kind, account_id))
        return opened.decode()

    def lookup_hash(self, kind: Kind, value: str) -> str:
        return keyed_hash(self._lookup_key, kind=kind, value=value)


def _aad(kind: Kind, account_id: uuid.UUID) -> bytes:
    return f"{kind}:{account_id}".encode()


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
