"""The housekeeping of the material store, run from the command line (``python -m
case_svc.materials``): the sweep of objects no material refers to, and the rewrap of contents
under the current sealing key. Both walk the store as it holds the contents (sealed), and both
are safe to run twice, or at the same time on two machines.

How an object comes to have no material: an upload writes the content first and its row in the
request's transaction afterwards, so a transaction that fails or rolls back after the write
(the commit refused, the idempotency record failing, the database gone) or a crash between the
two leaves the content without a row (the upload takes it back out only when its own insert
fails, and a crash gives it no chance to). A material without its content is not made by
case-svc at all: a store that lost it, or a hand that removed it; the sweep reports those and
changes nothing of them.
"""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.materials import repository
from case_svc.materials.storage import (
    SEALED_CONTENT_TYPE,
    ObjectStore,
    StoredContentMissing,
    StoredObject,
    content_context,
    is_material_key,
    sealing_key_id_of,
)
from servicekit.sealing import Keyring

log = structlog.get_logger(__name__)

#: How many orphaned keys are asked of the database again at once, before they are removed.
ORPHANS_PER_BATCH = 500
#: Enough of a content's first bytes to hold ``ov1.<key id>.`` for any key id in use.
_HEAD_BYTES = 128


class ListingOutOfOrder(RuntimeError):
    """The store or the database gave its keys out of order: the sweep matches the two lists
    in order, so it stops rather than take a material's content for an orphan."""


@dataclass(frozen=True)
class MissingContent:
    """A material whose content the store does not hold."""

    material_id: str
    case_no: str
    storage_key: str


@dataclass
class SweepReport:
    #: The keys of the objects no material refers to that were removed (in a dry run: that
    #: would have been).
    removed: list[str] = field(default_factory=list)
    #: Objects no material refers to yet, written within the grace period: uploads in flight,
    #: or orphans for a later sweep.
    young: int = 0
    #: Temporary files of interrupted writes removed (the local store's).
    leftovers: int = 0
    #: Objects whose key is none case-svc makes: not its own, so left alone.
    foreign: int = 0
    missing: list[MissingContent] = field(default_factory=list)


async def _ascending(objects: AsyncIterator[StoredObject]) -> AsyncIterator[StoredObject]:
    previous = ""
    async for stored in objects:
        if stored.key <= previous:
            raise ListingOutOfOrder(f"the store listed {stored.key!r} after {previous!r}")
        previous = stored.key
        yield stored


async def sweep(
    session: AsyncSession,
    store: ObjectStore,
    *,
    now: dt.datetime,
    grace: dt.timedelta,
    dry_run: bool = False,
    batch: int = ORPHANS_PER_BATCH,
) -> SweepReport:
    """Remove every object of the store that no material refers to and that was written more
    than ``grace`` before ``now``; report every material whose content the store does not hold
    (its row is kept). One pass over the store's listing and the materials, both in key order.

    Why nothing in flight is removed: the materials are read (one statement, one snapshot)
    before the store is listed, so a material committed before the sweep began is seen, and one
    committed after it was written less than ``grace`` before it commits, which the grace
    period, far longer than any request, makes after ``now - grace``. Why no material is
    reported missing for nothing: its content was written before its row was committed, so
    before the listing began. Two sweeps at once remove the same orphans (removing one twice is
    no error) and report the same materials. An object under a key case-svc does not make
    (``<case id>/<material id>``) is not its own: counted, never removed."""
    written_before = now - grace
    report = SweepReport()
    materials = await repository.materials_in_key_order(session)
    material = await anext(materials, None)
    objects = _ascending(store.objects())
    stored = await anext(objects, None)
    orphans: list[str] = []
    previous_key = ""
    while material is not None or stored is not None:
        if material is not None and material.storage_key <= previous_key:
            raise ListingOutOfOrder(f"the database gave {material.storage_key!r} out of order")
        if stored is None or (material is not None and material.storage_key < stored.key):
            assert material is not None
            report.missing.append(
                MissingContent(str(material.id), material.case_no, material.storage_key)
            )
            previous_key = material.storage_key
            material = await anext(materials, None)
        elif material is None or stored.key < material.storage_key:
            if not is_material_key(stored.key):
                report.foreign += 1
            elif stored.modified_at < written_before:
                orphans.append(stored.key)
                if len(orphans) >= batch:
                    await _remove(session, store, orphans, report, dry_run=dry_run)
                    orphans = []
            else:
                report.young += 1
            stored = await anext(objects, None)
        else:
            previous_key = material.storage_key
            material = await anext(materials, None)
            stored = await anext(objects, None)
    await materials.close()
    await _remove(session, store, orphans, report, dry_run=dry_run)
    if not dry_run:
        report.leftovers = await store.remove_leftovers(written_before=written_before)
    for lost in report.missing:
        log.error("material_content_missing", material_id=lost.material_id, key=lost.storage_key)
    log.info(
        "material_store_swept",
        removed=len(report.removed),
        young=report.young,
        leftovers=report.leftovers,
        foreign=report.foreign,
        missing=len(report.missing),
        dry_run=dry_run,
    )
    return report


