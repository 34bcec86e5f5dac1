"""The reference data: the region tree and its retired codes, the departments built from
templates, the items file, and a seed that is fast to repeat and changes nothing twice."""

import importlib.util
import tomllib
from collections import Counter
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from catalog_svc.models import Bundle, Department, ReferenceDataset, Region, ServiceItem
from catalog_svc.reference.dataset import CatalogDataset, load_dataset
from catalog_svc.reference.items import ITEMS_FILE, ItemDataError, load_items
from catalog_svc.reference.regions import RegionChange, RegionRecord, retired_regions
from catalog_svc.seed import seed
from catalog_svc.settings import DEFAULT_DATA_DIR
from servicekit.regions import RegionCode


@pytest.fixture(scope="module")
def dataset() -> CatalogDataset:
    return load_dataset(DEFAULT_DATA_DIR)


def _current(*rows: tuple[str, str]) -> dict[str, RegionRecord]:
    return {
        code: RegionRecord(
            code, RegionCode.parse(code).prefix, name, "county", None, "current", None
        )
        for code, name in rows
    }


def _change(year: int, kind: str, old: str, old_name: str, new: str, new_name: str) -> RegionChange:
    return RegionChange(year, kind, old or None, old_name, new or None, new_name)


def test_the_tree_has_every_level_of_the_reference_files(dataset: CatalogDataset) -> None:
    levels = Counter(record.level for record in dataset.regions if record.status == "current")
    assert levels == {"province": 1, "city": 11, "county": 90, "township": 1387, "village": 25547}


def test_songtai_and_its_community_come_from_the_statistics_codes(dataset: CatalogDataset) -> None:
    by_code = {record.code: record for record in dataset.regions}
    assert by_code["330302026"].name == "松台街道"  # 广化街道 in the MCA numbering
    assert by_code["330302026003"].parent_code == "330302026"


def test_a_code_handed_round_leads_to_the_region_that_held_it_last() -> None:
    # Two counties swap codes (码位改派); then the one now at 110 is recoded to 301.
    changes = [
        _change(1982, "码位改派", "330110", "甲县", "330110", "乙县"),
        _change(1982, "码位改派", "330111", "乙县", "330111", "甲县"),
        _change(1990, "撤县设区", "330110", "乙县", "330301", "乙区"),
    ]
    current = _current(("330301", "乙区"), ("330111", "甲县"))
    retired = {record.code: record for record in retired_regions(changes, current)}
    assert (retired["330110"].name, retired["330110"].successor_code) == ("乙县", "330301")
    assert set(retired) == {"330110"}  # 330111 is current: never shadowed


def test_a_region_merged_away_leads_to_the_one_that_absorbed_it() -> None:
    changes = [
        _change(2001, "撤市设区", "330181", "丙市", "330109", "丙区"),
        _change(2021, "撤销", "330103", "丁区", "330109", "丙区"),
        _change(2022, "撤销", "330104", "戊区", "", ""),
    ]
    current = _current(("330109", "丙区"))
    retired = {record.code: record for record in retired_regions(changes, current)}
    assert {code: record.successor_code for code, record in retired.items()} == {
        "330181": "330109",
        "330103": "330109",
        "330104": None,
    }
    assert all(record.status == "retired" for record in retired.values())


def test_retired_codes_never_shadow_current_ones_and_lead_to_current_ones(
    dataset: CatalogDataset,
) -> None:
    current = {r.code for r in dataset.regions if r.status == "current"}
    retired = [r for r in dataset.regions if r.status == "retired"]
    assert len(retired) > 100
    assert not current & {r.code for r in retired}
    assert all(r.successor_code in current for r in retired if r.successor_code)
    codes = [r.code for r in dataset.regions]
    assert len(codes) == len(set(codes))


def test_items_file_has_real_breadth(dataset: CatalogDataset) -> None:
    items = dataset.items
    assert len(items) >= 430
    assert len({item.department_type for item in items}) >= 20
    assert {item.subject for item in items} == {"person", "enterprise"}
    assert {item.handling_tier for item in items} == {"province", "city", "county", "township"}


def test_every_form_takes_the_applicants_own_identity_from_her_verified_one(
    dataset: CatalogDataset,
) -> None:
    """A person's name and ID number, an enterprise's credit code and name, wherever a form
    asks for them, are the applicant's (x-applicant); anyone else's a form names (a spouse, a
    child, the deceased, a legal representative) is not; and only a verified identity fills
    them, so no such item is open at level 1."""
    applicants = {
        "person": {"name": "name", "id_number": "id_number"},
        "enterprise": {
            "enterprise_name": "enterprise_name",
            "unified_social_credit_code": "credit_code",
        },
    }
    for item in dataset.items:
        properties = item.form_schema["properties"]
        marked = {
            field: definition["x-applicant"]
            for field, definition in properties.items()
            if "x-applicant" in definition
        }
        expected = {
            field: part for field, part in applicants[item.subject].items() if field in properties
        }
        assert marked == expected, item.code
        assert not marked or item.min_loa >= 2, item.code


