"""The rules of one-issue bundles: finding one, with its items in the bundle's order, and
planning one for an applicant: which items apply to her and who handles each for her region."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.bundles import repository
from catalog_svc.bundles.answers import check_answers
from catalog_svc.items import service as items
from catalog_svc.models import Bundle, ServiceItem
from catalog_svc.reference.conditions import condition_field, holds
from catalog_svc.regions import service as regions
from catalog_svc.search.index import IndexedItem
from catalog_svc.snapshot import CatalogSnapshot, DepartmentRecord, RegionRecord
from servicekit.problems import DomainError, NotFound, extension_members

#: Longest bundle code (the column's width): longer input cannot name one.
BUNDLE_CODE_MAX_LENGTH = 48


class BundleNotFound(NotFound):
    code = "bundle_not_found"
    title = "No such one-issue bundle"
    members = extension_members(bundle_code={"type": "string", "examples": ["birth"]})


@dataclass(frozen=True, slots=True)
class BundleView:
    bundle: Bundle
    items: list[ServiceItem]


async def every_bundle(session: AsyncSession) -> list[Bundle]:
    return await repository.every(session)


async def bundle_by_code(session: AsyncSession, code: str) -> BundleView:
    bundle = await repository.get(session, code) if len(code) <= BUNDLE_CODE_MAX_LENGTH else None
    if bundle is None:
        raise BundleNotFound(f"no one-issue bundle has code {code!r}", bundle_code=code)
    found = await repository.items(session, bundle.item_codes)
    # The seed only writes bundles whose items exist; keep the bundle's order.
    return BundleView(bundle=bundle, items=[found[code] for code in bundle.item_codes])


class BundleNotSpecified(DomainError):
    status = 422
    code = "bundle_not_specified"
    title = "This bundle is only named: it has no items to plan"
    members = extension_members(bundle_code={"type": "string", "examples": ["credit_repair"]})


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """An item that applies to this applicant, with who handles it for her region."""

    item: IndexedItem
    condition: dict[str, Any] | None
    department: DepartmentRecord


@dataclass(frozen=True, slots=True)
class LeftOutItem:
    item_code: str
    item_name: str
    #: "condition_not_met" (``condition`` says which), "not_offered_in_region" or "withdrawn".
    reason: str
    condition: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class BundlePlan:
    bundle: Bundle
    region: RegionRecord
    applying: list[PlannedItem]
    left_out: list[LeftOutItem]


async def plan(
    session: AsyncSession,
    snapshot: CatalogSnapshot,
    *,
    code: str,
    region_text: str,
    answers: Mapping[str, Any],
) -> BundlePlan:
    """The bundle for one applicant: which items apply given her answers (each item's condition
    over the merged form), and for each the department that handles it for her region, found
    as a single item's handler is (walking up from her region to the item's tier). An item not
    offered in her region, or withdrawn since the bundle was seeded, is left out rather than
    refused: the rest of the bundle still applies to her."""
    bundle = await repository.get(session, code) if len(code) <= BUNDLE_CODE_MAX_LENGTH else None
    if bundle is None:
        raise BundleNotFound(f"no one-issue bundle has code {code!r}", bundle_code=code)
    if not bundle.item_codes or bundle.form_schema is None:
        raise BundleNotSpecified(f"{bundle.name} lists no items yet", bundle_code=code)
    region = regions.region_by_code(snapshot, region_text)
    conditions = bundle.item_conditions or {}
    check_answers(answers, bundle.form_schema, [condition_field(c) for c in conditions.values()])
    applying: list[PlannedItem] = []
    left_out: list[LeftOutItem] = []
    for item_code in bundle.item_codes:
        condition = conditions.get(item_code)
        item = snapshot.items.get(item_code)
        if item is None:
            name = snapshot.unpublished.get(item_code, item_code)
            left_out.append(LeftOutItem(item_code, name, "withdrawn", condition))
            continue
        if condition is not None and not holds(condition, answers):
            left_out.append(LeftOutItem(item_code, item.name, "condition_not_met", condition))
            continue
        try:
            found = items.responsible_department(
                snapshot, item_code=item_code, region_text=region.code
            )
        except items.ItemNotOfferedInRegion:
            left_out.append(LeftOutItem(item_code, item.name, "not_offered_in_region", condition))
            continue
        applying.append(PlannedItem(item, condition, found.department))
    return BundlePlan(bundle=bundle, region=region, applying=applying, left_out=left_out)
