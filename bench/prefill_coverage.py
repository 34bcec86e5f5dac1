"""How much of each form the platform fills (``python -m bench.prefill_coverage``).

Reads the catalogue's data files (``catalog-svc/data``: the items, their shared form fields and
the bundles) and the exchange's resource catalogue
(``data-exchange-svc/src/data_exchange_svc/resources/specs.toml``) directly: no service runs.
Prints, for the 20 items citizens use most (``bench/prefill_top_items.toml`` says how they were
chosen), then for every one-issue bundle's merged form, the number of form fields, how many the
platform fills and the share, and lists the fields she still types.

The rule, per form field of an item (or of a bundle's merged form, each field once):

- filled from the verified identity: the field carries ``x-applicant`` (her name and identity
  number, an enterprise's name and credit code), which case-svc takes from the token;
- filled from a registry: the field's ``x-prefill`` names a resource of the exchange's
  catalogue that holds that field (a field a data call can read: not a face template nor a
  match-only predicate) and is about the form's subject (a person's form, a resource about
  persons; an enterprise's form, one about enterprises);
- anything else she types (or chooses: reasons, dates, amounts she decides).

A bundle's own questions (asked only to decide which items apply) are not form fields of any
item and are counted apart. Exits 1 when one of the first ten items fills less than 80 %.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog_svc.reference.items import APPLICANT_KEYWORD, PREFILL_KEYWORD, build_form_schema
from catalog_svc.settings import DEFAULT_DATA_DIR
from data_exchange_svc.resources.spec import ResourceSpec, load_specs

REPO_DIR = Path(__file__).resolve().parents[1]
TOP_ITEMS_FILE = Path(__file__).with_name("prefill_top_items.toml")
SPECS_FILE = (
    REPO_DIR / "data-exchange-svc" / "src" / "data_exchange_svc" / "resources" / "specs.toml"
)
ITEM_FILES = ("items.toml", "items_generated.toml")
#: The share of its form each of the first ten items must fill.
TARGET_SHARE = 0.8
TARGET_COUNT = 10


@dataclass(frozen=True, slots=True)
class Coverage:
    code: str
    name: str
    fields: int
    from_identity: int
    from_registries: int
    typed: tuple[str, ...]
    questions: int = 0

    @property
    def filled(self) -> int:
        return self.from_identity + self.from_registries

    @property
    def share(self) -> float:
        return self.filled / self.fields if self.fields else 1.0


@dataclass(frozen=True, slots=True)
class Catalogue:
    #: Item code → (name, subject, form schema as the catalog builds it).
    items: dict[str, tuple[str, str, dict[str, Any]]]
    bundles: list[dict[str, Any]]


def load_catalogue(data_dir: Path = DEFAULT_DATA_DIR) -> Catalogue:
    with (data_dir / ITEM_FILES[0]).open("rb") as handle:
        document = tomllib.load(handle)
    entries = list(document.get("items", []))
    for extra in ITEM_FILES[1:]:
        with (data_dir / extra).open("rb") as handle:
            entries += tomllib.load(handle).get("items", [])
    allowed = {
        resource: frozenset(fields)
        for resource, fields in document.get("prefill_resources", {}).items()
    }
    items = {
        entry["code"]: (
            entry["name"],
            entry["subject"],
            build_form_schema(
                entry["code"], entry["name"], entry["form"], document["fields"], allowed
            ),
        )
        for entry in entries
    }
    with (data_dir / "bundles.toml").open("rb") as handle:
        bundles = tomllib.load(handle).get("bundles", [])
    return Catalogue(items=items, bundles=bundles)


def load_top_items(path: Path = TOP_ITEMS_FILE) -> list[str]:
    with path.open("rb") as handle:
        return list(tomllib.load(handle)["top_items"])


def registry_holds(prefill: Any, subject: str, specs: Mapping[str, ResourceSpec]) -> bool:
    """Whether an ``x-prefill`` names a readable field of a resource about this subject."""
    if not isinstance(prefill, Mapping):
        return False
    spec = specs.get(prefill.get("resource", ""))
    field = prefill.get("field", "")
    return (
        spec is not None
        and subject in spec.subject_kinds
        and spec.has_field(field)
        and spec.field(field).readable
    )


def coverage(
    code: str,
    name: str,
    subject: str,
    properties: Mapping[str, Any],
    specs: Mapping[str, ResourceSpec],
    *,
    questions: int = 0,
) -> Coverage:
    identity = registries = 0
    typed: list[str] = []
    for field, definition in properties.items():
        if APPLICANT_KEYWORD in definition:
            identity += 1
        elif registry_holds(definition.get(PREFILL_KEYWORD), subject, specs):
            registries += 1
        else:
            typed.append(field)
    return Coverage(code, name, len(properties), identity, registries, tuple(typed), questions)


def item_coverages(
    codes: Iterable[str], catalogue: Catalogue, specs: Mapping[str, ResourceSpec]
) -> list[Coverage]:
    report = []
    for code in codes:
        name, subject, schema = catalogue.items[code]
        report.append(coverage(code, name, subject, schema["properties"], specs))
    return report


def bundle_coverages(catalogue: Catalogue, specs: Mapping[str, ResourceSpec]) -> list[Coverage]:
    """Each bundle's merged form: every item's fields, each name once (the seed refuses a
    bundle whose items define one name two ways, so the first definition stands for all)."""
    report = []
    for bundle in catalogue.bundles:
        properties: dict[str, Any] = {}
        for code in bundle.get("items", []):
            for field, definition in catalogue.items[code][2]["properties"].items():
                properties.setdefault(field, definition)
        report.append(
            coverage(
                bundle["code"],
                bundle["name"],
                bundle["subject"],
                properties,
                specs,
                questions=len(bundle.get("questions", {})),
            )
        )
    return report


def prefill_targets(catalogue: Catalogue) -> Iterable[tuple[str, str, Any]]:
    """Every ``x-prefill`` of every item's form: (item, field, the binding)."""
    for code, (_, _, schema) in catalogue.items.items():
        for field, definition in schema["properties"].items():
            if PREFILL_KEYWORD in definition:
                yield code, field, definition[PREFILL_KEYWORD]