def test_the_seed_refuses_a_form_that_marks_a_part_of_another_kind_of_applicant(
    tmp_path: Path,
) -> None:
    (tmp_path / ITEMS_FILE).write_text(
        """
[[items]]
code = "public_security.pet_licence_synthetic"
name = "犬只登记（合成数据）"
department_type = "public_security"
handling_tier = "county"
subject = "person"
visits = 1
processing_mode = "review"
min_loa = 2
fee = { free = true }
version = 1
status = "published"
[items.form.properties]
company = { type = "string", x-applicant = "credit_code" }
""",
        encoding="utf-8",
    )

    with pytest.raises(ItemDataError, match="a person applicant has no credit_code"):
        load_items(tmp_path, offered={("public_security", "county")}, region_codes=frozenset())


def test_a_second_person_approves_decisions_on_provident_fund_payments_and_licences(
    dataset: CatalogDataset,
) -> None:
    """Money paid out of or lent from the housing provident fund, and the administrative
    licences (行政许可) granted after review: a supervisor who did not review the case approves
    its decision. Every other item is decided by the handler who reviewed it, unsaid."""
    by_approval: dict[str, set[str]] = {}
    for item in dataset.items:
        by_approval.setdefault(item.decision_approval, set()).add(item.code)
    assert by_approval["second_person"] == {
        "housing_provident_fund.withdrawal",
        "housing_provident_fund.loan_application",
        "market_regulation.food_business_licence",
        "housing_urban_rural_development.construction_safety_licence",
        "transport.road_freight_licence",
    }
    assert set(by_approval) == {"single", "second_person"}
    assert len(by_approval["single"]) >= 430


def test_the_items_that_issue_a_licence_the_certificate_library_holds_say_which(
    dataset: CatalogDataset,
) -> None:
    """A completed case of these items issues an electronic certificate, published to the
    exchange's certificate library; no other item issues one, and each is reviewed."""
    issuing = {
        item.code: item.issues_certificate for item in dataset.items if item.issues_certificate
    }
    assert issuing == {
        "traffic_police.driving_licence_replacement": "driving_licence",
        "traffic_police.driving_licence_renewal": "driving_licence",
        "market_regulation.food_business_licence": "food_business_licence",
    }
    assert {item.processing_mode for item in dataset.items if item.issues_certificate} == {"review"}


_DECIDED_ITEM = """
[[items]]
code = "public_security.pet_licence_synthetic"
name = "犬只登记（合成数据）"
department_type = "public_security"
handling_tier = "county"
subject = "person"
visits = 1
min_loa = 2
fee = { free = true }
version = 1
status = "published"
"""


@pytest.mark.parametrize(
    ("lines", "decision_approval"),
    [
        ('processing_mode = "review"', "single"),
        ('processing_mode = "instant"', "single"),
        ('processing_mode = "review"\ndecision_approval = "second_person"', "second_person"),
    ],
)
def test_an_item_that_says_nothing_of_its_decision_is_decided_by_one_person(
    tmp_path: Path, lines: str, decision_approval: str
) -> None:
    (tmp_path / ITEMS_FILE).write_text(
        f"{_DECIDED_ITEM}{lines}\n[items.form.properties]\n", encoding="utf-8"
    )
    (item,) = load_items(
        tmp_path, offered={("public_security", "county")}, region_codes=frozenset()
    )
    assert item.decision_approval == decision_approval


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            'processing_mode = "instant"\nissues_certificate = "driving_licence"',
            "issues_certificate: only an item a department reviews",
        ),
        (
            'processing_mode = "review"\nissues_certificate = "Driving Licence"',
            "issues_certificate: a certificate type is a lower-case slug",
        ),
    ],
)
def test_the_seed_refuses_a_certificate_issued_without_review_and_a_malformed_type(
    tmp_path: Path, lines: str, message: str
) -> None:
    (tmp_path / ITEMS_FILE).write_text(
        f"{_DECIDED_ITEM}{lines}\n[items.form.properties]\n", encoding="utf-8"
    )
    with pytest.raises(ItemDataError, match=message):
        load_items(tmp_path, offered={("public_security", "county")}, region_codes=frozenset())


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            'processing_mode = "instant"\ndecision_approval = "second_person"',
            "decision_approval: only an item a department reviews",
        ),
        (
            'processing_mode = "review"\ndecision_approval = "supervisor"',
            "decision_approval must be one of",
        ),
    ],
)
def test_the_seed_refuses_a_second_person_where_nobody_reviews_and_unknown_approvals(
    tmp_path: Path, lines: str, message: str
) -> None:
    (tmp_path / ITEMS_FILE).write_text(
        f"{_DECIDED_ITEM}{lines}\n[items.form.properties]\n", encoding="utf-8"
    )
    with pytest.raises(ItemDataError, match=message):
        load_items(tmp_path, offered={("public_security", "county")}, region_codes=frozenset())


