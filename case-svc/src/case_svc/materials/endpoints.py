"""HTTP endpoints for the materials of a case: parse, authorise, delegate. The router opens the
material store for the app's life (its own lifespan, inside the app's)."""

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, File, Form, Header, Path, Response, UploadFile

from case_svc.cases.service import CaseNotFound
from case_svc.deps import CaseState, MaterialStoreDep, NowDep, ServiceTokenDep, SettingsDep
from case_svc.materials import certificates, service, storage
from case_svc.materials.certificates import (
    CertificateAlreadyAttached,
    CertificateAttachNotAllowed,
    CertificateNotHeld,
    CertificateNotValid,
)
from case_svc.materials.schemas import (
    CertificateAttach,
    CertificateMaterialRead,
    MaterialList,
    MaterialRead,
)
from case_svc.materials.service import (
    EXTENSIONS,
    MaterialHasNoFile,
    MaterialNotFound,
    MaterialsClosed,
    MaterialTooLarge,
    MaterialTypeNotAllowed,
    MaterialUploadNotAllowed,
    TooManyMaterials,
)
from case_svc.materials.storage import MaterialContentUnreadable, MaterialStoreUnavailable
from case_svc.models import CaseMaterial
from servicekit.auth import (
    InsufficientAssurance,
    PrincipalDep,
    TokenExpired,
    TokenRevoked,
    requires_scopes,
)
from servicekit.case_numbers import CaseNumberStr
from servicekit.db import SessionDep
from servicekit.http import HttpDep
from servicekit.idempotency import OptionalIdempotencyDep
from servicekit.openapi import problem_responses
from servicekit.problems import UpstreamUnavailable
from servicekit.state import app_state


@asynccontextmanager
async def _material_store(app: FastAPI) -> AsyncIterator[None]:
    state = app_state(app, CaseState)
    async with storage.open_store(state.settings) as store:
        state.material_store = store
        try:
            yield
        finally:
            state.material_store = None


router = APIRouter(prefix="/cases/v1", tags=["materials"], lifespan=_material_store)

MaterialId = Annotated[
    uuid.UUID,
    Path(description="The material's id", examples=["0196f3c2-8a10-7c2e-9b1d-3f4a5b6c7d8e"]),
]

_UPLOAD_EXAMPLE: dict[str, Any] = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "example": {"name": "居民身份证正反面复印件", "file": "(a JPEG, PNG or PDF file)"}
            }
        }
    }
}


def _location(case_no: str, material_id: uuid.UUID) -> str:
    return f"/cases/v1/cases/{case_no}/materials/{material_id}"