def _print_table(title: str, rows: Sequence[Coverage], *, mark_first: int = 0) -> None:
    print(f"\n{title}")
    print(f"{'':3} {'code':58} {'fields':>6} {'ident':>5} {'regis':>5} {'share':>6}  typed")
    for position, row in enumerate(rows, start=1):
        rank = f"{position:>2}{'*' if position <= mark_first else ' '}"
        extra = f" (+{row.questions} questions)" if row.questions else ""
        print(
            f"{rank} {row.code:58} {row.fields:>6} {row.from_identity:>5} "
            f"{row.from_registries:>5} {row.share:>6.0%}  {', '.join(row.typed) or '-'}{extra}"
        )


def _totals(rows: Sequence[Coverage]) -> str:
    fields = sum(row.fields for row in rows)
    filled = sum(row.filled for row in rows)
    return f"{filled} of {fields} fields filled ({filled / fields:.0%})" if fields else "no fields"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--specs", type=Path, default=SPECS_FILE)
    args = parser.parse_args(argv)
    catalogue = load_catalogue(args.data_dir)
    specs = load_specs(args.specs)
    top = item_coverages(load_top_items(), catalogue, specs)
    bundles = [row for row in bundle_coverages(catalogue, specs) if row.fields]
    _print_table(
        f"The 20 items citizens use most (* the first ten: {TARGET_SHARE:.0%} or more each)",
        top,
        mark_first=TARGET_COUNT,
    )
    print(f"top 20: {_totals(top)}; top 10: {_totals(top[:TARGET_COUNT])}")
    _print_table("Every one-issue bundle's merged form", bundles)
    print(f"bundles: {_totals(bundles)}")
    below = [row.code for row in top[:TARGET_COUNT] if row.share < TARGET_SHARE]
    print(f"first ten under {TARGET_SHARE:.0%}: {', '.join(below) or 'none'}")
    if below:
        sys.exit(1)


if __name__ == "__main__":
    main()