async def test_departments_per_tier_as_the_templates_say(app: FastAPI) -> None:
    async with app.state.service.database.sessionmaker() as session:
        rows = await session.execute(
            select(Department.tier, func.count()).group_by(Department.tier)
        )
        per_tier = dict(rows.all())
        townships = await session.scalar(
            select(func.count()).where(Region.level == "township", Region.status == "current")
        )
    # 23 provincial departments; 25 per city (11); 21 per county (90); one centre per
    # administrative township (街道, 镇, 乡), i.e. not the NBS file's farms and zones.
    assert per_tier == {"province": 23, "city": 275, "county": 1890, "township": 1364}
    assert sum(per_tier.values()) == 3552
    assert townships == 1387


@pytest.mark.parametrize(
    ("department_id", "name"),
    [
        ("330302-public_security", "温州市公安局鹿城区分局"),
        ("330381-public_security", "瑞安市公安局"),
        ("330324-public_security", "永嘉县公安局"),
        ("330300-public_security", "温州市公安局"),
        ("330300-housing_provident_fund", "温州市住房公积金管理中心"),
        ("330100-housing_provident_fund", "杭州住房公积金管理中心"),
        ("330302-tax", "国家税务总局温州市鹿城区税务局"),
        ("330302026-convenience_service", "松台街道便民服务中心"),
        ("330000-public_security", "浙江省公安厅"),
    ],
)
async def test_department_names_follow_the_real_patterns(
    app: FastAPI, department_id: str, name: str
) -> None:
    async with app.state.service.database.sessionmaker() as session:
        department = await session.get(Department, department_id)
    assert department is not None
    assert department.name == name
    assert department.region_code == department_id.split("-")[0]


async def _snapshot(session: AsyncSession) -> list[object]:
    """Every reference row, as plain tuples."""
    tables = (Region, Department, ServiceItem, Bundle, ReferenceDataset)
    keys = (Region.code, Department.id, ServiceItem.code, Bundle.code, ReferenceDataset.name)
    return [
        (await session.execute(select(t.__table__).order_by(k))).all()
        for t, k in zip(tables, keys, strict=True)
    ]


async def test_seeding_again_changes_nothing(app: FastAPI) -> None:
    async with app.state.service.database.sessionmaker() as session:
        before = await _snapshot(session)
    async with app.state.service.database.sessionmaker.begin() as session:
        await seed(session, app.state.service.settings)
    async with app.state.service.database.sessionmaker() as session:
        assert await _snapshot(session) == before


async def test_a_seed_over_changed_rows_puts_the_reference_data_back(app: FastAPI) -> None:
    sessionmaker = app.state.service.database.sessionmaker
    async with sessionmaker.begin() as session:
        before = (await _snapshot(session))[:4]  # all but the fingerprint's load time
        await session.execute(update(Region).where(Region.code == "330302").values(name="x"))
        await session.execute(delete(Department).where(Department.id == "330302-tax"))
        await session.execute(delete(Bundle).where(Bundle.code == "birth"))
        await session.execute(
            update(ReferenceDataset)
            .values(fingerprint="stale")
            .execution_options(synchronize_session=False)
        )
    async with sessionmaker.begin() as session:
        await seed(session, app.state.service.settings)
    async with sessionmaker() as session:
        assert (await _snapshot(session))[:4] == before


def test_the_generated_items_file_is_what_its_table_produces() -> None:
    """data/items_generated.toml is committed output: it must match scripts/items_table.txt."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "generate_items.py"
    spec = importlib.util.spec_from_file_location("generate_items", script)
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    table = generator.TABLE.read_text(encoding="utf-8")
    expected = generator.render(generator.parse_table(table))
    assert generator.OUTPUT.read_text(encoding="utf-8") == expected, (
        "run: uv run python catalog-svc/scripts/generate_items.py"
    )


def test_every_generated_item_marks_its_unchecked_figures(dataset: CatalogDataset) -> None:
    with (DEFAULT_DATA_DIR / "items_generated.toml").open("rb") as handle:
        codes = {entry["code"] for entry in tomllib.load(handle)["items"]}
    generated = [item for item in dataset.items if item.code in codes]
    assert len(generated) == len(codes) >= 400
    unchecked = {"handling_tier", "visits", "promised_working_days", "fee", "materials"}
    for item in generated:
        assert unchecked <= set(item.illustrative)
