"""HTTP endpoint for departments (public: no token): one department by its id, from memory."""

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from catalog_svc.departments.schemas import DepartmentRead
from catalog_svc.deps import SnapshotDep
from catalog_svc.http_cache import cached_json
from servicekit.openapi import problem_responses
from servicekit.problems import NotFound

router = APIRouter(prefix="/catalog/v1/departments", tags=["departments"])


class DepartmentNotFound(NotFound):
    code = "department_not_found"
    title = "No department has this id"


DepartmentIdPath = Annotated[
    str,
    Path(
        description="<official region code>-<type>, e.g. 330302-public_security",
        max_length=64,
    ),
]


@router.get(
    "/{department_id}",
    response_model=DepartmentRead,
    responses=problem_responses(DepartmentNotFound),
)
async def get_department(
    department_id: DepartmentIdPath, snapshot: SnapshotDep, request: Request
) -> Response:
    """A department: its name, type, tier and region (other services check a department id
    they are given against it, e.g. identity-svc a staff account's)."""
    department = snapshot.departments.get(department_id)
    if department is None:
        raise DepartmentNotFound()
    return cached_json(request, DepartmentRead.model_validate(department))
