"""The population registry's source file (``data/population.csv``): its columns and reader.

The committed file is synthetic (see ``data/README.md``); ``scripts/generate_population.py``
writes it with these columns, and the seed loads it.
"""

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

COLUMNS = (
    "id_number",
    "name",
    "sex",
    "birth_date",
    "ethnicity",
    "registered_region",
    "registered_address",
    "id_card_status",
    "face_seed",
)


@dataclass(frozen=True, slots=True)
class PersonRow:
    id_number: str
    name: str
    sex: str
    birth_date: dt.date
    ethnicity: str
    registered_region: str
    registered_address: str
    id_card_status: str
    face_seed: int


def read_population(path: Path) -> list[PersonRow]:
    with path.open(encoding="utf-8", newline="") as source:
        reader = csv.DictReader(source)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path} does not have the columns {', '.join(COLUMNS)}")
        return [
            PersonRow(
                id_number=row["id_number"],
                name=row["name"],
                sex=row["sex"],
                birth_date=dt.date.fromisoformat(row["birth_date"]),
                ethnicity=row["ethnicity"],
                registered_region=row["registered_region"],
                registered_address=row["registered_address"],
                id_card_status=row["id_card_status"],
                face_seed=int(row["face_seed"]),
            )
            for row in reader
        ]
