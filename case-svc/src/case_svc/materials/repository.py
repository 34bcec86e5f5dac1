"""Every query case-svc makes about the materials of cases."""

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession

from case_svc.models import Case, CaseCertificate, CaseMaterial


async def hold_case(session: AsyncSession, case_id: uuid.UUID) -> str:
    """Hold the case until the request's transaction ends, so that two uploads to one case
    count its materials one after the other; its status as it is once held. PostgreSQL locks
    its row; SQLite has one writer at a time and takes that lock at a transaction's first
    write, so a write that changes nothing takes it now (the other upload waits for it, then
    counts what this one added)."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(id=Case.id)
            .execution_options(synchronize_session=False)
        )
        status = await session.scalar(select(Case.status).where(Case.id == case_id))
    else:
        status = await session.scalar(
            select(Case.status).where(Case.id == case_id).with_for_update()
        )
    if status is None:
        raise LookupError(f"no case {case_id}")
    return status


async def count_materials(session: AsyncSession, case_id: uuid.UUID) -> int:
    """The case's materials of every kind: uploads and certificates."""
    uploads = await session.scalar(
        select(func.count()).select_from(CaseMaterial).where(CaseMaterial.case_id == case_id)
    )
    certificates = await session.scalar(
        select(func.count()).select_from(CaseCertificate).where(CaseCertificate.case_id == case_id)
    )
    return (uploads or 0) + (certificates or 0)


async def add_material(session: AsyncSession, material: CaseMaterial) -> None:
    session.add(material)
    await session.flush()


async def materials_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseMaterial]:
    """The case's materials in the order they came."""
    rows = await session.scalars(
        select(CaseMaterial)
        .where(CaseMaterial.case_id == case_id)
        .order_by(CaseMaterial.uploaded_at, CaseMaterial.id)
    )
    return list(rows)


async def material_of(
    session: AsyncSession, case_id: uuid.UUID, material_id: uuid.UUID
) -> CaseMaterial | None:
    material: CaseMaterial | None = await session.scalar(
        select(CaseMaterial).where(CaseMaterial.id == material_id, CaseMaterial.case_id == case_id)
    )
    return material


async def add_certificate(session: AsyncSession, certificate: CaseCertificate) -> None:
    session.add(certificate)
    await session.flush()


async def certificates_of(session: AsyncSession, case_id: uuid.UUID) -> list[CaseCertificate]:
    """The case's certificates in the order they came."""
    rows = await session.scalars(
        select(CaseCertificate)
        .where(CaseCertificate.case_id == case_id)
        .order_by(CaseCertificate.uploaded_at, CaseCertificate.id)
    )
    return list(rows)


async def holds_certificate(
    session: AsyncSession, case_id: uuid.UUID, material_id: uuid.UUID
) -> bool:
    found = await session.scalar(
        select(CaseCertificate.id).where(
            CaseCertificate.id == material_id, CaseCertificate.case_id == case_id
        )
    )
    return found is not None


async def materials_in_key_order(
    session: AsyncSession,
) -> AsyncResult[tuple[str, uuid.UUID, str]]:
    """Every material's storage key, id and case number, in the order of the keys' bytes (the
    order a store lists them in), streamed: the statement runs now, its rows come a thousand
    at a time. On PostgreSQL in the "C" collation (the database's may order ``-`` and ``/`` apart
    from their bytes); SQLite compares bytes already."""
    key = CaseMaterial.storage_key
    ordered = key if session.get_bind().dialect.name == "sqlite" else key.collate("C")
    return await session.stream(
        select(key, CaseMaterial.id, Case.case_no)
        .join(Case, Case.id == CaseMaterial.case_id)
        .order_by(ordered)
        # Without it the ORM reads every row before giving the first.
        .execution_options(yield_per=1000)
    )


async def storage_keys_held(session: AsyncSession, keys: list[str]) -> set[str]:
    """Those of ``keys`` a material is stored under."""
    if not keys:
        return set()
    rows = await session.scalars(
        select(CaseMaterial.storage_key).where(CaseMaterial.storage_key.in_(keys))
    )
    return set(rows)
