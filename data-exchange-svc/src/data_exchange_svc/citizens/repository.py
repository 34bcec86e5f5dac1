"""Every query on citizen links and consents (the access log and its notices read the
ledger's entries)."""

import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.models import AccessNoticeCursor, CitizenSubject, Consent, LedgerEntry
from servicekit.db import insert_for

_CURSOR_ID = 1


async def link_of_account(session: AsyncSession, account: str) -> CitizenSubject | None:
    return await session.get(CitizenSubject, account)


async def link_of_subject(session: AsyncSession, subject_hash: str) -> CitizenSubject | None:
    link: CitizenSubject | None = await session.scalar(
        select(CitizenSubject).where(CitizenSubject.subject_hash == subject_hash)
    )
    return link


async def remove_links(session: AsyncSession, *, account: str, subject_hash: str) -> None:
    """Remove the account's link and the subject's, whichever exist (a newer link replaces)."""
    await session.execute(
        delete(CitizenSubject).where(
            or_(CitizenSubject.account == account, CitizenSubject.subject_hash == subject_hash)
        )
    )


async def add_link(session: AsyncSession, link: CitizenSubject) -> None:
    session.add(link)
    await session.flush()


async def add_consent(session: AsyncSession, consent: Consent) -> None:
    session.add(consent)
    await session.flush()


async def consents_of(session: AsyncSession, account: str) -> list[Consent]:
    statement = (
        select(Consent).where(Consent.account == account).order_by(Consent.created_at.desc())
    )
    return list((await session.scalars(statement)).all())


async def consent_for_update(session: AsyncSession, consent_id: uuid.UUID) -> Consent | None:
    consent: Consent | None = await session.scalar(
        select(Consent).where(Consent.id == consent_id).with_for_update()
    )
    return consent


async def consents_in_scope(
    session: AsyncSession,
    *,
    subject_hash: str,
    consumer: str,
    resource_code: str,
    purpose: str,
    case_id: str,
) -> list[Consent]:
    statement = select(Consent).where(
        Consent.subject_hash == subject_hash,
        Consent.consumer == consumer,
        Consent.resource_code == resource_code,
        Consent.case_id == case_id,
        Consent.purpose == purpose,
    )
    return list((await session.scalars(statement)).all())


async def consent_names_case(
    session: AsyncSession, *, subject_hash: str, consumer: str, case_id: str
) -> bool:
    """Whether the subject ever consented, for this case, to this consumer."""
    statement = (
        select(Consent.id)
        .where(
            Consent.subject_hash == subject_hash,
            Consent.consumer == consumer,
            Consent.case_id == case_id,
        )
        .limit(1)
    )
    return (await session.scalar(statement)) is not None


async def entries_about(
    session: AsyncSession, *, subject_hash: str, before_seq: int | None, up_to: int, limit: int
) -> list[LedgerEntry]:
    """The subject's ledger entries, newest first, among the first ``up_to`` entries."""
    statement = select(LedgerEntry).where(
        LedgerEntry.subject_hash == subject_hash, LedgerEntry.seq <= up_to
    )
    if before_seq is not None:
        statement = statement.where(LedgerEntry.seq < before_seq)
    statement = statement.order_by(LedgerEntry.seq.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


async def take_notice_cursor(session: AsyncSession) -> int:
    """The last entry told, its row locked until the transaction ends (on PostgreSQL: replicas
    take turns; SQLite writes one at a time anyway). Created at 0 when missing, tolerating a
    replica that creates it first."""
    statement = (
        select(AccessNoticeCursor.seq).where(AccessNoticeCursor.id == _CURSOR_ID).with_for_update()
    )
    seq = await session.scalar(statement)
    if seq is None:
        await session.execute(
            insert_for(session, AccessNoticeCursor)
            .values(id=_CURSOR_ID, seq=0)
            .on_conflict_do_nothing()
        )
        seq = await session.scalar(statement)
        if seq is None:
            raise RuntimeError("the access notice cursor could not be created")
    return seq


async def move_notice_cursor(session: AsyncSession, *, past: int, to: int) -> bool:
    """Move the cursor from ``past`` to ``to``; whether it was still at ``past`` (a replica that
    moved it meanwhile has told these entries already)."""
    result = await session.execute(
        update(AccessNoticeCursor)
        .where(AccessNoticeCursor.id == _CURSOR_ID, AccessNoticeCursor.seq == past)
        .values(seq=to)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


async def entries_after(
    session: AsyncSession, *, after_seq: int, limit: int
) -> list[tuple[LedgerEntry, str | None]]:
    """The next ``limit`` ledger entries after ``after_seq``, in order, each with the account
    its subject is linked to (None: none is)."""
    statement = (
        select(LedgerEntry, CitizenSubject.account)
        .outerjoin(CitizenSubject, CitizenSubject.subject_hash == LedgerEntry.subject_hash)
        .where(LedgerEntry.seq > after_seq)
        .order_by(LedgerEntry.seq)
        .limit(limit)
    )
    return [(entry, account) for entry, account in await session.execute(statement)]
