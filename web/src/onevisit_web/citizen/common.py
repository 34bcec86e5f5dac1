"""What the citizen's pages share: the signed-in citizen, and the way to the step that raises
her level of assurance when a call needs more than her token holds (403
``insufficient_assurance``: its ``step`` says which page, ``next`` brings her back)."""

from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Path, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem
from onevisit_web.pages import redirect, signed_in_citizen
from onevisit_web.session import WebSession
from servicekit.case_numbers import CASE_NUMBER_PATTERN, DRAFT_NUMBER_PATTERN

CitizenDep = Annotated[WebSession, Depends(signed_in_citizen)]

# What the pages put into the platform's paths, checked first: a number or code of another
# shape (``..``) must not name another resource of the API. A bad one is answered the error page.
CaseNumber = Annotated[str, Path(pattern=CASE_NUMBER_PATTERN)]
DraftNumber = Annotated[str, Path(pattern=DRAFT_NUMBER_PATTERN)]
ItemCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9_]+\.[A-Za-z0-9_.-]+$", max_length=64)]
MessageId = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{32,36}$")]

#: The page of each step the platform may ask for; a step not named here begins at the
#: real-name check, which leads to the face step.
STEP_PAGES = {"real_name": "/app/verify/real-name", "face": "/app/verify/face"}


def needs_step_up(problem: ApiProblem) -> bool:
    return problem.status == 403 and problem.code == "insufficient_assurance"


def step_up(request: Request, problem: ApiProblem, back_to: str) -> Response:
    """To the page of the step the refusal names, and back to ``back_to`` after it."""
    page = STEP_PAGES.get(str(problem.body.get("step")), STEP_PAGES["real_name"])
    return redirect(request, f"{page}?next={quote(back_to, safe='/')}")


def her_region(claims: dict[str, object]) -> str | None:
    """Her registered region as her token carries it (after the face match binds her name)."""
    region = claims.get("region")
    return region if isinstance(region, str) and region else None
