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

A value may also be bound to its row (a phone to its account, so that copied to another account
it does not open): a column type sees a value without its row, so the service seals and opens
those itself (``seal_for_row``, ``open_for_row``, with a ``RowBinding``: what the value is and
the row's values it is bound to), and the column declares them with ``SealedForRow(domain, what,
bound_to=(column, ...))`` so that ``rewrap`` finds each value's binding in its row. A service
that sealed such values before key ids, in a single-key format of its own (anything without the
``ov1.`` prefix), gives ``install`` a ``LegacyOpener`` for them: they open with it, and
``rewrap`` seals each of them under the current key; nothing is written in that format again.
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
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    JSON,
    Column,
    LargeBinary,
    MetaData,
    Table,
    Text,
    select,
    type_coerce,
    update,
)
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


#: A sealed value as bytes, in full: a value of a single-key format (a nonce first, random bytes)
#: starting with ``ov1.`` by chance still fails this, as its base64url parts would have to be
#: nothing but base64url characters too.
_SEALED_BYTES = re.compile(re.escape(_PREFIX.encode()) + rb"[^.]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


def _sealed_text(stored: bytes) -> str | None:
    """The sealed value ``stored`` holds as ASCII, or None for a value of another format."""
    if _SEALED_BYTES.fullmatch(stored) is None:
        return None
    try:
        return stored.decode()
    except UnicodeDecodeError:
        return None


def _parts(sealed: str) -> tuple[str, str, str]:
    parts = sealed[len(_PREFIX) :].split(".")
    if not sealed.startswith(_PREFIX) or len(parts) != 3:
        raise UnsealableValue("not a sealed value")
    return parts[0], parts[1], parts[2]


@dataclass(frozen=True)
class RowBinding:
    """What a value sealed for its row is bound to: what it is (``phone``) and the values of its
    row that say whose it is (an account's id), in the order its column names them
    (``SealedForRow.bound_to``)."""

    what: str
    row: tuple[str, ...]

    def context(self, domain: str) -> str:
        # JSON, so that no two bindings make one context whatever their values hold.
        return f"{domain}:" + json.dumps([self.what, *self.row], separators=(",", ":"))


#: Opens a value a service sealed for its row before key ids, in its own single-key format, or
#: raises ``UnsealableValue``: ``(stored value, its binding) -> the value's bytes``.
LegacyOpener = Callable[[bytes, RowBinding], bytes]

_KEYRINGS: dict[str, Keyring] = {}
_LEGACY_OPENERS: dict[str, LegacyOpener] = {}


def install(domain: str, keyring: Keyring, *, legacy: LegacyOpener | None = None) -> None:
    """The keyring a domain's columns seal and open with, for this process, and how it opens
    values sealed for their row before key ids, if it has any."""
    _KEYRINGS[domain] = keyring
    if legacy is None:
        _LEGACY_OPENERS.pop(domain, None)
    else:
        _LEGACY_OPENERS[domain] = legacy


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


def seal_for_row(domain: str, binding: RowBinding, plain: bytes) -> bytes:
    """``plain`` sealed under the domain's current key, bound to ``binding``: what a
    ``SealedForRow`` column holds (the sealed value's ASCII)."""
    return keyring_of(domain).seal(plain, context=binding.context(domain)).encode()


def open_for_row(domain: str, binding: RowBinding, stored: bytes) -> bytes:
    """The bytes a ``SealedForRow`` value holds; ``UnsealableValue`` if it does not open bound
    to ``binding`` (a value of another row), under any key of the keyring."""
    sealed = _sealed_text(stored)
    if sealed is not None:
        return keyring_of(domain).open(sealed, context=binding.context(domain))
    legacy = _LEGACY_OPENERS.get(domain)
    if legacy is None:
        raise UnsealableValue(f"{domain!r} has no opener of values sealed before key ids")
    return legacy(stored, binding)


class SealedForRow(TypeDecorator[bytes]):
    """A binary column of values sealed for their row by the service (``seal_for_row``), bound
    to what they are (``what``) and to the values of the row's ``bound_to`` columns, which a
    column type does not see: the column only tells ``rewrap`` where they are and what each is
    bound to."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, domain: str, what: str, *, bound_to: tuple[str, ...]) -> None:
        super().__init__()
        self.domain = domain
        self.what = what
        self.bound_to = bound_to

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return bytes(value) if isinstance(value, memoryview) else value


async def _rewrap_for_rows(
    connection: AsyncConnection,
    table: Table,
    column: Column[Any],
    keyring: Keyring,
    legacy: LegacyOpener | None,
) -> int:
    """Wrap the column's values under the current key, each bound to its row, and seal again
    those sealed before key ids."""
    sealed_type = column.type
    assert isinstance(sealed_type, SealedForRow)
    keys = list(table.primary_key.columns)
    bound_to = [table.c[name] for name in sealed_type.bound_to]
    raw = type_coerce(column, LargeBinary())
    labels = [f"bound_{index}" for index in range(len(bound_to))]
    statement = select(
        *keys,
        *(bound.label(label) for bound, label in zip(bound_to, labels, strict=True)),
        raw.label("value"),
    )
    changed = 0
    for row in (await connection.execute(statement)).all():
        if not row.value:  # none held (a decided change keeps an empty value)
            continue
        stored = bytes(row.value)
        binding = RowBinding(sealed_type.what, tuple(str(row._mapping[label]) for label in labels))
        context = binding.context(sealed_type.domain)
        sealed = _sealed_text(stored)
        if sealed is not None:
            updated = keyring.rewrap(sealed, context=context).encode()
        elif legacy is None:
            raise UnsealableValue(
                f"{table.name}.{column.name} holds values sealed before key ids, and "
                f"{sealed_type.domain!r} has no opener of them"
            )
        else:
            updated = keyring.seal(legacy(stored, binding), context=context).encode()
        if updated == stored:
            continue
        where = [key == row._mapping[key.name] for key in keys]
        await connection.execute(
            update(table).where(*where).values({column.name: type_coerce(updated, LargeBinary())})
        )
        changed += 1
    return changed


async def rewrap(
    connection: AsyncConnection,
    metadata: MetaData,
    keyring: Keyring,
    *,
    legacy: LegacyOpener | None = None,
) -> int:
    """Wrap every sealed value of ``metadata``'s sealed columns under the keyring's current key,
    seal every value still in clear, and seal under it every value sealed for its row before key
    ids (opened with ``legacy``); the number of values changed. Idempotent: run it again and it
    changes nothing."""
    changed = 0
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        for column in table.columns:
            if isinstance(column.type, SealedForRow):
                changed += await _rewrap_for_rows(connection, table, column, keyring, legacy)
                continue
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
    under its current ``SEALING_KEY_ID``, values sealed for their row before key ids included
    (opened with its settings' ``sealing_legacy_opener()``)."""
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
                return await rewrap(
                    connection,
                    metadata,
                    settings.sealing_keyring(),
                    legacy=settings.sealing_legacy_opener(),
                )
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
