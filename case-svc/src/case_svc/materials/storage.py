"""Where the content of materials is kept: a seam with two stores behind it, and the sealing in
front of them, so that neither a disk nor a bucket ever holds a file in clear.

    MaterialStore (Protocol)   put(key, data, content_type) / get(key) / delete(key)
    └── ObjectStore (Protocol) + objects() in key order / read_start(key) / remove_leftovers()
        ├── LocalDirectoryStore    files under ``<var_dir>/materials`` (the default), written
        │                          to a temporary file and renamed: a reader never sees half a
        │                          file
        └── S3Store                a bucket of an S3-compatible store, through aiobotocore
    SealedStore                wraps either: seals on the way in with the service's keyring
                               (``servicekit.sealing``, the envelope its sealed columns use),
                               opens on the way out

Keys are made by the service from the case's and the material's ids (``<uuid>/<uuid>``);
nothing a client sends becomes part of one, and the local store refuses any key that could
leave its directory. A sealed content is bound to its key: moved to another key, it does not
open. The housekeeping (``case_svc.materials.housekeeping``) walks the object stores
themselves: the sweep of objects no material refers to, and the rewrap of contents under the
current sealing key.

A stored content is a sealed value of the kit's (``ov1.<key id>.<wrapped data key>.<nonce +
ciphertext>``, as ASCII), so each names the key its data key is wrapped under, from the first
one stored: ``python -m case_svc.materials rewrap`` wraps the data keys of those under another
key again (their ciphertext is not touched).
"""

import asyncio
import datetime as dt
import os
import re
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import structlog
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from case_svc.settings import CaseSettings
from servicekit.problems import DomainError
from servicekit.sealing import Keyring, keyring_of

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = structlog.get_logger(__name__)

#: What a sealed content is, to a store: bytes of no type of their own.
SEALED_CONTENT_TYPE = "application/octet-stream"
#: Path segments of a key: a letter or digit first, so never ``.`` nor ``..``.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99}){0,3}$")
_MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
#: The keys case-svc makes (``materials.service.storage_key``): the case's id, the material's.
_MATERIAL_KEY = re.compile(f"^{_UUID}/{_UUID}$")
#: A temporary file of the local store's, left by a write that never finished.
_PARTIAL_SUFFIX = ".part"
#: What ``objects()`` reads of a listing at a time.
LISTING_PAGE = 1000
#: The most slashes a key holds (``_KEY``).
_MAX_DEPTH = 3


class MaterialStoreUnavailable(DomainError):
    status = 503
    code = "material_store_unavailable"
    title = "The store of uploaded materials cannot be reached: try again shortly"


class MaterialContentUnreadable(DomainError):
    status = 502
    code = "material_content_unreadable"
    title = "The store does not give back the material it was given: report it, quoting the "
    "request id"


class StoredContentMissing(MaterialContentUnreadable):
    """Nothing under the key: lost, or removed behind the service's back."""


class MaterialStore(Protocol):
    """Bytes by key. A put under an existing key replaces it; a get of a missing one raises
    ``StoredContentMissing``; either raises ``MaterialStoreUnavailable`` when the store cannot
    be reached."""

    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None:
        """Forget the key (a missing one is no error)."""


@dataclass(frozen=True)
class StoredObject:
    """A key the store holds, and when its content was last written."""

    key: str
    modified_at: dt.datetime


class ObjectStore(MaterialStore, Protocol):
    """A store that also tells what it holds: what the housekeeping walks."""

    def objects(self) -> AsyncIterator[StoredObject]:
        """Every key the store holds, in the order of its bytes (a key is ASCII: the order of
        its characters too)."""
        ...

    async def read_start(self, key: str, length: int) -> bytes:
        """The first ``length`` bytes under the key (fewer if it holds fewer)."""
        ...

    async def remove_leftovers(self, *, written_before: dt.datetime) -> int:
        """Remove what writes that never finished left behind, written before the time: how
        many were removed."""
        ...


def is_material_key(key: str) -> bool:
    """Whether the key is one case-svc makes for a material: what the sweep may remove."""
    return _MATERIAL_KEY.match(key) is not None


