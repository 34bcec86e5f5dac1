"""The in-memory snapshot of the catalogue that reads are answered from: every region, every
department and the search index over published items, with the fingerprint of the reference data
they were loaded from.

Regions (~27,000) and departments (~3,500) change only when the seed loads new reference files,
so region lookups, handler resolution and search read them from memory rather than making a
database round trip per request.

- ``model``       the frozen records (``CatalogSnapshot``, ``RegionRecord``, ...)
- ``repository``  every read a snapshot is built from
- ``holder``      the current snapshot, its reloads and the background watch (``catalog_snapshot``,
                  entered by the app's lifespan)

The app's state holds the holder; the request dependencies that read it are in
``catalog_svc.deps``.
"""

from catalog_svc.snapshot.holder import CatalogHolder, catalog_snapshot
from catalog_svc.snapshot.model import (
    CatalogSnapshot,
    DepartmentRecord,
    RegionRecord,
    serving_kinds,
)

__all__ = [
    "CatalogHolder",
    "CatalogSnapshot",
    "DepartmentRecord",
    "RegionRecord",
    "catalog_snapshot",
    "serving_kinds",
]
