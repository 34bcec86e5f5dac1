"""The demo staff: the accounts ``make run`` seeds (``IDENTITY_SEED_DEMO_STAFF``, development
only) so that anyone can try the workbench, and the README lists under "Demo staff".

A platform administrator, and a handler and a supervisor of the department of each demo region
that handles, for the README's demo citizen (community 330302026003 of Songtai sub-district,
Lucheng, Wenzhou), one of her applications: her sub-district's service centre, Lucheng's public
security bureau (the ID card loss report of "Walk the journey"), Wenzhou's housing provident
fund centre (the withdrawal of "Handle a case") and a provincial department. Their passwords
are published, so the numbers and passwords say "demo" and production refuses them.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DemoStaffMember:
    phone: str
    password: str
    #: A catalog-svc department id; None for the platform administrator.
    dept: str | None
    roles: tuple[str, ...]


_HANDLER_PASSWORD = "demo-handler"
_SUPERVISOR_PASSWORD = "demo-supervisor"

DEMO_STAFF: tuple[DemoStaffMember, ...] = (
    DemoStaffMember("19900000000", "demo-platform-admin", None, ("platform_admin",)),
    # Songtai sub-district (松台街道): its convenience-service centre.
    DemoStaffMember(
        "19900000101", _HANDLER_PASSWORD, "330302026-convenience_service", ("handler",)
    ),
    DemoStaffMember(
        "19900000102", _SUPERVISOR_PASSWORD, "330302026-convenience_service", ("supervisor",)
    ),
    # Lucheng district (鹿城区): its public-security bureau.
    DemoStaffMember("19900000201", _HANDLER_PASSWORD, "330302-public_security", ("handler",)),
    DemoStaffMember("19900000202", _SUPERVISOR_PASSWORD, "330302-public_security", ("supervisor",)),
    # Wenzhou city (温州市): its housing provident fund centre.
    DemoStaffMember(
        "19900000301", _HANDLER_PASSWORD, "330300-housing_provident_fund", ("handler",)
    ),
    DemoStaffMember(
        "19900000302", _SUPERVISOR_PASSWORD, "330300-housing_provident_fund", ("supervisor",)
    ),
    # Zhejiang province (浙江省): its department of culture and tourism.
    DemoStaffMember("19900000401", _HANDLER_PASSWORD, "330000-culture_tourism", ("handler",)),
    DemoStaffMember("19900000402", _SUPERVISOR_PASSWORD, "330000-culture_tourism", ("supervisor",)),
)
