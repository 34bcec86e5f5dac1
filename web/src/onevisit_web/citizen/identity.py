"""Proving who she is: the real-name check (her name and ID number against the population
registry) and the face step that binds it (level 2 for good, 3 for a few minutes). Both send
her back to the page that asked for them (``next``).

The face step's capture comes from the phone's camera and its certified face SDK. The page
server cannot capture a face: where the setting ``demo_face_capture`` names the demo capture of
a synthetic person, the page uses it and says so; without it the page says the step needs the
app's camera and offers nothing else."""

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from onevisit_web.api import ApiProblem, call
from onevisit_web.citizen.common import CitizenDep
from onevisit_web.pages import (
    begin_session,
    field,
    form_of,
    gateway_client,
    problem_message,
    redirect,
    render,
    safe_next,
    state_of,
)

router = APIRouter(prefix="/app/verify", include_in_schema=False)

#: The problems of the real-name check shown beside the ID number field rather than the form.
ID_NUMBER_PROBLEMS = frozenset({"invalid_id_number"})


def demo_capture(path: Path | None) -> list[float] | None:
    """The template of the demo capture file (its ``template`` key), or None without one."""
    if path is None:
        return None
    document: Any = json.loads(path.read_text(encoding="utf-8"))
    template = document.get("template") if isinstance(document, dict) else None
    if not isinstance(template, list):
        return None
    return [float(value) for value in template]


@router.get("/real-name")
async def real_name_page(
    request: Request, citizen: CitizenDep, next: str | None = None
) -> Response:
    return render(request, "citizen/real_name.html", {"next": safe_next(next, "app")})


@router.post("/real-name")
async def check_real_name(request: Request, citizen: CitizenDep) -> Response:
    form = await form_of(request, citizen)
    back_to = safe_next(field(form, "next"), "app")
    name, id_number = field(form, "name"), field(form, "id_number").upper()
    try:
        await call(
            gateway_client(request),
            "POST",
            "/identity/v1/me/real-name",
            token=citizen.access_token,
            json={"name": name, "id_number": id_number},
        )
    except ApiProblem as exc:
        context: dict[str, Any] = {"next": back_to, "name": name, "id_number": id_number}
        key = "id_number_error" if exc.code in ID_NUMBER_PROBLEMS else "error"
        context[key] = problem_message(exc)
        return render(request, "citizen/real_name.html", context, status=400)
    return redirect(request, f"/app/verify/face?next={quote(back_to, safe='/')}")


@router.get("/face")
async def face_page(request: Request, citizen: CitizenDep, next: str | None = None) -> Response:
    capture = state_of(request).settings.demo_face_capture
    return render(
        request,
        "citizen/face.html",
        {"next": safe_next(next, "app"), "has_capture": capture is not None},
    )


@router.post("/face")
async def verify_face(request: Request, citizen: CitizenDep) -> Response:
    """A single-use challenge, then the capture matched against the registry's template: the
    answer is a fresh token of level 3, kept in her sign-in."""
    form = await form_of(request, citizen)
    back_to = safe_next(field(form, "next"), "app")
    template = demo_capture(state_of(request).settings.demo_face_capture)
    if template is None:
        return render(
            request, "citizen/face.html", {"next": back_to, "has_capture": False}, status=409
        )
    http = gateway_client(request)
    try:
        challenge = await call(
            http, "POST", "/identity/v1/me/face/challenges", token=citizen.access_token
        )
        answer = await call(
            http,
            "POST",
            "/identity/v1/me/face/verifications",
            token=citizen.access_token,
            json={"challenge_id": challenge.body["challenge_id"], "template": template},
        )
    except ApiProblem as exc:
        if exc.body.get("step") == "real_name":
            return redirect(request, f"/app/verify/real-name?next={quote(back_to, safe='/')}")
        context = {"next": back_to, "has_capture": True, "error": problem_message(exc)}
        return render(request, "citizen/face.html", context, status=400)
    begin_session(request, citizen.with_tokens(answer.body))
    return redirect(request, back_to)
