"""Who may administer which items.

An item belongs to one department: the department of the item's type in the item's *owning
region*. The owning region is the smallest region that contains every region the item is listed
in (``offered_in``; none listed: the whole province), raised to the item's handling tier when it
lies below it, since the department that handles the item there answers for it there:

    listed in          handled at   owning region     so it is the item of
    (nowhere: all)     county       330000 Zhejiang   the provincial department
    330302 Lucheng     county       330302 Lucheng    Lucheng's county bureau
    330302026 Songtai  county       330302 Lucheng    Lucheng's county bureau
    330302, 330304     county       330300 Wenzhou    Wenzhou's city bureau
    330302 Lucheng     city         330300 Wenzhou    Wenzhou's city bureau
    330100 Hangzhou    city         330100 Hangzhou   Hangzhou's city bureau

A catalog administrator is a staff token with the role ``catalog_admin`` and a ``dept`` claim
naming a department of the catalogue, ``<region>-<type>``; their jurisdiction is the items of
that type whose owning region is their region or lies within it (a department's tier is its
region's level, so a county bureau never reaches an item owned by its city or the province,
and one city never another's). They create, edit, approve, publish and withdraw those items and
read their drafts, versions and audit trail. A ``platform_admin`` administers every item. Anyone
else is refused.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from catalog_svc.items.service import TIER_LEVELS
from catalog_svc.reference.regions import PROVINCE_PREFIX
from catalog_svc.snapshot import CatalogSnapshot
from servicekit.auth import Principal, require_type
from servicekit.problems import Forbidden, OutsideJurisdiction, extension_members
from servicekit.regions import InvalidRegionCode, RegionCode

CATALOG_ADMIN = "catalog_admin"
PLATFORM_ADMIN = "platform_admin"


class NotCatalogAdministrator(Forbidden):
    code = "not_catalog_administrator"
    title = "This account administers no part of the catalogue"
    members = extension_members(
        required_roles={
            "type": "array",
            "items": {"type": "string"},
            "description": "One of these roles is needed",
            "examples": [["catalog_admin", "platform_admin"]],
        }
    )


class NoCatalogScope(Forbidden):
    code = "no_catalog_scope"
    title = "A catalog administrator's token names the department they administer for"
    members = extension_members(
        dept={
            "type": ["string", "null"],
            "description": "The token's dept claim",
            "examples": ["330302-public_security"],
        }
    )


#: The whole province: the owning region of an item listed nowhere in particular.
PROVINCE = RegionCode(PROVINCE_PREFIX)


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """Whose an item is: the department of ``department_type`` in ``region``."""

    department_type: str
    region: RegionCode


def jurisdiction_of(
    *, department_type: str, handling_tier: str, offered_in: Iterable[str]
) -> Jurisdiction:
    """The item's department type and owning region (see the module's table). A listed code
    that is no region code counts as the province, the widest reading: the rules refuse it
    anyway (``unknown_region``), and until they do it widens rather than narrows who may act."""
    listed = []
    for text in offered_in:
        try:
            listed.append(RegionCode.parse(text))
        except InvalidRegionCode:
            listed.append(PROVINCE)
    region = RegionCode.smallest_containing(listed) or PROVINCE
    tier = TIER_LEVELS[handling_tier]
    if region.level > tier:
        region = region.at_level(tier)
    return Jurisdiction(department_type=department_type, region=region)


@dataclass(frozen=True, slots=True)
class CatalogScope:
    """What an administrator administers: the items of one department type owned by one region
    or a region within it; with neither, every item (a platform administrator)."""

    department_type: str | None = None
    region: RegionCode | None = None

    def covers(self, item: Jurisdiction) -> bool:
        if self.department_type is None or self.region is None:
            return True
        return item.department_type == self.department_type and self.region.contains(item.region)

    def require(self, *, item_code: str, item: Jurisdiction) -> None:
        if self.covers(item):
            return
        raise OutsideJurisdiction(
            f"you administer the {self.department_type} items of {self.region} and the regions "
            f"within it; {item_code} is the item of {item.region}'s {item.department_type} "
            f"department",
            item_code=item_code,
            item_department_type=item.department_type,
            item_region_code=str(item.region),
            scope={"department_type": self.department_type, "region_code": str(self.region)},
        )


@dataclass(frozen=True, slots=True)
class Administrator:
    """The caller, as the audit trail records them, and what they may administer."""

    sub: str
    dept: str | None
    scope: CatalogScope


def administrator(principal: Principal, snapshot: CatalogSnapshot) -> Administrator:
    require_type(principal, "staff")
    if PLATFORM_ADMIN in principal.roles:
        return Administrator(sub=principal.sub, dept=principal.dept, scope=CatalogScope())
    if CATALOG_ADMIN not in principal.roles:
        raise NotCatalogAdministrator(
            f"this needs the role {CATALOG_ADMIN} or {PLATFORM_ADMIN}",
            required_roles=[CATALOG_ADMIN, PLATFORM_ADMIN],
        )
    department = snapshot.departments.get(principal.dept) if principal.dept else None
    if department is None:
        raise NoCatalogScope(
            "the token's dept claim names no department of the catalogue", dept=principal.dept
        )
    return Administrator(
        sub=principal.sub,
        dept=department.id,
        scope=CatalogScope(
            department_type=department.type, region=RegionCode.parse(department.region_code)
        ),
    )
