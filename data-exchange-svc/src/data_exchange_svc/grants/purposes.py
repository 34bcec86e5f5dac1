"""The controlled list of purposes a grant may name (``purposes.toml`` beside this file)."""

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Purpose:
    code: str
    label: str
    #: The platform's own identity checks: granted to identity-svc only, never applied for.
    reserved: bool = False


def load_purposes(path: Path) -> dict[str, Purpose]:
    with path.open("rb") as source:
        document = tomllib.load(source)
    return {
        raw["code"]: Purpose(raw["code"], raw["label"], raw.get("reserved", False))
        for raw in document["purpose"]
    }


PURPOSES: Mapping[str, Purpose] = load_purposes(Path(__file__).with_name("purposes.toml"))
