"""The case state machine: a transition table, and the pure function that reads it.

    submitted ──accept──▶ accepted ──approve──▶ completed
        │                    │
        ├──reject────────────┴──reject───▶ rejected
        └──withdraw──────────┴──withdraw─▶ withdrawn

Staff of the handling department accept, approve and reject; the applicant withdraws. An
instant item is accepted and approved by the system itself at submission.
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from servicekit.problems import Conflict, Forbidden, extension_members


class CaseStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class Action(enum.StrEnum):
    ACCEPT = "accept"
    APPROVE = "approve"
    REJECT = "reject"
    WITHDRAW = "withdraw"


class Role(enum.StrEnum):
    """Who moves a case, as the state machine sees them."""

    APPLICANT = "applicant"
    DEPARTMENT = "department"
    #: case-svc itself, completing an instant item at submission.
    SYSTEM = "system"


#: The status a new case starts in, and the action its first history entry records.
INITIAL_STATUS = CaseStatus.SUBMITTED
SUBMIT = "submit"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CaseStatus]
    target: CaseStatus
    roles: frozenset[Role]


TRANSITIONS: Mapping[Action, Transition] = {
    Action.ACCEPT: Transition(
        sources=frozenset({CaseStatus.SUBMITTED}),
        target=CaseStatus.ACCEPTED,
        roles=frozenset({Role.DEPARTMENT, Role.SYSTEM}),
    ),
    Action.APPROVE: Transition(
        sources=frozenset({CaseStatus.ACCEPTED}),
        target=CaseStatus.COMPLETED,
        roles=frozenset({Role.DEPARTMENT, Role.SYSTEM}),
    ),
    Action.REJECT: Transition(
        sources=frozenset({CaseStatus.SUBMITTED, CaseStatus.ACCEPTED}),
        target=CaseStatus.REJECTED,
        roles=frozenset({Role.DEPARTMENT}),
    ),
    Action.WITHDRAW: Transition(
        sources=frozenset({CaseStatus.SUBMITTED, CaseStatus.ACCEPTED}),
        target=CaseStatus.WITHDRAWN,
        roles=frozenset({Role.APPLICANT}),
    ),
}

#: An instant item runs these at submission, as the system.
INSTANT_PATH: tuple[Action, ...] = (Action.ACCEPT, Action.APPROVE)


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
            "examples": [["under_review"]],
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
            "examples": [["handler", "supervisor"]],
        },
    )


def require_role(action: Action, role: Role) -> None:
    """Refuse an action that ``role`` may never take, whatever the case's status."""
    transition = TRANSITIONS[action]
    if role not in transition.roles:
        raise NotYourTransition(
            f"the {role} cannot {action} a case",
            action=action.value,
            allowed_roles=sorted(r.value for r in transition.roles if r is not Role.SYSTEM),
        )


def next_status(current: CaseStatus, action: Action, role: Role) -> CaseStatus:
    """The status ``action`` by ``role`` leads to from ``current``, or the reason it cannot."""
    require_role(action, role)
    transition = TRANSITIONS[action]
    if current not in transition.sources:
        raise TransitionNotAllowed(
            f"{action} is not possible on a {current} case",
            action=action.value,
            case_status=current.value,
            allowed_from=sorted(s.value for s in transition.sources),
        )
    return transition.target


def actions_available(current: CaseStatus, role: Role) -> list[Action]:
    """What ``role`` may do to a case in ``current``: for clients that show only valid buttons."""
    return [
        action
        for action, transition in TRANSITIONS.items()
        if role in transition.roles and current in transition.sources
    ]