def checked_key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"not a material store key: {key!r}")
    return key


class LocalDirectoryStore:
    """Files under ``root``, one per key, readable by this process's user alone."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*checked_key(key).split("/"))

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(_write_atomically, self.path_of(key), data)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path_of(key).read_bytes)
        except FileNotFoundError:
            raise StoredContentMissing() from None
        except OSError as exc:
            log.error("material_store_failed", store="local", error=type(exc).__name__)
            raise MaterialStoreUnavailable() from exc

    async def delete(self, key: str) -> None:
        with suppress(FileNotFoundError):
            await asyncio.to_thread(self.path_of(key).unlink)

    async def objects(self) -> AsyncIterator[StoredObject]:
        # A directory at a time, so that memory holds one directory's names (a case's
        # materials; the top level, one name per case), never the whole store.
        async for stored in self._objects_under(self.root, ""):
            yield stored

    async def _objects_under(self, directory: Path, prefix: str) -> AsyncIterator[StoredObject]:
        for name, modified_at in await asyncio.to_thread(_entries, directory):
            key = prefix + name
            if modified_at is None:
                if key.count("/") < _MAX_DEPTH:
                    async for stored in self._objects_under(directory / name, key + "/"):
                        yield stored
            elif _KEY.match(key):
                yield StoredObject(key, modified_at)

    async def read_start(self, key: str, length: int) -> bytes:
        def read() -> bytes:
            with self.path_of(key).open("rb") as stored:
                return stored.read(length)

        try:
            return await asyncio.to_thread(read)
        except FileNotFoundError:
            raise StoredContentMissing() from None
        except OSError as exc:
            log.error("material_store_failed", store="local", error=type(exc).__name__)
            raise MaterialStoreUnavailable() from exc

    async def remove_leftovers(self, *, written_before: dt.datetime) -> int:
        """The temporary files of writes a crash interrupted (``.<random>.part``)."""

        def remove() -> int:
            removed = 0
            for path in self.root.rglob(f".*{_PARTIAL_SUFFIX}") if self.root.exists() else ():
                with suppress(FileNotFoundError):
                    if _modified_at(path) < written_before:
                        path.unlink()
                        removed += 1
            return removed

        return await asyncio.to_thread(remove)


def _entries(directory: Path) -> list[tuple[str, dt.datetime | None]]:
    """The directory's entries (not those beginning with a dot: temporary files), each a name
    and when it was last written (None: a directory), in the order of the keys under them: a
    directory's keys all begin with its name and a slash, so it sorts as that, and listing each
    directory so, depth first, lists every key in the order of its bytes. Held whole to be
    sorted: the top level holds a name per case (some 100 bytes each)."""
    found: list[tuple[str, dt.datetime | None]] = []
    try:
        with os.scandir(directory) as scan:
            for entry in scan:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    found.append((entry.name, None))
                    continue
                with suppress(FileNotFoundError):  # removed since it was listed
                    modified_at = dt.datetime.fromtimestamp(entry.stat().st_mtime, dt.UTC)
                    found.append((entry.name, modified_at))
    except FileNotFoundError:  # no store yet, or a directory removed since it was listed
        return []
    return sorted(found, key=lambda entry: entry[0] if entry[1] else entry[0] + "/")


def _modified_at(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, flush it to disk, then rename it over
    ``path``: a crash leaves the old file or the new one, never a part of either."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=_PARTIAL_SUFFIX)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    # The rename is durable once the directory is.
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class S3Store:
    """Objects in one bucket of an S3-compatible store."""

    def __init__(self, client: "S3Client", bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            await self.client.put_object(
                Bucket=self.bucket, Key=checked_key(key), Body=data, ContentType=content_type
            )
        except (BotoCoreError, ClientError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def get(self, key: str) -> bytes:
        try:
            answer = await self.client.get_object(Bucket=self.bucket, Key=checked_key(key))
            async with answer["Body"] as body:
                return await body.read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
                raise StoredContentMissing() from None
            raise _unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def delete(self, key: str) -> None:
        try:
            await self.client.delete_object(Bucket=self.bucket, Key=checked_key(key))
        except (BotoCoreError, ClientError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def objects(self) -> AsyncIterator[StoredObject]:
        # A listing is in the order of the keys' UTF-8 bytes, a page at a time.
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(Bucket=self.bucket, PaginationConfig={"PageSize": LISTING_PAGE})
        try:
            async for page in pages:
                for entry in page.get("Contents", []):
                    yield StoredObject(entry["Key"], entry["LastModified"])
        except (BotoCoreError, ClientError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def read_start(self, key: str, length: int) -> bytes:
        try:
            answer = await self.client.get_object(
                Bucket=self.bucket, Key=checked_key(key), Range=f"bytes=0-{length - 1}"
            )
            async with answer["Body"] as body:
                return await body.read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING_CODES:
                raise StoredContentMissing() from None
            raise _unavailable(exc) from exc
        except (BotoCoreError, OSError) as exc:
            raise _unavailable(exc) from exc

    async def remove_leftovers(self, *, written_before: dt.datetime) -> int:
        """None: an object is written whole by one request, or not at all."""
        return 0


def _unavailable(exc: Exception) -> MaterialStoreUnavailable:
    # The error's kind and code only: a message may carry the bucket's URL or a signature.
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    log.error("material_store_failed", store="s3", error=type(exc).__name__, code=code)
    return MaterialStoreUnavailable(headers={"Retry-After": "5"})


def content_context(domain: str, key: str) -> str:
    """What a content is sealed bound to: its key in the store."""
    return f"{domain}:case_material/{key}"


def sealing_key_id_of(start: bytes) -> str | None:
    """The id of the key a stored content's data key is wrapped under, from its first bytes
    (``ov1.<key id>.``); None for what is not a sealed value of the kit's."""
    prefix, _, rest = start.partition(b".")
    key_id, dot, _ = rest.partition(b".")
    if prefix != b"ov1" or not dot or not key_id:
        return None
    try:
        return key_id.decode("ascii")
    except UnicodeDecodeError:
        return None


