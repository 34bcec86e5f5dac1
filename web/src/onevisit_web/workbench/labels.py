"""The workbench's words (``labels.toml``) and how its pages show times and rates: data read
once, plus the two template filters every workbench page uses."""

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from onevisit_web.pages import ENVIRONMENT

_TABLE: dict[str, Any] = tomllib.loads((Path(__file__).with_name("labels.toml")).read_text("utf-8"))
#: The platform's working days and deadlines are Beijing time's, whatever the server's zone.
BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class ActionForm:
    """How one workflow action is asked for: its button, its note, what else it carries."""

    name: str
    label: str
    note: str | None
    carries: str | None
    style: str | None


def words(group: str) -> dict[str, str]:
    """One group of names (``case_statuses``, ``channels``, ...), value to words."""
    table: dict[str, str] = _TABLE[group]
    return table


ACTIONS: dict[str, ActionForm] = {
    name: ActionForm(name, spec["label"], spec.get("note"), spec.get("carries"), spec.get("style"))
    for name, spec in _TABLE["actions"].items()
}


#: The statuses of open cases, which the queue filters by.
QUEUE_STATUSES: list[str] = _TABLE["queue"]["statuses"]


def local_time(value: object) -> str:
    """An API timestamp (ISO 8601, UTC) as Beijing time to the minute; '—' for none."""
    if not value:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d")
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def percent(value: object) -> str:
    """A rate of 0..1 as a percentage with one decimal; '—' when there is none."""
    if value is None:
        return "—"
    return f"{float(str(value)) * 100:.1f}%"


ENVIRONMENT.filters["wb_time"] = local_time
ENVIRONMENT.filters["wb_percent"] = percent
