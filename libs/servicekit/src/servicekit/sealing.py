"""Personal data at rest, sealed: envelope encryption of a column's values.

Each value gets a data key of its own (AES-256-GCM, a fresh 96-bit nonce); the data key is
wrapped by the service's current key-encryption key, named by its id, which the settings hold
(``SEALING_KEYS``: id → base64 of 32 bytes, ``SEALING_KEY_ID``: the one new values use). A
sealed value is one string::

    ov1.<key id>.<wrapped data key, base64url>.<nonce + ciphertext, base64url>

stored in the column's own type (a JSON document holds it as a JSON string, a text column as
text), so sealing a column needs no change of schema, and a value written before the column
was sealed still reads (as it was written) until ``rewrap`` seals it.

Both encryptions are bound to the column (``<domain>:<table>.<column>``): a sealed value moved
to another column does not open. Rotation: add a key to ``SEALING_KEYS``, make it
``SEALING_KEY_ID`` and run ``python -m servicekit.sealing rewrap --models pkg.models:Base``:
every sealed value's data key is wrapped again under the new key (its data is not re-encrypted)
and every value still in clear is sealed; then the old key can go.

Columns declare their sealing with ``SealedJSON(domain, context)`` / ``SealedText(...)``; the
service's app installs its keyring for its domain at start (``install``).
"""

from __future__ import annotations

import abc
import argparse
import asyncio
import base64
import datetime as dt
import importlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import JSON, LargeBinary, MetaData, Text, select, type_coerce, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeDecorator

_PREFIX = "ov1."
_NONCE = 12


class UnsealableValue(ValueError):
    """A sealed value that no key of the keyring opens: a missing key, or tampering."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Keyring:
    """The key-encryption keys of one domain (a service), by id, and the one new values use."""

    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"the current sealing key {self.current!r} is not in the keyring")
        if any("." in key_id or not key_id for key_id in self.keys):
            raise ValueError("a sealing key's id is a non-empty name without dots")

    def seal(self, plain: bytes, *, context: str) -> str:
        aad = context.encode()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        body = nonce + AESGCM(data_key).encrypt(nonce, plain, aad)
        return _PREFIX + ".".join(
            (self.current, self._wrap(data_key, self.current, aad), _b64(body))
        )

    def _wrap(self, data_key: bytes, key_id: str, aad: bytes) -> str:
        nonce = os.urandom(_NONCE)
        return _b64(nonce + AESGCM(self.keys[key_id]).encrypt(nonce, data_key, aad))

    def _data_key(self, key_id: str, wrapped: str, aad: bytes) -> bytes:
        key = self.keys.get(key_id)
        if key is None:
            raise UnsealableValue(f"no sealing key {key_id!r} in the keyring")
        raw = _unb64(wrapped)
        try:
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)
        except InvalidTag as exc:
            raise UnsealableValue("a data key fails authentication") from exc

    def open(self, sealed: str, *, context: str) -> bytes:
        key_id, wrapped, body = _parts(sealed)
        aad = context.encode()
        raw = _unb64(body)
        try:
            return AESGCM(self._data_key(key_id, wrapped, aad)).decrypt(
                raw[:_NONCE], raw[_NONCE:], aad
            )
        except InvalidTag as exc:
            raise UnsealableValue("a sealed value fails authentication") from exc

    def rewrap(self, sealed: str, *, context: str) -> str:
        """The same value with its data key wrapped under the current key."""
        key_id, wrapped, body = _parts(sealed)
        if key_id == self.current:
            return sealed
        aad = context.encode()
        data_key = self._data_key(key_id, wrapped, aad)
        return _PREFIX + ".".join((self.current, self._wrap(data_key, self.current, aad), body))


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(_PREFIX)


def _parts(sealed: str) -> tuple[str, str, str]:
    parts = sealed[len(_PREFIX) :].split(".")
    if not sealed.startswith(_PREFIX) or len(parts) != 3:
        raise UnsealableValue("not a sealed value")
    return parts[0], parts[1], parts[2]


_KEYRINGS: dict[str, Keyring] = {}


def install(domain: str, keyring: Keyring) -> None:
    """The keyring a domain's columns seal and open with, for this process."""
    _KEYRINGS[domain] = keyring


def keyring_of(domain: str) -> Keyring:
    try:
        return _KEYRINGS[domain]
    except KeyError:
        raise RuntimeError(f"no sealing keyring installed for {domain!r}") from None


class _Sealed(TypeDecorator[Any]):
    cache_ok = True

    def __init__(self, domain: str, context: str) -> None:
        super().__init__()
        self.domain = domain
        #: ``<domain>:<table>.<column>``: what the value is bound to.
        self.context = f"{domain}:{context}"

    @abc.abstractmethod
    def _encode(self, value: Any) -> bytes:
        """The value as the bytes that are sealed (each kind of column says how)."""

    @abc.abstractmethod
    def _decode(self, plain: bytes) -> Any:
        """The value again from the bytes that were sealed."""

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None or is_sealed(value):
            return value
        return keyring_of(self.domain).seal(self._encode(value), context=self.context)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if not is_sealed(value):
            # Written before the column was sealed: as it was, until rewrap seals it.
            return value
        return self._decode(keyring_of(self.domain).open(value, context=self.context))