async def _remove(
    session: AsyncSession,
    store: ObjectStore,
    orphans: list[str],
    report: SweepReport,
    *,
    dry_run: bool,
) -> None:
    """Remove the orphans, asked of the database once more first (on PostgreSQL this sees what
    was committed since the sweep's read began; the grace period is what guards an upload in
    flight, this only narrows what it has to cover)."""
    held = await repository.storage_keys_held(session, orphans)
    for key in orphans:
        if key in held:
            continue
        if not dry_run:
            await store.delete(key)
        report.removed.append(key)


@dataclass
class RewrapReport:
    #: Contents whose data key was wrapped again under the current key.
    rewrapped: int = 0
    #: Contents under the current key already.
    current: int = 0
    #: Keys of the contents no key of the keyring opens (a key missing from it, or tampering).
    unopenable: list[str] = field(default_factory=list)
    #: Objects whose key is none case-svc makes: left alone.
    foreign: int = 0


async def rewrap_store(store: ObjectStore, keyring: Keyring, *, domain: str) -> RewrapReport:
    """Wrap the data key of every content the store holds under the keyring's current key,
    unless it is under it already (told by its first bytes: a content on the current key is not
    read whole). The ciphertext is kept; the content is written again whole, replacing itself
    at once (a reader gets it under the old key or under the new one, and the keyring holds
    both). Resumable: run again, it passes over what it did; and safe beside a second run, or
    the app's uploads (a new content is sealed under the current key already)."""
    report = RewrapReport()
    async for stored in store.objects():
        if not is_material_key(stored.key):  # not case-svc's: not sealed by it either
            report.foreign += 1
            continue
        try:
            if sealing_key_id_of(await store.read_start(stored.key, _HEAD_BYTES)) == (
                keyring.current
            ):
                report.current += 1
                continue
            held = await store.get(stored.key)
        except StoredContentMissing:  # swept since it was listed
            continue
        if sealing_key_id_of(held) == keyring.current:
            report.current += 1
            continue
        try:
            rewrapped = keyring.rewrap(
                held.decode("ascii"), context=content_context(domain, stored.key)
            )
        except ValueError as exc:  # unopenable, or not a sealed value (not ASCII)
            log.error("material_unsealable", key=stored.key, error=type(exc).__name__)
            report.unopenable.append(stored.key)
            continue
        await store.put(stored.key, rewrapped.encode("ascii"), SEALED_CONTENT_TYPE)
        report.rewrapped += 1
    log.info(
        "material_store_rewrapped",
        key_id=keyring.current,
        rewrapped=report.rewrapped,
        current=report.current,
        unopenable=len(report.unopenable),
        foreign=report.foreign,
    )
    return report
