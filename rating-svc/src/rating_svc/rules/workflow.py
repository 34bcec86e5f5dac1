"""The rectification workflow: the table in ``rectification.toml``, read once, and the pure
function that says where a step leads and who may take it."""

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from servicekit.problems import Conflict, Forbidden, extension_members

TABLE = Path(__file__).with_name("rectification.toml")


class Status(enum.StrEnum):
    AWAITING_CALL_BACK = "awaiting_call_back"
    RECTIFYING = "rectifying"
    AWAITING_FOLLOW_UP = "awaiting_follow_up"
    CLOSED = "closed"
    APPEALED = "appealed"


class Step(enum.StrEnum):
    CALL_BACK = "call_back"
    RECTIFY = "rectify"
    FOLLOW_UP = "follow_up"
    FOLLOW_UP_LAPSED = "follow_up_lapsed"
    APPEAL_UPHELD = "appeal_upheld"


class Role(enum.StrEnum):
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    APPLICANT = "applicant"
    SYSTEM = "system"


class Due(enum.StrEnum):
    CALL_BACK = "call_back"
    RECTIFICATION = "rectification"
    NONE = "none"


#: Identity's staff roles that act on their department's rectifications.
STAFF_ROLES: Mapping[str, Role] = MappingProxyType(
    {"handler": Role.HANDLER, "supervisor": Role.SUPERVISOR}
)


@dataclass(frozen=True)
class StepRule:
    sources: frozenset[Status]
    target: Status
    by: frozenset[Role]
    carries: str


@dataclass(frozen=True)
class Workflow:
    due: Mapping[Status, Due]
    steps: Mapping[Step, StepRule]
    #: The department type above a provincial department.
    provincial_oversight: str


class StepNotAllowed(Conflict):
    code = "rectification_step_not_allowed"
    title = "The rectification is not at this step"
    members = extension_members(
        rectification_status={
            "type": "string",
            "enum": [status.value for status in Status],
            "description": "Where the rectification stands",
            "examples": ["rectifying"],
        },
        step={
            "type": "string",
            "enum": [step.value for step in Step],
            "examples": ["call_back"],
        },
    )


class NotYourStep(Forbidden):
    code = "not_your_rectification_step"
    title = "Another role takes this step"
    members = extension_members(
        allowed_roles={
            "type": "array",
            "items": {"type": "string"},
            "examples": [["handler", "supervisor"]],
        }
    )


def load(path: Path = TABLE) -> Workflow:
    """The table, checked: every status and step named once, every step's statuses known."""
    raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    due = {Status(name): Due(entry["due"]) for name, entry in raw["statuses"].items()}
    if set(due) != set(Status):
        raise ValueError(f"{path.name} names each status once: {', '.join(Status)}")
    steps = {
        Step(name): StepRule(
            sources=frozenset(Status(source) for source in entry["from"]),
            target=Status(entry["to"]),
            by=frozenset(Role(role) for role in entry["by"]),
            carries=entry["carries"],
        )
        for name, entry in raw["steps"].items()
    }
    if set(steps) != set(Step):
        raise ValueError(f"{path.name} names each step once: {', '.join(Step)}")
    return Workflow(
        due=MappingProxyType(due),
        steps=MappingProxyType(steps),
        provincial_oversight=str(raw["provincial_oversight"]),
    )


WORKFLOW = load()


def next_status(status: Status, step: Step, role: Role) -> Status:
    """Where ``step`` taken by ``role`` leads from ``status``; refused when the role does not
    take it (403) or the rectification is not at it (409)."""
    rule = WORKFLOW.steps[step]
    if role not in rule.by:
        raise NotYourStep(
            f"a {role} does not take {step}", allowed_roles=sorted(role.value for role in rule.by)
        )
    if status not in rule.sources:
        raise StepNotAllowed(
            f"{step} is not taken when {status}", rectification_status=status, step=step
        )
    return rule.target