class SealedStore:
    """A store that holds sealed contents only: each sealed with a data key of its own under
    the domain's current key-encryption key, bound to its key in the store."""

    def __init__(self, inner: ObjectStore, *, domain: str) -> None:
        self.inner = inner
        self.domain = domain

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        sealed = keyring_of(self.domain).seal(data, context=content_context(self.domain, key))
        await self.inner.put(key, sealed.encode("ascii"), SEALED_CONTENT_TYPE)

    async def get(self, key: str) -> bytes:
        return open_content(keyring_of(self.domain), self.domain, key, await self.inner.get(key))

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)


def open_content(keyring: Keyring, domain: str, key: str, stored: bytes) -> bytes:
    """The clear bytes of the content stored under ``key``."""
    try:
        return keyring.open(stored.decode("ascii"), context=content_context(domain, key))
    except ValueError as exc:  # unsealable, or not even a sealed value (not base64, not ASCII)
        log.error("material_unsealable", key=key, error=type(exc).__name__)
        raise MaterialContentUnreadable() from exc


@asynccontextmanager
async def open_store(settings: CaseSettings) -> AsyncIterator[MaterialStore]:
    """The store the settings name, sealed, for as long as the service runs."""
    async with open_object_store(settings) as objects:
        yield SealedStore(objects, domain=settings.sealing_domain)


@asynccontextmanager
async def open_object_store(settings: CaseSettings) -> AsyncIterator[ObjectStore]:
    """The store the settings name as it holds the contents, sealed: for the housekeeping."""
    if settings.materials_store == "local":
        yield LocalDirectoryStore(settings.var_dir / "materials")
        return
    config = AioConfig(
        s3={"addressing_style": settings.s3_addressing_style},
        connect_timeout=settings.http_connect_timeout_seconds,
        read_timeout=settings.s3_timeout_seconds,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    secret = settings.s3_secret_access_key
    async with get_session().create_client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        config=config,
    ) as client:
        yield S3Store(client, settings.s3_bucket)
