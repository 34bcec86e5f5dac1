"""Which regions a department acts for: its own and every region below it.

A department id is ``<official region code>-<department type>`` (the catalog's), so a token's
``dept`` claim says both what a department is competent for (its type) and where (its region).
A county's public-security bureau keeps the records of its county; the province's, of the whole
province.
"""

from dataclasses import dataclass

from servicekit.auth import Principal
from servicekit.regions import InvalidRegionCode, RegionCode


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    region: RegionCode
    type: str

    def covers(self, region: RegionCode) -> bool:
        return self.region.contains(region)

    def covers_department(self, other: "Department") -> bool:
        """Whether this department stands over ``other``: the same type, its region or above."""
        return self.type == other.type and self.covers(other.region)


def parse_department(department_id: str) -> Department | None:
    code, _, kind = department_id.partition("-")
    if not kind:
        return None
    try:
        return Department(department_id, RegionCode.parse(code), kind)
    except InvalidRegionCode:
        return None


def department_of(principal: Principal) -> Department | None:
    """The department the token acts for; None if it names none (or nothing parseable)."""
    return parse_department(principal.dept) if principal.dept else None
