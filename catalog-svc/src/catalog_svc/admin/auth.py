"""Who may administer which items.

A catalog administrator is a staff token with the role ``catalog_admin`` and a ``dept`` claim
naming a department of the catalogue; they administer the items of that department's type
handled at its tier (a county public security bureau's administrators: the public security
items handled at county level). A ``platform_admin`` administers every item. Anyone else is
refused.
"""

from dataclasses import dataclass

from catalog_svc.snapshot import CatalogSnapshot
from servicekit.auth import Principal, require_type
from servicekit.problems import Forbidden, extension_members

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


class OutsideCatalogScope(Forbidden):
    code = "outside_catalog_scope"
    title = "The item is outside the department type and tier you administer"
    members = extension_members(
        item_code={"type": "string", "examples": ["public_security.id_card_loss_report"]},
        item_department_type={"type": "string", "examples": ["public_security"]},
        item_handling_tier={"type": "string", "examples": ["county"]},
        scope={
            "type": "object",
            "description": "What the caller administers",
            "properties": {
                "department_type": {"type": ["string", "null"]},
                "tier": {"type": ["string", "null"]},
            },
            "examples": [{"department_type": "civil_affairs", "tier": "county"}],
        },
    )


@dataclass(frozen=True, slots=True)
class CatalogScope:
    """The items of one department type handled at one tier; with neither: every item."""

    department_type: str | None = None
    tier: str | None = None

    def covers(self, department_type: str, tier: str) -> bool:
        if self.department_type is None:
            return True
        return (department_type, tier) == (self.department_type, self.tier)

    def require(self, *, item_code: str, department_type: str, tier: str) -> None:
        if not self.covers(department_type, tier):
            raise OutsideCatalogScope(
                f"you administer {self.department_type} items handled at {self.tier} level; "
                f"{item_code} is a {department_type} item handled at {tier} level",
                item_code=item_code,
                item_department_type=department_type,
                item_handling_tier=tier,
                scope={"department_type": self.department_type, "tier": self.tier},
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
        scope=CatalogScope(department_type=department.type, tier=department.tier),
    )
