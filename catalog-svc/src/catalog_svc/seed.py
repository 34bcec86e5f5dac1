"""Load the catalog's reference data (region tree, departments, service items, one-issue
bundles) from the files under ``data/``: ``python -m catalog_svc.seed``, after ``alembic upgrade
head``.

Idempotent: the files' fingerprint is recorded, and a seed that finds it unchanged does nothing.
Otherwise the rows that are missing or differ are upserted in bulk; regions, departments and
bundles the files no longer have are removed, while items are kept as ``withdrawn`` (cases and
ratings refer to their codes for years). Items an administrator has published or withdrawn
through the administration API are theirs from then on: the seed neither writes nor withdraws
them.
"""

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.reference import repository
from catalog_svc.reference.dataset import fingerprint, load_dataset
from catalog_svc.settings import CatalogSettings
from servicekit.db import run_seed, utcnow

DATASET_NAME = "catalog"
#: ``service_item.maintained_by`` of the items the administration API has taken over.
ADMINISTERED = "administration"

log = structlog.get_logger("catalog_svc.seed")


async def seed(session: AsyncSession, settings: CatalogSettings) -> None:
    data_dir = settings.data_dir
    digest = fingerprint(data_dir)
    if await repository.loaded_fingerprint(session, DATASET_NAME) == digest:
        return
    rows = load_dataset(data_dir).rows()
    existing = {name: await repository.rows_by_key(session, name) for name in _KEYS}
    written = {
        name: await _write_changes(session, name, rows[name], existing[name])
        for name in ("region", "department")
    }
    # Then remove what the files no longer have: departments before the regions they are in,
    # children before parents.
    stale_departments = set(existing["department"]) - _keys(rows, "department")
    await repository.delete_keys(session, "department", sorted(stale_departments))
    stale_regions = set(existing["region"]) - _keys(rows, "region")
    await repository.delete_keys(
        session, "region", sorted(stale_regions, key=lambda code: (-len(code), code))
    )
    administered = {
        code
        for code, row in existing["service_item"].items()
        if row["maintained_by"] == ADMINISTERED
    }
    seeded_items = [row for row in rows["service_item"] if row["code"] not in administered]
    written["service_item"] = await _write_items(session, seeded_items, existing["service_item"])
    withdrawn = set(existing["service_item"]) - _keys(rows, "service_item") - administered
    await repository.withdraw_items(session, sorted(withdrawn))
    written["bundle"] = await _write_changes(session, "bundle", rows["bundle"], existing["bundle"])
    stale_bundles = set(existing["bundle"]) - _keys(rows, "bundle")
    await repository.delete_keys(session, "bundle", sorted(stale_bundles))
    await repository.record_fingerprint(session, DATASET_NAME, digest)
    log.info(
        "catalog_seeded",
        regions=len(rows["region"]),
        departments=len(rows["department"]),
        items=len(rows["service_item"]),
        bundles=len(rows["bundle"]),
        rows_written=written,
        regions_removed=len(stale_regions),
        departments_removed=len(stale_departments),
        items_withdrawn=len(withdrawn),
        items_left_to_administration=len(administered),
    )


_KEYS = {"region": "code", "department": "id", "service_item": "code", "bundle": "code"}


async def _write_items(
    session: AsyncSession, rows: list[dict[str, Any]], existing: dict[str, dict[str, Any]]
) -> int:
    """Like ``_write_changes``, and stamp what is written with the time of the change, for the
    change feed (``GET /catalog/v1/items?changed_since=``)."""
    now = utcnow()
    changed = [
        {**row, "changed_at": now}
        for row in rows
        if (before := existing.get(row["code"])) is None
        or before["changed_at"] is None
        or any(before[key] != value for key, value in row.items())
    ]
    await repository.upsert(session, "service_item", changed)
    return len(changed)


def _keys(rows: dict[str, list[dict[str, Any]]], name: str) -> set[str]:
    return {row[_KEYS[name]] for row in rows[name]}


async def _write_changes(
    session: AsyncSession,
    name: str,
    rows: list[dict[str, Any]],
    existing: dict[str, dict[str, Any]],
) -> int:
    """Write the rows that are missing or differ; leave identical ones alone."""
    changed = [row for row in rows if existing.get(row[_KEYS[name]]) != row]
    await repository.upsert(session, name, changed)
    return len(changed)


if __name__ == "__main__":
    run_seed(seed, CatalogSettings())
