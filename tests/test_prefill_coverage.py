"""Forms mapped to registries (issue 17): every binding a form declares names a field the
exchange's registries really hold, and ``python -m bench.prefill_coverage`` reports each of the
ten items citizens use most at least 80 % filled by the platform. Read from the catalogue's data
files and the exchange's resource catalogue: no platform runs."""

import re
import subprocess
import sys
import tomllib
from typing import Any

import pytest

from case_svc.drafts.service import IDENTITY_BINDINGS
from catalog_svc.reference.items import PREFILL_KEYWORD, keyword_uses, load_prefill_resources
from catalog_svc.settings import DEFAULT_DATA_DIR
from data_exchange_svc.resources.spec import ResourceSpec, load_specs
from data_exchange_svc.seed import CASE_SVC_PREFILL_GRANTS
from onevisit_dev.platform import REPO_ROOT

SPECS_FILE = REPO_ROOT / "data-exchange-svc/src/data_exchange_svc/resources/specs.toml"
TOP_ITEMS_FILE = REPO_ROOT / "bench/prefill_top_items.toml"
#: A row of the report: rank (starred among the first ten), code, fields, identity, registries,
#: share.
REPORT_ROW = re.compile(r"^\s*(\d+)(\*?)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)%\s+(.*)$")


def _toml(name: str) -> dict[str, Any]:
    with (DEFAULT_DATA_DIR / name).open("rb") as handle:
        return tomllib.load(handle)


@pytest.fixture(scope="module")
def specs() -> dict[str, ResourceSpec]:
    return load_specs(SPECS_FILE)


@pytest.fixture(scope="module")
def report() -> list[str]:
    run = subprocess.run(
        [sys.executable, "-m", "bench.prefill_coverage"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout.splitlines()


def _reads(specs: dict[str, ResourceSpec], resource: str, field: str) -> bool:
    spec = specs.get(resource)
    return spec is not None and spec.has_field(field) and spec.field(field).readable


def test_every_x_prefill_names_a_field_a_data_call_can_read(
    specs: dict[str, ResourceSpec],
) -> None:
    bindings = [
        (name, where, binding)
        for name in ("items.toml", "items_generated.toml")
        for where, binding in keyword_uses(_toml(name), PREFILL_KEYWORD)
    ]
    assert len(bindings) > 20
    unknown = [
        (name, where, binding)
        for name, where, binding in bindings
        if not _reads(specs, binding["resource"], binding["field"])
    ]
    assert unknown == []


def test_the_fields_the_catalog_lets_a_form_name_are_fields_of_the_exchange(
    specs: dict[str, ResourceSpec],
) -> None:
    allowed = load_prefill_resources(DEFAULT_DATA_DIR)
    assert {
        f"{resource}.{field}"
        for resource, fields in allowed.items()
        for field in fields
        if not _reads(specs, resource, field)
    } == set()


def test_the_top_list_names_twenty_distinct_items_for_persons() -> None:
    with TOP_ITEMS_FILE.open("rb") as handle:
        top = tomllib.load(handle)["top_items"]
    items = {
        item["code"]: item
        for name in ("items.toml", "items_generated.toml")
        for item in _toml(name)["items"]
    }
    assert len(top) == len(set(top)) == 20
    assert [items[code]["subject"] for code in top] == ["person"] * 20


def test_the_report_shows_each_of_the_first_ten_items_filled_80_percent_or_more(
    report: list[str],
) -> None:
    rows = [match.groups() for line in report if (match := REPORT_ROW.match(line))]
    with TOP_ITEMS_FILE.open("rb") as handle:
        top = tomllib.load(handle)["top_items"]
    first_ten = [row for row in rows if row[1] == "*"]
    assert [row[2] for row in first_ten] == top[:10]
    for _, _, code, fields, identity, registries, share, _ in first_ten:
        assert int(identity) + int(registries) >= 0.8 * int(fields), code
        assert int(share) >= 80, code
    assert [row[2] for row in rows[:20]] == top


def test_the_report_covers_every_bundle_and_the_birth_bundle_asks_nothing_held(
    report: list[str],
) -> None:
    rows = {match.group(3): match.groups() for line in report if (match := REPORT_ROW.match(line))}
    bundles = [bundle["code"] for bundle in _toml("bundles.toml")["bundles"]]
    assert len(bundles) == 41
    assert set(bundles) <= set(rows)
    # A mother filing the birth bundle types nothing the government holds.
    assert rows["birth"][6] == "100"
    assert rows["birth"][7].startswith("- ")


def _bound_beyond_identity(node: Any, found: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (resource, field) pairs forms bind with x-prefill, but on the applicant's own
    identity fields (x-applicant), which her verified identity fills."""
    if isinstance(node, dict):
        binding = node.get(PREFILL_KEYWORD)
        if isinstance(binding, dict) and not node.get("x-applicant"):
            found.add((binding["resource"], binding["field"]))
            # A field bound to her own name or number is filled from her verified identity.
            found -= set(IDENTITY_BINDINGS)
        for value in node.values():
            _bound_beyond_identity(value, found)
    elif isinstance(node, list):
        for value in node:
            _bound_beyond_identity(value, found)
    return found


def test_case_svc_may_read_for_pre_fill_exactly_the_fields_the_forms_bind() -> None:
    """The exchange's seed grants case-svc, for pre-fill, what the forms bind and no more."""
    bound: set[tuple[str, str]] = set()
    for name in ("items.toml", "items_generated.toml"):
        _bound_beyond_identity(_toml(name), bound)
    granted = {
        (grant.resource_code, field) for grant in CASE_SVC_PREFILL_GRANTS for field in grant.fields
    }
    assert granted == bound
