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
    #: A use on the citizen's behalf: every reader, a platform service too, needs her consent.
    for_the_citizen: bool = False


def load_purposes(path: Path) -> dict[str, Purpose]:
    with path.open("rb") as source:
        document = tomllib.load(source)
    return {
        raw["code"]: Purpose(
            raw["code"],
            raw["label"],
            raw.get("reserved", False),
            raw.get("for_the_citizen", False),
        )
        for raw in document["purpose"]
    }


PURPOSES: Mapping[str, Purpose] = load_purposes(Path(__file__).with_name("purposes.toml"))


def for_the_citizen(purpose: str) -> bool:
    """Whether a read for ``purpose`` is made on the citizen's behalf (and needs her consent
    whoever reads)."""
    known = PURPOSES.get(purpose)
    return known is not None and known.for_the_citizen
