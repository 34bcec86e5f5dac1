"""The case workflow: the table in ``workflow.toml``, read once, and the pure functions that
answer from it what an action leads to and who may take it.

    submitted ─accept─▶ accepted ─start_review─▶ in_review ─approve─▶ approved ─deliver─▶ completed
    submitted ─request_supplement─▶ supplement_requested ─supplement─▶ submitted (clock paused)
    submitted ─not_accept─▶ not_accepted            in_review ─deny─▶ denied
    in_review ─propose_approval─▶ approval_pending ─confirm─▶ approved   (a second person)
    in_review ─propose_denial─▶ denial_pending ─confirm─▶ denied; send_back ─▶ in_review

The applicant withdraws before the decision; an instant item is accepted and completed by the
system on filing. The statuses and actions are enums here so that code cannot name one that
does not exist; the table must name exactly these (checked when it loads), and it alone says
what connects them.
"""

import enum
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from servicekit.problems import Conflict, DomainError, Forbidden, extension_members

TABLE = Path(__file__).with_name("workflow.toml")


class CaseStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    ACCEPTED = "accepted"
    IN_REVIEW = "in_review"
    SUSPENDED = "suspended"
    APPROVAL_PENDING = "approval_pending"
    DENIAL_PENDING = "denial_pending"
    APPROVED = "approved"
    COMPLETED = "completed"
    DENIED = "denied"
    NOT_ACCEPTED = "not_accepted"
    WITHDRAWN = "withdrawn"


class Action(enum.StrEnum):
    ACCEPT = "accept"
    NOT_ACCEPT = "not_accept"
    REQUEST_SUPPLEMENT = "request_supplement"
    SUPPLEMENT = "supplement"
    TRANSFER = "transfer"
    SUSPEND = "suspend"
    RESUME = "resume"
    EXTEND = "extend"
    START_REVIEW = "start_review"
    APPROVE = "approve"
    DENY = "deny"
    PROPOSE_APPROVAL = "propose_approval"
    PROPOSE_DENIAL = "propose_denial"
    CONFIRM = "confirm"
    SEND_BACK = "send_back"
    DELIVER = "deliver"
    COMPLETE = "complete"
    WITHDRAW = "withdraw"


class Role(enum.StrEnum):
    """Who moves a case. Staff take the part their identity roles give them."""

    APPLICANT = "applicant"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    #: case-svc itself: an instant item on filing, deemed acceptance.
    SYSTEM = "system"


class Clock(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class Part(enum.StrEnum):
    """A part of a step's request besides its note, which the table says an action carries."""

    NOTICE = "notice"
    FORM = "form"
    EXTENSION = "extension"
    SUSPENSION = "suspension"
    TRANSFER = "transfer"
    #: The electronic certificate the result is, for an item that issues one (the catalog's
    #: ``issues_certificate``): an item that issues none neither needs nor takes it.
    CERTIFICATE = "certificate"


class DecisionApproval(enum.StrEnum):
    """The catalog's ``decision_approval`` of an item: who decides a case of it."""

    SINGLE = "single"
    SECOND_PERSON = "second_person"


#: Staff roles from identity-svc that take a part in cases, and the part.
STAFF_ROLES: Mapping[str, Role] = {"handler": Role.HANDLER, "supervisor": Role.SUPERVISOR}

#: The status a new case starts in, and the action its first history entry records.
INITIAL_STATUS = CaseStatus.SUBMITTED
SUBMIT = "submit"

#: An instant item runs these at submission, as the system.
INSTANT_PATH: tuple[Action, ...] = (Action.ACCEPT, Action.COMPLETE)


@dataclass(frozen=True)
class Transition:
    targets: Mapping[CaseStatus, CaseStatus]
    roles: frozenset[Role]
    assignee: bool
    reason: bool
    carries: Part | None
    once: bool
    decision: DecisionApproval | None
    reviews: bool
    not_by_reviewer: bool

    @property
    def sources(self) -> frozenset[CaseStatus]:
        return frozenset(self.targets)


class _StatusEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    clock: Clock


class _ActionEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    from_: list[CaseStatus]
    to: CaseStatus | dict[CaseStatus, CaseStatus]
    by: list[Role]
    assignee: bool = False
    reason: bool = False
    carries: Part | None = None
    once: bool = False
    decision: DecisionApproval | None = None
    reviews: bool = False
    not_by_reviewer: bool = False


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    statuses: dict[CaseStatus, _StatusEntry]
    actions: dict[Action, _ActionEntry]


def _transition(entry: _ActionEntry) -> Transition:
    if isinstance(entry.to, dict):
        if set(entry.to) != set(entry.from_):
            raise ValueError("an action's table of targets names each of its sources")
        targets = dict(entry.to)
    else:
        targets = dict.fromkeys(entry.from_, entry.to)
    return Transition(
        targets=targets,
        roles=frozenset(entry.by),
        assignee=entry.assignee,
        reason=entry.reason,
        carries=entry.carries,
        once=entry.once,
        decision=entry.decision,
        reviews=entry.reviews,
        not_by_reviewer=entry.not_by_reviewer,
    )


def load(path: Path = TABLE) -> tuple[Mapping[CaseStatus, Clock], Mapping[Action, Transition]]:
    """The table at ``path``: each status's clock, and each action's transition."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    for entry in raw.get("actions", {}).values():
        entry["from_"] = entry.pop("from", [])
    table = _Table.model_validate(raw)
    if set(table.statuses) != set(CaseStatus) or set(table.actions) != set(Action):
        raise ValueError(f"{path.name} must name exactly the statuses and actions of the code")
    return (
        {status: entry.clock for status, entry in table.statuses.items()},
        {action: _transition(entry) for action, entry in table.actions.items()},
    )


CLOCK, TRANSITIONS = load()


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"
    title = "The case cannot make this transition from its current status"
    members = extension_members(
        action={"type": "string", "examples": ["approve"]},
        case_status={"type": "string", "examples": ["submitted"]},
        allowed_from={
            "type": "array",
            "items": {"type": "string"},
            "description": "The statuses it can be made from",
            "examples": [["in_review"]],
        },
    )


class NotYourTransition(Forbidden):
    code = "not_your_transition"
    title = "This transition is not yours to make"
    members = extension_members(
        action={"type": "string", "examples": ["approve"]},
        allowed_roles={
            "type": "array",
            "items": {"type": "string"},
            "description": "Who may make it",
            "examples": [["handler"]],
        },
    )


class DecisionTakesAnother(Conflict):
    code = "decision_takes_another_action"
    title = "This item's decisions are taken otherwise: by one person, or proposed for a second"
    members = extension_members(
        action={"type": "string", "examples": ["approve"]},
        decision_approval={
            "type": "string",
            "enum": [value.value for value in DecisionApproval],
            "description": "Who decides a case of this item (the catalog's decision_approval)",
            "examples": ["second_person"],
        },
    )


class ReasonRequired(DomainError):
    status = 422
    code = "reason_required"
    title = "This action must say why: write the reason in the note"
    members = extension_members(action={"type": "string", "examples": ["not_accept"]})


def part_taken(action: Action, roles: Collection[Role]) -> Role:
    """The part in which a caller holding ``roles`` takes ``action``, or the refusal (whatever
    the case's status)."""
    transition = TRANSITIONS[action]
    for role in Role:
        if role in roles and role in transition.roles:
            return role
    raise NotYourTransition(
        f"{action} is not among the actions of {', '.join(sorted(roles)) or 'this caller'}",
        action=action.value,
        allowed_roles=sorted(r.value for r in transition.roles if r is not Role.SYSTEM),
    )


def next_status(
    current: CaseStatus,
    action: Action,
    role: Role,
    *,
    decision_approval: DecisionApproval = DecisionApproval.SINGLE,
) -> CaseStatus:
    """The status ``action`` by ``role`` leads to from ``current``, or the reason it cannot."""
    transition = TRANSITIONS[action]
    part_taken(action, [role])
    if transition.decision is not None and transition.decision is not decision_approval:
        raise DecisionTakesAnother(
            f"the decision on this item is {decision_approval.value}: {action} is not its way",
            action=action.value,
            decision_approval=decision_approval.value,
        )
    target = transition.targets.get(current)
    if target is None:
        raise TransitionNotAllowed(
            f"{action} is not possible on a {current} case",
            action=action.value,
            case_status=current.value,
            allowed_from=sorted(s.value for s in transition.sources),
        )
    return target


def actions_available(
    current: CaseStatus,
    roles: Collection[Role],
    *,
    decision_approval: DecisionApproval = DecisionApproval.SINGLE,
) -> list[Action]:
    """What a caller holding ``roles`` may do to a case in ``current`` by the table (the case's
    own conditions, its assignee, reviewer and one-time actions, are the caller's to add)."""
    return [
        action
        for action, transition in TRANSITIONS.items()
        if current in transition.targets
        and any(role in transition.roles for role in roles)
        and (transition.decision is None or transition.decision is decision_approval)
    ]
