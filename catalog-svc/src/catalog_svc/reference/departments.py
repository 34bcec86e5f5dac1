"""Departments built from per-tier templates (``data/department_templates.toml``): each region of
a tier gets one department per template of that tier, named by the template's pattern."""

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_svc.reference.regions import RegionRecord

TEMPLATES_FILE = "department_templates.toml"
TIERS = ("province", "city", "county", "township")


class DepartmentDataError(ValueError):
    """The templates file is not what the seed can build departments from."""


@dataclass(frozen=True, slots=True)
class DepartmentTemplate:
    tier: str
    type: str
    #: Pattern for every region of the tier, or for counties (县, 自治县, county-level 市).
    name: str
    #: Pattern for districts (区), at county tier; the ``name`` pattern when None.
    district_name: str | None
    only_names_ending: tuple[str, ...]
    illustrative: bool
    checked: tuple[str, ...]

    def applies_to(self, region: RegionRecord) -> bool:
        return not self.only_names_ending or region.name.endswith(self.only_names_ending)

    def name_for(self, names: Mapping[str, str]) -> str:
        pattern = self.name
        if self.district_name is not None and names["county"].endswith("区"):
            pattern = self.district_name
        return pattern.format_map(names)


@dataclass(frozen=True, slots=True)
class DepartmentTemplates:
    #: type code → the word people use for such a department (公安, 税务 ...).
    type_labels: Mapping[str, str]
    by_tier: Mapping[str, tuple[DepartmentTemplate, ...]]
    overrides: Mapping[str, str]

    def offered(self) -> set[tuple[str, str]]:
        """Every (department type, tier) some template builds."""
        return {(t.type, tier) for tier, templates in self.by_tier.items() for t in templates}


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    id: str
    name: str
    type: str
    tier: str
    region_code: str


def department_id(region_code: str, department_type: str) -> str:
    return f"{region_code}-{department_type}"


def _template(tier: str, entry: Mapping[str, Any], labels: Mapping[str, str]) -> DepartmentTemplate:
    kind = entry.get("type")
    if not isinstance(kind, str) or kind not in labels:
        raise DepartmentDataError(f"{tier} template of unknown type {kind!r}")
    if tier == "county":
        name, district = entry.get("county"), entry.get("district")
    else:
        name, district = entry.get("name"), None
    if not isinstance(name, str):
        raise DepartmentDataError(f"{tier} template {kind} has no name pattern")
    return DepartmentTemplate(
        tier=tier,
        type=kind,
        name=name,
        district_name=district,
        only_names_ending=tuple(entry.get("only_names_ending", ())),
        illustrative=bool(entry.get("illustrative", False)),
        checked=tuple(entry.get("checked", ())),
    )


def load_templates(data_dir: Path) -> DepartmentTemplates:
    with (data_dir / TEMPLATES_FILE).open("rb") as handle:
        document = tomllib.load(handle)
    labels: dict[str, str] = dict(document.get("types", {}))
    by_tier: dict[str, tuple[DepartmentTemplate, ...]] = {}
    for tier in TIERS:
        templates = tuple(_template(tier, entry, labels) for entry in document.get(tier, []))
        kinds = [template.type for template in templates]
        if len(kinds) != len(set(kinds)):
            raise DepartmentDataError(f"two {tier} templates of the same type")
        by_tier[tier] = templates
    return DepartmentTemplates(
        type_labels=labels, by_tier=by_tier, overrides=dict(document.get("overrides", {}))
    )


def build_departments(
    templates: DepartmentTemplates, regions: Iterable[RegionRecord]
) -> list[DepartmentRecord]:
    """One department per (current region of a tier, template of that tier)."""
    current = {region.code: region for region in regions if region.status == "current"}
    departments: list[DepartmentRecord] = []
    for region in current.values():
        tier_templates = templates.by_tier.get(region.level, ())
        if not tier_templates:
            continue
        names = _lineage_names(region, current)
        for template in tier_templates:
            if not template.applies_to(region):
                continue
            identifier = department_id(region.code, template.type)
            departments.append(
                DepartmentRecord(
                    id=identifier,
                    name=templates.overrides.get(identifier) or template.name_for(names),
                    type=template.type,
                    tier=region.level,
                    region_code=region.code,
                )
            )
    built = {department.id for department in departments}
    if unknown := set(templates.overrides) - built:
        raise DepartmentDataError(f"overrides name no department: {sorted(unknown)}")
    produced = {department.name for department in departments}
    for tier_templates in templates.by_tier.values():
        for template in tier_templates:
            if missing := set(template.checked) - produced:
                raise DepartmentDataError(f"checked names not produced: {sorted(missing)}")
    return departments


def _lineage_names(region: RegionRecord, current: Mapping[str, RegionRecord]) -> dict[str, str]:
    names = {region.level: region.name}
    parent = region.parent_code
    while parent is not None:
        ancestor = current[parent]
        names[ancestor.level] = ancestor.name
        parent = ancestor.parent_code
    return names
