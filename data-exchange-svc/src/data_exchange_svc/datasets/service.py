"""A provider's bulk load: only a system of the owning department type loads a resource, and
only whole, valid batches. Bulk loads disclose nothing, so they are not access-ledger entries.

Who counts as the owner follows the grants' rule for the provider: the token's department
(``<region code>-<department type>``) is of the resource's owner type; here, for a machine
(a department system, or a platform service acting for a department), not a person.
"""

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.datasets import store
from data_exchange_svc.datasets.records import RawRecord, check_records
from data_exchange_svc.datasets.schemas import RecordLoad
from data_exchange_svc.grants.workflow import department_type
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.resources.catalogue import Catalogue
from data_exchange_svc.resources.service import catalogued_resource, hosted_spec
from servicekit.auth import Principal, require_type
from servicekit.problems import DomainError, Forbidden, extension_members

#: The most errors one refusal lists.
MAX_ERRORS = 50


class NotTheOwner(Forbidden):
    code = "not_the_owner"
    title = "Only a system of the department that owns the resource loads its records"
    members = extension_members(
        resource={
            "type": "string",
            "description": "The data resource's code",
            "examples": ["population"],
        }
    )


class InvalidRecords(DomainError):
    status = 422
    code = "invalid_record"
    title = "Some records do not fit the resource; nothing was loaded"
    members = extension_members(
        errors={
            "type": "array",
            "description": "One entry per field of a row that does not fit",
            "items": {
                "type": "object",
                "properties": {
                    "row": {"type": "integer"},
                    "field": {"type": "string"},
                    "message": {"type": "string"},
                },
                "required": ["row", "field", "message"],
            },
            "examples": [
                [
                    {
                        "row": 1,
                        "field": "birth_date",
                        "message": "the identity number says 1952-03-14",
                    }
                ]
            ],
        }
    )


async def load(
    session: AsyncSession,
    principal: Principal,
    code: str,
    records: Sequence[RecordLoad],
    *,
    protector: IdentifierProtector,
    catalogue: Catalogue,
    today: dt.date,
) -> store.LoadCounts:
    require_type(principal, "department_system", "service")
    resource = await catalogued_resource(catalogue, code)
    if principal.dept is None or department_type(principal.dept) != resource.owner_department_type:
        raise NotTheOwner(resource=resource.code)
    spec = hosted_spec(resource)
    raw = [
        RawRecord(record.subject.id_number, record.subject.credit_code, record.fields)
        for record in records
    ]
    subjects, errors = check_records(spec, raw, today=today)
    if errors:
        raise InvalidRecords(
            f"{len(errors)} problem(s); the first at record {errors[0].row}, field "
            f"{errors[0].field}",
            errors=[error.document() for error in errors[:MAX_ERRORS]],
        )
    return await store.store(session, spec, subjects, protector, replace=True)
