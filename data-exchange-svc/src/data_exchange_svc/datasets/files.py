"""The committed files of the hosted datasets (``data/<resource code>.csv`` or ``.jsonl``), read
as a provider's records: the subject in an ``id_number`` or ``credit_code`` column (an empty
cell: not this kind), then the resource's loaded fields. JSON lines carry nested values (a
household's members); CSV cells are text, typed by the field's spec."""

import csv
import json
from pathlib import Path
from typing import Any

from data_exchange_svc.datasets.records import RawRecord

SUBJECT_COLUMNS = ("id_number", "credit_code")


def dataset_file(directory: Path, resource_code: str) -> Path | None:
    for suffix in (".jsonl", ".csv"):
        path = directory / f"{resource_code}{suffix}"
        if path.is_file():
            return path
    return None


def _record(row: dict[str, Any], *, from_text: bool) -> RawRecord:
    subject = {column: row.pop(column, None) or None for column in SUBJECT_COLUMNS}
    return RawRecord(subject["id_number"], subject["credit_code"], row, from_text=from_text)


def read_dataset(path: Path) -> list[RawRecord]:
    with path.open(encoding="utf-8", newline="") as source:
        if path.suffix == ".csv":
            return [_record(dict(row), from_text=True) for row in csv.DictReader(source)]
        return [_record(json.loads(line), from_text=False) for line in source if line.strip()]
