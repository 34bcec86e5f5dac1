"""The demo staff ``make run`` seeds, as the README lists them (section "Demo staff"): the table
says what the seed's list (``identity_svc.demo_staff``) holds, every department in it is one
the catalog's data files build, and each handles, for the demo citizen's community, the
application the table names. identity-svc's seed cannot ask catalog-svc (it runs beside it, not
after it), so the department ids are held to the catalog's files here.

No processes: files and data only."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from catalog_svc.reference.dataset import CatalogDataset, load_dataset
from catalog_svc.reference.departments import department_id
from identity_svc.demo_staff import DEMO_STAFF, DemoStaffMember
from onevisit_dev.platform import REPO_ROOT

README = REPO_ROOT / "README.md"
#: 庆年坊社区 of Songtai sub-district, Lucheng, Wenzhou: where the README's demo citizen lives.
DEMO_COMMUNITY = "330302026003"
#: The applications of the README's walks: the citizen's ("Walk the journey") and the staff's
#: ("Walk a case through"); their departments' handlers and supervisors must be listed.
WALKED_ITEMS = ("public_security.id_card_loss_report", "housing_provident_fund.withdrawal")


@dataclass(frozen=True)
class ReadmeRow:
    region: tuple[str, str] | None  # (code, name)
    department: tuple[str, str] | None  # (id, name)
    role: str
    phone: str
    password: str
    item: tuple[str, str] | None  # (code, name)


def _coded(cell: str) -> tuple[str, str] | None:
    """A cell of the form "`code` name", or None for one without a code ("—", "all")."""
    found = re.fullmatch(r"`([^`]+)` (\S+)", cell)
    return (found[1], found[2]) if found else None


def _plain(cell: str) -> str:
    found = re.fullmatch(r"`([^`]+)`", cell)
    assert found, f"expected a single `value`, got {cell!r}"
    return found[1]


def readme_rows(readme: Path) -> list[ReadmeRow]:
    lines = readme.read_text(encoding="utf-8").splitlines()
    start = lines.index("### Demo staff")
    table = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    header, rule, *body = table
    assert header.startswith("| region | department | role | phone | password |")
    assert set(rule) <= {"|", "-", " "}
    rows = []
    for line in body:
        region, department, role, phone, password, item = (
            cell.strip() for cell in line.strip().strip("|").split("|")
        )
        rows.append(
            ReadmeRow(
                region=_coded(region),
                department=_coded(department),
                role=_plain(role),
                phone=_plain(phone),
                password=_plain(password),
                item=_coded(item),
            )
        )
    return rows


@pytest.fixture(scope="module")
def catalog() -> CatalogDataset:
    return load_dataset(REPO_ROOT / "catalog-svc/data")


def handling_department(catalog: CatalogDataset, item_code: str, region_code: str) -> str:
    """The department that handles the item for someone of the region, as catalog-svc finds it:
    up the region's lineage to the item's handling tier, that region's department of the
    item's type."""
    item = next(item for item in catalog.items if item.code == item_code)
    regions = {region.code: region for region in catalog.regions}
    region = regions[region_code]
    while region.level != item.handling_tier:
        assert region.parent_code is not None, f"{item_code}: no {item.handling_tier} above"
        region = regions[region.parent_code]
    return department_id(region.code, item.department_type)


def test_the_readme_lists_exactly_the_seeded_demo_staff() -> None:
    listed = [
        DemoStaffMember(
            phone=row.phone,
            password=row.password,
            dept=row.department[0] if row.department else None,
            roles=(row.role,),
        )
        for row in readme_rows(README)
    ]

    assert listed == list(DEMO_STAFF)


def test_every_demo_department_is_the_catalogs_and_named_as_the_catalog_names_it(
    catalog: CatalogDataset,
) -> None:
    departments = {department.id: department for department in catalog.departments}
    regions = {region.code: region for region in catalog.regions}
    for row in readme_rows(README):
        if row.department is None:
            assert (row.region, row.item) == (None, None)
            continue
        dept, dept_name = row.department
        assert dept in departments, f"catalog-svc builds no department {dept}"
        assert departments[dept].name == dept_name
        assert row.region is not None
        region_code, region_name = row.region
        assert departments[dept].region_code == region_code
        assert regions[region_code].name == region_name


def test_each_demo_department_handles_the_application_named_for_the_demo_citizen(
    catalog: CatalogDataset,
) -> None:
    items = {item.code: item for item in catalog.items}
    for row in readme_rows(README):
        if row.department is None or row.item is None:
            continue
        item_code, item_name = row.item
        assert items[item_code].name == item_name
        assert handling_department(catalog, item_code, DEMO_COMMUNITY) == row.department[0]


@pytest.mark.parametrize("item_code", WALKED_ITEMS)
def test_the_walked_applications_departments_have_a_demo_handler_and_supervisor(
    catalog: CatalogDataset, item_code: str
) -> None:
    dept = handling_department(catalog, item_code, DEMO_COMMUNITY)
    roles = {role for member in DEMO_STAFF if member.dept == dept for role in member.roles}

    assert {"handler", "supervisor"} <= roles


def test_every_demo_region_has_a_handler_and_a_supervisor() -> None:
    # Songtai sub-district, Lucheng, Wenzhou and the province: the demo citizen's lineage.
    lineage = {DEMO_COMMUNITY[:9], DEMO_COMMUNITY[:6], DEMO_COMMUNITY[:4] + "00", "330000"}
    for region in lineage:
        roles = {
            role
            for member in DEMO_STAFF
            if member.dept is not None and member.dept.split("-")[0] == region
            for role in member.roles
        }
        assert {"handler", "supervisor"} <= roles, region


def test_the_walk_signs_in_the_fund_centres_demo_staff_with_their_passwords(
    catalog: CatalogDataset,
) -> None:
    text = README.read_text(encoding="utf-8")
    signed_in = dict(re.findall(r"-d username=(\d+) \\\s*\n\s*-d password=(\S+)", text))
    fund_centre = handling_department(catalog, "housing_provident_fund.withdrawal", DEMO_COMMUNITY)
    walkers = [member for member in DEMO_STAFF if member.dept == fund_centre]

    assert {role for member in walkers for role in member.roles} == {"handler", "supervisor"}
    for member in walkers:
        assert signed_in.get(member.phone) == member.password, member.phone
