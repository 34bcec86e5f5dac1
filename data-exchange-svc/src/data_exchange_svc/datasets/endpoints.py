"""HTTP endpoint of a provider's bulk load: parse, identify the caller, delegate."""

from fastapi import APIRouter

from data_exchange_svc.datasets import service
from data_exchange_svc.datasets.schemas import LoadRead, RecordBatch
from data_exchange_svc.datasets.service import InvalidRecords, NotTheOwner
from data_exchange_svc.deps import CatalogueDep, IdentifiersDep
from data_exchange_svc.resources.service import ResourceNotFound, ResourceNotServed
from data_exchange_svc.resources.values import today_in_china
from servicekit.auth import PrincipalDep
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/exchange/v1/resources", tags=["hosted datasets"])


@router.post(
    "/{code}/records",
    response_model=LoadRead,
    responses=problem_responses(NotTheOwner, ResourceNotFound, ResourceNotServed, InvalidRecords),
)
async def load_records(
    code: str,
    batch: RecordBatch,
    principal: PrincipalDep,
    session: SessionDep,
    protector: IdentifiersDep,
    catalogue: CatalogueDep,
) -> LoadRead:
    """Load (insert or replace) the records of the subjects named: a department system of the
    department type that owns the resource. Per subject, the batch's rows replace the ones
    held, so loading a batch again changes nothing. All or nothing: one bad record refuses the
    batch (422 ``invalid_record``, each error naming the record's index and the field)."""
    counts = await service.load(
        session,
        principal,
        code,
        batch.records,
        protector=protector,
        catalogue=catalogue,
        today=today_in_china(),
    )
    return LoadRead(
        resource=code,
        records=len(batch.records),
        subjects=counts.created + counts.replaced,
        created=counts.created,
        replaced=counts.replaced,
        rows=counts.rows,
    )
