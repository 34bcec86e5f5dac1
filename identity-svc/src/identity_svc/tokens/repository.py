"""Every query identity-svc makes about sessions, login failures and OAuth clients."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import LoginFailure, OAuthClient, RefreshToken


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    token: RefreshToken | None = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    )
    return token


async def spend_refresh_token(
    session: AsyncSession, token_id: uuid.UUID, *, now: dt.datetime
) -> bool:
    """Mark the token used, if nobody did first: the database arbitrates concurrent refreshes."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == token_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, *, now: dt.datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def recent_login_failures(
    session: AsyncSession, login_hash: str, *, limit: int
) -> Sequence[dt.datetime]:
    """The times of the latest failures, newest first."""
    rows = await session.scalars(
        select(LoginFailure.occurred_at)
        .where(LoginFailure.login_hash == login_hash)
        .order_by(LoginFailure.occurred_at.desc())
        .limit(limit)
    )
    return rows.all()


async def add_login_failure(session: AsyncSession, failure: LoginFailure) -> None:
    session.add(failure)
    await session.flush()


async def forget_login_failures(
    session: AsyncSession, login_hash: str, *, before: dt.datetime | None = None
) -> None:
    statement = delete(LoginFailure).where(LoginFailure.login_hash == login_hash)
    if before is not None:
        statement = statement.where(LoginFailure.occurred_at < before)
    await session.execute(statement.execution_options(synchronize_session=False))


async def client(session: AsyncSession, client_id: str) -> OAuthClient | None:
    return await session.get(OAuthClient, client_id)


async def add_client(session: AsyncSession, oauth_client: OAuthClient) -> None:
    session.add(oauth_client)
    await session.flush()
