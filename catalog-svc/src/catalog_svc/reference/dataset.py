"""The whole reference data set, built from the files, and the fingerprint that tells the seed
whether the database already holds exactly what these files (and this code) produce."""

import dataclasses
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_svc.reference import bundles, departments, items, regions

REGIONS_SUBDIR = "regions"
_CODE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class CatalogDataset:
    regions: list[regions.RegionRecord]
    departments: list[departments.DepartmentRecord]
    items: list[items.ItemRecord]
    bundles: list[bundles.BundleRecord]

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """Rows by table name; within a table, parents before children."""
        return {
            "region": _rows(self.regions),
            "department": _rows(self.departments),
            "service_item": [dataclasses.asdict(item) for item in self.items],
            "bundle": [dataclasses.asdict(bundle) for bundle in self.bundles],
        }


def _rows(records: Sequence[Any]) -> list[dict[str, Any]]:
    # Flat records: a plain field copy, not dataclasses.asdict's recursive deep copy.
    if not records:
        return []
    names = [field.name for field in dataclasses.fields(records[0])]
    return [{name: getattr(record, name) for name in names} for record in records]


def source_files(data_dir: Path) -> list[Path]:
    """Every file the data set is built from: the data files and the code that reads them."""
    data = [data_dir / REGIONS_SUBDIR / name for name in regions.SOURCE_FILES]
    data += [data_dir / departments.TEMPLATES_FILE]
    data += [data_dir / name for name in items.ITEM_FILES if (data_dir / name).is_file()]
    data += [data_dir / bundles.BUNDLES_FILE]
    return data + sorted(_CODE_DIR.glob("*.py"))


def fingerprint(data_dir: Path) -> str:
    """A digest of the source files: cheap, so that a seed with nothing to do costs nothing."""
    digest = hashlib.sha256()
    for path in source_files(data_dir):
        content = path.read_bytes()
        digest.update(f"{path.name}:{len(content)}:".encode())
        digest.update(content)
    return digest.hexdigest()


def load_dataset(data_dir: Path) -> CatalogDataset:
    """The data set the files hold. Loaded once per process and content: the records are frozen,
    and reading 27,000 regions again for every seed of the same files (test databases, a seed
    repairing changed rows) would be most of the seed's time."""
    return _load_dataset(data_dir.resolve(), fingerprint(data_dir))


@functools.lru_cache(maxsize=2)
def _load_dataset(data_dir: Path, digest: str) -> CatalogDataset:
    del digest  # part of the cache key only: changed files load again
    region_records = regions.load_region_tree(data_dir / REGIONS_SUBDIR)
    templates = departments.load_templates(data_dir)
    item_records = items.load_items(
        data_dir,
        offered=templates.offered(),
        region_codes={r.code for r in region_records if r.status == "current"},
    )
    return CatalogDataset(
        regions=region_records,
        departments=departments.build_departments(templates, region_records),
        items=item_records,
        bundles=bundles.load_bundles(data_dir, item_records),
    )
