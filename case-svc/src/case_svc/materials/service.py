"""The rules of a case's materials: who adds them and when, what a file may be, how many a case
holds (files and electronic certificates together: ``materials.certificates`` attaches the
latter); whoever sees the case reads them. The content goes to the material store sealed, its
SHA-256 taken over the clear bytes and checked whenever it comes back. Services never commit:
the request's transaction does."""

import datetime as dt
import hashlib
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from case_svc.cases.repository import ENDED_STATUSES
from case_svc.cases.service import acting_for, actor_of, visible_case
from case_svc.materials import repository
from case_svc.materials.schemas import (
    CertificateMaterialRead,
    MaterialList,
    MaterialRead,
    MaterialType,
)
from case_svc.materials.storage import MaterialContentUnreadable, MaterialStore
from case_svc.models import Case, CaseCertificate, CaseMaterial
from case_svc.workflow.state_machine import Role
from servicekit.auth import Principal
from servicekit.ids import new_id
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, extension_members

log = structlog.get_logger(__name__)

#: The kinds of file a case takes, by the bytes they begin with: what the content is, whatever
#: the upload declares.
SIGNATURES: tuple[tuple[bytes, MaterialType], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
EXTENSIONS: dict[str, str] = {
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
}


class MaterialNotFound(NotFound):
    code = "material_not_found"
    title = "The case holds no such material"


class MaterialUploadNotAllowed(Forbidden):
    code = "material_upload_not_allowed"
    title = "Materials are added by the applicant and by the department's handlers"


class MaterialsClosed(Conflict):
    code = "materials_closed"
    title = "The case has ended: the applicant adds no more materials to it"
    members = extension_members(
        case_status={"type": "string", "description": "Where it ended", "examples": ["completed"]}
    )


class MaterialTooLarge(DomainError):
    status = 413
    code = "material_too_large"
    title = "The file is larger than a case takes"
    members = extension_members(
        max_bytes={"type": "integer", "description": "The largest file", "examples": [10485760]}
    )


class MaterialTypeNotAllowed(DomainError):
    status = 415
    code = "material_type_not_allowed"
    title = "The file is none of the kinds a case takes (known by its content, not its name)"
    members = extension_members(
        allowed_types={
            "type": "array",
            "items": {"type": "string"},
            "examples": [[media_type for _, media_type in SIGNATURES]],
        }
    )


class TooManyMaterials(Conflict):
    code = "too_many_materials"
    title = "The case holds as many materials as a case may"
    members = extension_members(
        max_materials={"type": "integer", "description": "The most a case holds", "examples": [50]}
    )


class MaterialHasNoFile(Conflict):
    code = "material_has_no_file"
    title = "The material is an electronic certificate, not a file: the case's materials list "
    "gives its details and receipt"


def content_type_of(content: bytes) -> MaterialType:
    """What the content is, by its first bytes."""
    for signature, media_type in SIGNATURES:
        if content.startswith(signature):
            return media_type
    raise MaterialTypeNotAllowed(allowed_types=[media_type for _, media_type in SIGNATURES])


def etag_of(material: CaseMaterial) -> str:
    return f'"{material.sha256}"'


def storage_key(case: Case, material_id: uuid.UUID) -> str:
    return f"{case.id}/{material_id}"


def _uploader_role(case: Case, roles: frozenset[Role]) -> Role:
    if Role.APPLICANT in roles:
        if case.status in ENDED_STATUSES:
            raise MaterialsClosed(case_status=case.status)
        return Role.APPLICANT
    if Role.HANDLER in roles:
        return Role.HANDLER
    raise MaterialUploadNotAllowed()


def material_view(material: CaseMaterial, roles: frozenset[Role]) -> MaterialRead:
    """The material as the caller may see it: the applicant sees staff by their part only."""
    hidden = Role.APPLICANT in roles and material.uploader_role != Role.APPLICANT
    return MaterialRead.model_validate(
        {
            "id": material.id,
            "name": material.name,
            "content_type": material.content_type,
            "size": material.size,
            "sha256": material.sha256,
            "uploaded_by": None if hidden else material.uploaded_by,
            "uploader_role": material.uploader_role,
            "acting_for": material.acting_for,
            "uploaded_at": material.uploaded_at,
        }
    )


def certificate_view(
    certificate: CaseCertificate, roles: frozenset[Role]
) -> CertificateMaterialRead:
    """A certificate material as the caller may see it, as ``material_view`` shows a file."""
    hidden = Role.APPLICANT in roles and certificate.uploader_role != Role.APPLICANT
    return CertificateMaterialRead.model_validate(
        {
            "id": certificate.id,
            "name": certificate.certificate_name,
            "certificate": {
                "type": certificate.certificate_type,
                "name": certificate.certificate_name,
                "number": certificate.certificate_number,
                "issuing_department": certificate.issuing_department,
                "valid_from": certificate.valid_from,
                "valid_until": certificate.valid_until,
                "status": certificate.certificate_status,
            },
            "call_id": certificate.call_id,
            "receipt": certificate.receipt,
            "uploaded_by": None if hidden else certificate.uploaded_by,
            "uploader_role": certificate.uploader_role,
            "acting_for": certificate.acting_for,
            "uploaded_at": certificate.uploaded_at,
        }
    )


async def upload_material(
    *,
    session: AsyncSession,
    store: MaterialStore,
    principal: Principal,
    case_no: str,
    name: str,
    content: bytes,
    max_bytes: int,
    max_per_case: int,
    now: dt.datetime,
) -> MaterialRead:
    """Add a file to the case: by its applicant (or her delegate) until the case ends, by a
    handler of its department at any time. The caller's right to the case is settled before
    the file is looked at, so a stranger learns nothing of what a case takes."""
    case, roles = await visible_case(session=session, principal=principal, case_no=case_no)
    role = _uploader_role(case, roles)
    if len(content) > max_bytes:
        raise MaterialTooLarge(f"the limit is {max_bytes} bytes", max_bytes=max_bytes)
    content_type = content_type_of(content)
    await repository.hold_case(session, case.id)
    if await repository.count_materials(session, case.id) >= max_per_case:
        raise TooManyMaterials(max_materials=max_per_case)
    material = CaseMaterial(
        id=new_id(),
        case_id=case.id,
        name=name,
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_by=actor_of(principal),
        uploader_role=role.value,
        acting_for=acting_for(principal),
        uploaded_at=now,
    )
    material.storage_key = storage_key(case, material.id)
    await store.put(material.storage_key, content, content_type)
    try:
        await repository.add_material(session, material)
    except Exception:
        # Nothing will point at it: take it back out of the store.
        await store.delete(material.storage_key)
        raise
    return material_view(material, roles)


async def list_materials(
    *, session: AsyncSession, principal: Principal, case_no: str
) -> MaterialList:
    """The case's materials (their descriptions, no content), uploads and certificates in the
    order they came, for whoever sees the case."""
    case, roles = await visible_case(session=session, principal=principal, case_no=case_no)
    uploads = [
        (material.uploaded_at, material.id, material_view(material, roles))
        for material in await repository.materials_of(session, case.id)
    ]
    certificates = [
        (certificate.uploaded_at, certificate.id, certificate_view(certificate, roles))
        for certificate in await repository.certificates_of(session, case.id)
    ]
    ordered = sorted([*uploads, *certificates], key=lambda entry: (entry[0], entry[1]))
    return MaterialList(items=[view for _at, _id, view in ordered])


async def find_material(
    *, session: AsyncSession, principal: Principal, case_no: str, material_id: uuid.UUID
) -> CaseMaterial:
    """One material of a case the caller sees."""
    case, _roles = await visible_case(session=session, principal=principal, case_no=case_no)
    material = await repository.material_of(session, case.id, material_id)
    if material is None:
        if await repository.holds_certificate(session, case.id, material_id):
            raise MaterialHasNoFile()
        raise MaterialNotFound()
    return material


async def content_of(store: MaterialStore, material: CaseMaterial) -> bytes:
    """The material's content, opened, and as it was uploaded (its SHA-256 checked)."""
    content = await store.get(material.storage_key)
    if hashlib.sha256(content).hexdigest() != material.sha256:
        log.error("material_digest_mismatch", material_id=str(material.id))
        raise MaterialContentUnreadable()
    return content
