"""Build ``data/items_generated.toml`` from the compact table ``scripts/items_table.txt``.

The table holds the items beyond the hand-written ones in ``data/items.toml``: one line each,
with section defaults (department type, tier, subject, topics) and short flags for what differs.
The names are the items' published names; every other figure the table gives (visits, working
days, fees, materials, tier) is listed in the item's ``illustrative``, since it was not checked
item by item against an official source. Run from the repository root:

    uv run python catalog-svc/scripts/generate_items.py

and commit both the table and the output; the seed reads only the output.
"""

import json
import sys
from pathlib import Path
from typing import Any

SERVICE_DIR = Path(__file__).resolve().parents[1]
TABLE = SERVICE_DIR / "scripts" / "items_table.txt"
OUTPUT = SERVICE_DIR / "data" / "items_generated.toml"

#: Version 2: the shared form fields a registry holds (contact_phone, mailing_address,
#: bank_account, legal_representative, child_*, spouse_*, plate_number, driving_licence_number)
#: were bound to the exchange's resources, and every generated form names one of them.
FORM_VERSION = 2
ILLUSTRATIVE = ["handling_tier", "visits", "promised_working_days", "fee", "materials"]
DEFAULT_FORMS = {
    "person": ["name", "id_number", "contact_phone"],
    "enterprise": [
        "enterprise_name",
        "unified_social_credit_code",
        "legal_representative",
        "contact_phone",
    ],
}
DEFAULT_MATERIALS = {
    "person": [{"name": "居民身份证", "required": True, "provided_as": "data_sharing"}],
    "enterprise": [
        {"name": "营业执照", "required": True, "provided_as": "data_sharing"},
        {"name": "申请书", "required": True, "provided_as": "upload"},
    ],
}


def _toml(value: Any) -> str:
    """A TOML inline value (JSON strings and numbers are valid TOML)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("/") if part.strip()]


def parse_item(line: str, section: dict[str, Any], number: int) -> dict[str, Any]:
    slug, name, aliases, flags = (part.strip() for part in line.split("|"))
    item: dict[str, Any] = {
        "code": f"{section['department_type']}.{slug}",
        "name": name,
        "aliases": _split(aliases),
        "keywords": [],
        "department_type": section["department_type"],
        "handling_tier": section["tier"],
        "subject": section["subject"],
        "topics": list(section["topics"]),
        "visits": 1,
        "processing_mode": "review",
        "min_loa": 2,
    }
    days: int | None = None
    legal: int | None = None
    fee: dict[str, Any] = {"free": True}
    extra_fields: list[str] = []
    materials: list[str] = []
    keep_default_materials = True
    for flag in flags.split():
        if flag in ("v0", "v1"):
            item["visits"] = int(flag[1])
        elif flag == "vs":
            item["visits"] = "on_site"
        elif flag == "i":
            item["processing_mode"] = "instant"
        elif flag in ("L1", "L2", "L3"):
            item["min_loa"] = int(flag[1])
        elif flag[0] == "d" and flag[1:].isdigit():
            days = int(flag[1:])
        elif flag[0] == "D" and flag[1:].isdigit():
            legal = int(flag[1:])
        elif flag.startswith("$"):
            fee = {"free": False, "amount_cny": flag[1:]}
        elif flag == "E":
            item["subject"] = "enterprise"
        elif flag == "P":
            item["subject"] = "person"
        elif flag.startswith("@"):
            item["handling_tier"] = flag[1:]
        elif flag.startswith("t:"):
            item["topics"] = _split(flag[2:])
        elif flag.startswith("k:"):
            item["keywords"] = _split(flag[2:])
        elif flag.startswith("f:"):
            extra_fields = flag[2:].split(",")
        elif flag == "-m":
            keep_default_materials = False
        elif flag.startswith("m:"):
            materials = _split(flag[2:])
        else:
            raise SystemExit(f"{TABLE.name}:{number}: unknown flag {flag!r}")
    if days is None:
        days = 0 if item["processing_mode"] == "instant" else 5
    if legal is not None:
        item["legal_working_days"] = legal
    item["promised_working_days"] = days
    item["fee"] = fee
    defaults = DEFAULT_MATERIALS[item["subject"]] if keep_default_materials else []
    item["materials"] = defaults + [
        {"name": material, "required": True, "provided_as": "upload"} for material in materials
    ]
    item["illustrative"] = ILLUSTRATIVE
    item["version"] = FORM_VERSION
    item["status"] = "published"
    fields = DEFAULT_FORMS[item["subject"]] + [f for f in extra_fields if f]
    item["form"] = {
        "fields": list(dict.fromkeys(fields)),
        "required": DEFAULT_FORMS[item["subject"]],
    }
    return item


def parse_table(text: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    section: dict[str, Any] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("=="):
            words = line[2:].split()
            department_type, tier, subject = words[:3]
            topics = _split(words[3][2:]) if len(words) > 3 and words[3].startswith("t:") else []
            section = {
                "department_type": department_type,
                "tier": tier,
                "subject": subject,
                "topics": topics,
            }
            continue
        if section is None:
            raise SystemExit(f"{TABLE.name}:{number}: an item before any section")
        items.append(parse_item(line, section, number))
    return items


def render(items: list[dict[str, Any]]) -> str:
    lines = [
        "# GENERATED by scripts/generate_items.py from scripts/items_table.txt: edit the table,",
        "# then run the script. Names are the items' published names; the figures listed in each",
        "# item's `illustrative` were not checked against an official source.",
        "",
    ]
    for item in items:
        lines.append("[[items]]")
        form = item.pop("form")
        for key, value in item.items():
            lines.append(f"{key} = {_toml(value)}")
        lines.append("[items.form]")
        lines.append(f"fields = {_toml(form['fields'])}")
        lines.append(f"required = {_toml(form['required'])}")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    items = parse_table(TABLE.read_text(encoding="utf-8"))
    OUTPUT.write_text(render(items), encoding="utf-8")
    print(f"{len(items)} items written to {OUTPUT.relative_to(SERVICE_DIR)}", file=sys.stderr)


if __name__ == "__main__":
    main()