class SealedJSON(_Sealed):
    """A JSON document, sealed: the column holds the sealed string as a JSON string (JSON, or
    JSONB on PostgreSQL with ``jsonb``, as the column was made)."""

    impl = JSON
    cache_ok = True

    def __init__(self, domain: str, context: str, *, jsonb: bool = False) -> None:
        super().__init__(domain, context)
        self.jsonb = jsonb

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if self.jsonb and dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(JSON())

    def _encode(self, value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def _decode(self, plain: bytes) -> Any:
        return json.loads(plain)


class SealedText(_Sealed):
    """Free text, sealed."""

    impl = Text
    cache_ok = True

    def _encode(self, value: Any) -> bytes:
        return str(value).encode()

    def _decode(self, plain: bytes) -> Any:
        return plain.decode()


class SealedDate(_Sealed):
    """A date (a birth date), sealed in a text column; one written before reads as a date."""

    impl = Text
    cache_ok = True

    def _encode(self, value: Any) -> bytes:
        return str(value.isoformat()).encode()

    def _decode(self, plain: bytes) -> Any:
        return dt.date.fromisoformat(plain.decode())

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, str) and not is_sealed(value):
            return dt.date.fromisoformat(value[:10])
        return super().process_result_value(value, dialect)


class SealedBytes(_Sealed):
    """Bytes (a face template), sealed in a binary column as the sealed string's ASCII."""

    impl = LargeBinary
    cache_ok = True

    def _encode(self, value: Any) -> bytes:
        return bytes(value)

    def _decode(self, plain: bytes) -> Any:
        return plain

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        sealed = super().process_bind_param(value, dialect)
        return sealed.encode() if isinstance(sealed, str) else sealed

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if isinstance(value, memoryview):
            value = bytes(value)
        if isinstance(value, bytes) and value.startswith(_PREFIX.encode()):
            return super().process_result_value(value.decode(), dialect)
        return value


async def rewrap(connection: AsyncConnection, metadata: MetaData, keyring: Keyring) -> int:
    """Wrap every sealed value of ``metadata``'s sealed columns under the keyring's current key,
    and seal every value still in clear; the number of values changed. Idempotent: run it
    again and it changes nothing."""
    changed = 0
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        for column in table.columns:
            if not isinstance(column.type, _Sealed):
                continue
            sealed_type = column.type
            raw = type_coerce(column, sealed_type.impl_instance)
            rows = (await connection.execute(select(*keys, raw.label("value")))).all()
            for row in rows:
                value = row.value
                if value is None:
                    continue
                if isinstance(sealed_type, SealedBytes):
                    value = bytes(value)
                    text = value.decode() if value.startswith(_PREFIX.encode()) else None
                else:
                    text = value if is_sealed(value) else None
                if text is not None:
                    updated: Any = keyring.rewrap(text, context=sealed_type.context)
                else:
                    plain = sealed_type.process_result_value(value, connection.dialect)
                    updated = keyring.seal(sealed_type._encode(plain), context=sealed_type.context)
                if isinstance(sealed_type, SealedBytes):
                    updated = updated.encode()
                if updated == value:
                    continue
                where = [key == row._mapping[key.name] for key in keys]
                await connection.execute(
                    update(table)
                    .where(*where)
                    .values({column.name: type_coerce(updated, raw.type)})
                )
                changed += 1
    return changed


def _named(reference: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def main(argv: list[str] | None = None) -> int:
    """``python -m servicekit.sealing rewrap --settings case_svc.settings:CaseSettings --models
    case_svc.models:Base``: the service's database (its settings' ``DATABASE_URL``) rewrapped
    under its current ``SEALING_KEY_ID``."""
    from servicekit.db import create_engine

    parser = argparse.ArgumentParser(prog="python -m servicekit.sealing", description=main.__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("rewrap", help="wrap every sealed value under the current key")
    command.add_argument("--settings", required=True, help="module:SettingsClass")
    command.add_argument("--models", required=True, help="module:DeclarativeBase")
    arguments = parser.parse_args(argv)
    settings = _named(arguments.settings)()
    metadata = _named(arguments.models).metadata

    async def run() -> int:
        settings.install_sealing()
        engine = create_engine(settings.database_url)
        try:
            async with engine.begin() as connection:
                return await rewrap(connection, metadata, settings.sealing_keyring())
        finally:
            await engine.dispose()

    changed = asyncio.run(run())
    print(f"{changed} value(s) sealed or wrapped under {settings.sealing_key_id!r}")
    return 0


if __name__ == "__main__":
    # Run as ``python -m``, this module is ``__main__``, a copy whose column types are not the
    # ones the models were declared with: the command is the imported module's, which knows them.
    from servicekit.sealing import main as command

    raise SystemExit(command())
