"""Every query identity-svc makes about sign-ins at its pages, authorization requests and codes,
and consents."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import (
    AuthorizationCode,
    AuthorizationRequest,
    BrowserSession,
    Consent,
    LoginSession,
)


async def add(
    session: AsyncSession, row: AuthorizationRequest | AuthorizationCode | BrowserSession
) -> None:
    session.add(row)
    await session.flush()


async def flush(session: AsyncSession) -> None:
    await session.flush()


async def request(session: AsyncSession, request_id: str) -> AuthorizationRequest | None:
    return await session.get(AuthorizationRequest, request_id)


async def browser_session(session: AsyncSession, token_hash: str) -> BrowserSession | None:
    found: BrowserSession | None = await session.scalar(
        select(BrowserSession).where(BrowserSession.token_hash == token_hash)
    )
    return found


async def code(session: AsyncSession, code_hash: str) -> AuthorizationCode | None:
    return await session.get(AuthorizationCode, code_hash)


async def spend_code(
    session: AsyncSession, code_hash: str, *, now: dt.datetime
) -> AuthorizationCode | None:
    """Mark the code used if it is live and nobody spent it first (the database arbitrates two
    exchanges at once); the code, or None when it was not spendable."""
    spent = await session.execute(
        update(AuthorizationCode)
        .where(
            AuthorizationCode.code_hash == code_hash,
            AuthorizationCode.used_at.is_(None),
            AuthorizationCode.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    found = await session.get(AuthorizationCode, code_hash, populate_existing=True)
    return found


async def consent(session: AsyncSession, account_id: uuid.UUID, client_id: str) -> Consent | None:
    return await session.get(Consent, (account_id, client_id))


async def consents_of(session: AsyncSession, account_id: uuid.UUID) -> Sequence[Consent]:
    rows = await session.scalars(
        select(Consent).where(Consent.account_id == account_id).order_by(Consent.client_id)
    )
    return rows.all()


async def grant_consent(
    session: AsyncSession,
    account_id: uuid.UUID,
    client_id: str,
    scopes: Sequence[str],
    *,
    now: dt.datetime,
) -> None:
    existing = await consent(session, account_id, client_id)
    if existing is None:
        session.add(
            Consent(
                account_id=account_id, client_id=client_id, scopes=" ".join(scopes), granted_at=now
            )
        )
    else:
        merged = dict.fromkeys([*existing.scopes.split(), *scopes])
        existing.scopes = " ".join(merged)
        existing.granted_at = now
    await session.flush()


async def withdraw_consent(session: AsyncSession, account_id: uuid.UUID, client_id: str) -> bool:
    deleted = await session.execute(
        delete(Consent)
        .where(Consent.account_id == account_id, Consent.client_id == client_id)
        .execution_options(synchronize_session=False)
    )
    return bool(deleted.rowcount)  # type: ignore[attr-defined]


async def sessions_started_by(
    session: AsyncSession, browser_session_id: uuid.UUID
) -> Sequence[uuid.UUID]:
    """The sessions the codes issued in a browser's sign-in started."""
    rows = await session.scalars(
        select(AuthorizationCode.login_session_id).where(
            AuthorizationCode.browser_session_id == browser_session_id,
            AuthorizationCode.login_session_id.is_not(None),
        )
    )
    return [row for row in rows.all() if row is not None]


async def client_sessions(
    session: AsyncSession, account_id: uuid.UUID, client_id: str
) -> Sequence[uuid.UUID]:
    """Her live sessions issued to the client."""
    rows = await session.scalars(
        select(LoginSession.id).where(
            LoginSession.account_id == account_id,
            LoginSession.client_id == client_id,
            LoginSession.revoked_at.is_(None),
        )
    )
    return rows.all()


async def forget_expired(
    session: AsyncSession, *, now: dt.datetime, codes_before: dt.datetime
) -> None:
    """Forget what can serve no more: requests past their time, browser sign-ins that ended by
    time, and codes older than any browser sign-in may last (a logout ends the sessions a code
    of its sign-in started, so a code is kept as long as that sign-in may be)."""
    for statement in (
        delete(AuthorizationRequest).where(AuthorizationRequest.expires_at < now),
        delete(BrowserSession).where(BrowserSession.expires_at < now),
        delete(AuthorizationCode).where(AuthorizationCode.created_at < codes_before),
    ):
        await session.execute(statement.execution_options(synchronize_session=False))