@router.post(
    "/cases/{case_no}/materials",
    dependencies=[requires_scopes("cases:write")],
    status_code=201,
    response_model=MaterialRead,
    responses=problem_responses(
        CaseNotFound,
        MaterialUploadNotAllowed,
        MaterialsClosed,
        TooManyMaterials,
        MaterialTooLarge,
        MaterialTypeNotAllowed,
        MaterialStoreUnavailable,
    ),
    openapi_extra=_UPLOAD_EXAMPLE,
)
async def upload_material(
    case_no: CaseNumberStr,
    file: Annotated[
        UploadFile,
        File(
            description="A PDF, JPEG or PNG file (known by its content, whatever its name or "
            "declared type), of CASE_MATERIAL_MAX_BYTES at most (10 MiB unless set)"
        ),
    ],
    name: Annotated[
        str,
        Form(
            min_length=1,
            max_length=200,
            description="The material's name as the item lists it, or a free label",
        ),
    ],
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    store: MaterialStoreDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Add a file to the case: its applicant (or her delegate) until the case ends, a handler
    of its department at any time. Its content is sealed before it is stored; its SHA-256 is
    its ETag. With an Idempotency-Key, a retry of the same form (the same name and file, in
    whatever multipart boundary) answers the same material and stores nothing new."""
    if claim.replay is not None:
        return claim.replay
    # One byte past the limit is enough to refuse it.
    content = await file.read(settings.material_max_bytes + 1)
    material = await service.upload_material(
        session=session,
        store=store,
        principal=principal,
        case_no=case_no,
        name=name,
        content=content,
        max_bytes=settings.material_max_bytes,
        max_per_case=settings.materials_per_case,
        now=now,
    )
    return await claim.answer(
        session,
        status=201,
        body=material.model_dump(mode="json"),
        headers={
            "Location": _location(case_no, material.id),
            "ETag": f'"{material.sha256}"',
        },
    )


@router.post(
    "/cases/{case_no}/certificates",
    status_code=201,
    response_model=CertificateMaterialRead,
    responses=problem_responses(
        CaseNotFound,
        CertificateAttachNotAllowed,
        InsufficientAssurance,
        TokenRevoked,
        TokenExpired,
        MaterialsClosed,
        TooManyMaterials,
        CertificateAlreadyAttached,
        CertificateNotHeld,
        CertificateNotValid,
        UpstreamUnavailable,
    ),
)
async def attach_certificate(
    case_no: CaseNumberStr,
    payload: CertificateAttach,
    principal: PrincipalDep,
    claim: OptionalIdempotencyDep,
    session: SessionDep,
    http: HttpDep,
    token: ServiceTokenDep,
    settings: SettingsDep,
    now: NowDep,
) -> Response:
    """Attach one of the applicant's own electronic certificates, by its number, instead of
    uploading a scan: its applicant (or her delegate) until the case ends. case-svc reads it
    from the exchange's certificate registry about her verified identity, for this case, and
    keeps what it is, who issued it, its validity and the ledger receipt of the read; a
    certificate not valid today is refused. With an Idempotency-Key, a retry answers the same
    material and reads nothing again."""
    if claim.replay is not None:
        return claim.replay
    material = await certificates.attach_certificate(
        session=session,
        http=http,
        token=token,
        principal=principal,
        case_no=case_no,
        certificate_number=payload.certificate_number,
        max_per_case=settings.materials_per_case,
        now=now,
    )
    return await claim.answer(
        session,
        status=201,
        body=material.model_dump(mode="json"),
        headers={"Location": _location(case_no, material.id)},
    )


@router.get(
    "/cases/{case_no}/materials",
    dependencies=[requires_scopes("cases:read")],
    response_model=MaterialList,
    responses=problem_responses(CaseNotFound),
)
async def list_materials(
    case_no: CaseNumberStr, principal: PrincipalDep, session: SessionDep
) -> MaterialList:
    """The case's materials, without their content, for its applicant and the handling
    department's handlers, supervisors and systems: uploaded files (``kind`` upload) and
    electronic certificates (``kind`` certificate, with the receipt of their read)."""
    return await service.list_materials(session=session, principal=principal, case_no=case_no)


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get(
    "/cases/{case_no}/materials/{material_id}",
    dependencies=[requires_scopes("cases:read")],
    response_class=Response,
    responses={
        200: {
            "description": "The content, as uploaded",
            "content": dict.fromkeys(EXTENSIONS, _BINARY),
            "headers": {
                "ETag": {
                    "description": "The content's SHA-256, hex, in quotes",
                    "schema": {"type": "string"},
                },
                "Content-Disposition": {
                    "description": "attachment, with a file name made of the material's",
                    "schema": {"type": "string"},
                },
            },
        },
        304: {"description": "Not modified: If-None-Match named its ETag"},
        **problem_responses(
            CaseNotFound,
            MaterialNotFound,
            MaterialHasNoFile,
            MaterialStoreUnavailable,
            MaterialContentUnreadable,
        ),
    },
)
async def download_material(
    case_no: CaseNumberStr,
    material_id: MaterialId,
    principal: PrincipalDep,
    session: SessionDep,
    store: MaterialStoreDep,
    if_none_match: Annotated[
        str | None, Header(description="The ETag of the copy you hold: 304 if it is this one")
    ] = None,
) -> Response:
    """A material's content, for whoever sees the case, as an attachment of the type its
    content was found to be (an electronic certificate has none: 409)."""
    material = await service.find_material(
        session=session, principal=principal, case_no=case_no, material_id=material_id
    )
    etag = service.etag_of(material)
    headers = {
        "ETag": etag,
        # Personal data: kept by the caller's own client alone, and asked again every time.
        "Cache-Control": "private, no-cache",
        "Content-Disposition": _disposition(material),
    }
    if if_none_match is not None and etag in {tag.strip() for tag in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    content = await service.content_of(store, material)
    return Response(content, media_type=material.content_type, headers=headers)


def _disposition(material: CaseMaterial) -> str:
    """An attachment named after the material: its id in ASCII for every client, its name
    (percent-encoded, RFC 6266) for those that read ``filename*``."""
    extension = EXTENSIONS[material.content_type]
    name = material.name.strip()
    if not name.lower().endswith(f".{extension}"):
        name = f"{name}.{extension}"
    return (
        f'attachment; filename="{material.id}.{extension}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )
