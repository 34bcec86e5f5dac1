"""Who is signed in at the workbench: the sealed sign-in, and what her token says of her
department and roles. The pages use those only to decide what to show: every call is decided
by the service it reaches."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from onevisit_web.pages import signed_in_staff
from onevisit_web.session import WebSession, token_claims

StaffDep = Annotated[WebSession, Depends(signed_in_staff)]


@dataclass(frozen=True)
class StaffMember:
    account_id: str
    dept: str | None
    roles: frozenset[str]

    @property
    def region(self) -> str | None:
        """Her department's region (``<region>-<type>``), or None for the platform's staff."""
        return self.dept.split("-", 1)[0] if self.dept else None

    def is_(self, role: str) -> bool:
        return role in self.roles


def staff_member(session: WebSession) -> StaffMember:
    claims = token_claims(session.access_token)
    roles = claims.get("roles")
    dept = claims.get("dept")
    return StaffMember(
        account_id=str(claims.get("sub", "")),
        dept=dept if isinstance(dept, str) and dept else None,
        roles=frozenset(str(role) for role in roles) if isinstance(roles, list) else frozenset(),
    )


def regional(member: StaffMember) -> dict[str, str]:
    """The header that sends a department's list to the instance that keeps its cases: one
    instance answers, in the order asked (a list fanned out to every instance is merged by
    filing time)."""
    return {"X-Region-Code": member.region} if member.region else {}
