"""Every query identity-svc makes about sessions, login failures and known login addresses,
OAuth clients and the client assertions they spent."""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.models import (
    ClientAssertion,
    KnownLoginAddress,
    LoginFailure,
    LoginSession,
    OAuthClient,
    RefreshToken,
)
from servicekit.db import insert_for
from servicekit.ids import new_id


@dataclass(frozen=True)
class SessionClient:
    """The OAuth client a session's tokens are issued to (the authorization code flow)."""

    client_id: str
    #: What the citizen allowed it; None for a first-party client (the platform's own app),
    #: whose tokens are hers to use as the app's are.
    scope: str | None


# The refresh grant's three writes, built once: building a statement per request (and its
# cache key) cost more than sending it. Table-level, so the ORM's DML bookkeeping stays out.
_refresh_tokens = RefreshToken.metadata.tables[RefreshToken.__tablename__]
_login_sessions = LoginSession.metadata.tables[LoginSession.__tablename__]
_ADD_REFRESH_TOKEN = insert(_refresh_tokens)
_SPEND_REFRESH_TOKEN = (
    update(_refresh_tokens)
    .where(
        _refresh_tokens.c.token_hash == bindparam("presented"),
        _refresh_tokens.c.used_at.is_(None),
        _refresh_tokens.c.revoked_at.is_(None),
        _refresh_tokens.c.expires_at > bindparam("now"),
    )
    .values(used_at=bindparam("now"))
    .returning(_refresh_tokens.c.family_id, _refresh_tokens.c.account_id)
)
_TOUCH_LOGIN_SESSION = (
    update(_login_sessions)
    .where(_login_sessions.c.id == bindparam("session_id"))
    .values(
        last_used_at=bindparam("now"),
        expires_at=bindparam("new_expires_at"),
        user_agent=bindparam("new_user_agent"),
        client_address=bindparam("new_client_address"),
    )
    .returning(_login_sessions.c.client_id, _login_sessions.c.scope)
)


async def add_refresh_token(
    session: AsyncSession,
    *,
    family_id: uuid.UUID,
    account_id: uuid.UUID,
    token_hash: str,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    """One INSERT, without the unit of work: a refresh issues one on every rotation."""
    await session.execute(
        _ADD_REFRESH_TOKEN,
        {
            "id": new_id(),
            "family_id": family_id,
            "account_id": account_id,
            "token_hash": token_hash,
            "issued_at": issued_at,
            "expires_at": expires_at,
        },
    )


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    token: RefreshToken | None = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash)
    )
    return token


async def spend_refresh_token(
    session: AsyncSession, token_hash: str, *, now: dt.datetime
) -> tuple[uuid.UUID, uuid.UUID] | None:
    """Mark the token used if it is live and nobody spent it first (the database arbitrates
    concurrent refreshes); its session and account, or ``None`` when it was not spendable.
    One statement: the refresh grant's common case pays no separate lookup."""
    row = (
        await session.execute(_SPEND_REFRESH_TOKEN, {"presented": token_hash, "now": now})
    ).one_or_none()
    return None if row is None else (row.family_id, row.account_id)


async def revoke_family(
    session: AsyncSession, family_id: uuid.UUID, *, now: dt.datetime
) -> Sequence[tuple[uuid.UUID, dt.datetime]]:
    """End a session: its refresh tokens, and the session as its holder lists it. The session
    (its id and when it last issued tokens) when this ended it, none when it had ended."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    ended = await session.execute(
        update(LoginSession)
        .where(LoginSession.id == family_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(LoginSession.id, LoginSession.last_used_at)
        .execution_options(synchronize_session=False)
    )
    return [(row.id, row.last_used_at) for row in ended]


async def revoke_sessions_of(
    session: AsyncSession, account_id: uuid.UUID, *, keep: uuid.UUID | None, now: dt.datetime
) -> Sequence[tuple[uuid.UUID, dt.datetime]]:
    """End every session of the account but ``keep``; those it ended, as ``revoke_family``."""
    tokens = update(RefreshToken).where(
        RefreshToken.account_id == account_id, RefreshToken.revoked_at.is_(None)
    )
    sessions = update(LoginSession).where(
        LoginSession.account_id == account_id, LoginSession.revoked_at.is_(None)
    )
    if keep is not None:
        tokens = tokens.where(RefreshToken.family_id != keep)
        sessions = sessions.where(LoginSession.id != keep)
    await session.execute(
        tokens.values(revoked_at=now).execution_options(synchronize_session=False)
    )
    ended = await session.execute(
        sessions.values(revoked_at=now)
        .returning(LoginSession.id, LoginSession.last_used_at)
        .execution_options(synchronize_session=False)
    )
    return [(row.id, row.last_used_at) for row in ended]


async def recent_sessions_of(
    session: AsyncSession, account_id: uuid.UUID, *, used_since: dt.datetime
) -> Sequence[tuple[uuid.UUID, dt.datetime]]:
    """The account's sessions that issued tokens since ``used_since`` (ended or not)."""
    rows = await session.execute(
        select(LoginSession.id, LoginSession.last_used_at).where(
            LoginSession.account_id == account_id, LoginSession.last_used_at > used_since
        )
    )
    return [(row.id, row.last_used_at) for row in rows]


async def add_login_session(session: AsyncSession, login_session: LoginSession) -> None:
    session.add(login_session)
    await session.flush()


async def touch_login_session(
    session: AsyncSession,
    session_id: uuid.UUID,
    *,
    now: dt.datetime,
    expires_at: dt.datetime,
    user_agent: str | None,
    client_address: str | None,
) -> SessionClient | None:
    """Record the session's latest use; the client it was issued to, if any."""
    row = (
        await session.execute(
            _TOUCH_LOGIN_SESSION,
            {
                "session_id": session_id,
                "now": now,
                "new_expires_at": expires_at,
                "new_user_agent": user_agent,
                "new_client_address": client_address,
            },
        )
    ).one_or_none()
    if row is None or row.client_id is None:
        return None
    return SessionClient(client_id=row.client_id, scope=row.scope)


async def login_session(session: AsyncSession, session_id: uuid.UUID) -> LoginSession | None:
    return await session.get(LoginSession, session_id)


async def live_login_sessions(
    session: AsyncSession, account_id: uuid.UUID, *, now: dt.datetime
) -> Sequence[LoginSession]:
    """The account's sessions neither ended nor run out, most recently used first."""
    rows = await session.scalars(
        select(LoginSession)
        .where(
            LoginSession.account_id == account_id,
            LoginSession.revoked_at.is_(None),
            LoginSession.expires_at > now,
        )
        .order_by(LoginSession.last_used_at.desc(), LoginSession.id.desc())
    )
    return rows.all()


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


async def is_known_login_address(
    session: AsyncSession, login_address_hash: str, *, since: dt.datetime
) -> bool:
    """Whether the account signed in from the address since then."""
    signed_in_at = await session.scalar(
        select(KnownLoginAddress.signed_in_at).where(
            KnownLoginAddress.login_address_hash == login_address_hash
        )
    )
    return signed_in_at is not None and signed_in_at >= since


async def remember_login_address(
    session: AsyncSession, login_address_hash: str, *, now: dt.datetime
) -> None:
    """Record a sign-in from the address (one row per account and address, the latest time)."""
    table = KnownLoginAddress.__table__
    statement = insert_for(session, table).values(
        login_address_hash=login_address_hash, signed_in_at=now
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.login_address_hash],
            set_={"signed_in_at": statement.excluded.signed_in_at},
        )
    )


async def forget_login_addresses(session: AsyncSession, *, before: dt.datetime) -> None:
    """Forget the addresses not signed in from since ``before``."""
    await session.execute(
        delete(KnownLoginAddress)
        .where(KnownLoginAddress.signed_in_at < before)
        .execution_options(synchronize_session=False)
    )


async def client(session: AsyncSession, client_id: str) -> OAuthClient | None:
    return await session.get(OAuthClient, client_id)


async def add_client(session: AsyncSession, oauth_client: OAuthClient) -> None:
    session.add(oauth_client)
    await session.flush()


async def spend_client_assertion(
    session: AsyncSession, *, client_id: str, jti: str, expires_at: dt.datetime
) -> bool:
    """Record a client assertion's ``jti`` until ``expires_at``; False if it is recorded already
    (a replay: ``forget_client_assertions`` first, so that only an unexpired one counts). One
    statement, so that two requests presenting the same assertion at once cannot both pass: the
    primary key decides, and the loser's ``ON CONFLICT DO NOTHING`` inserts nothing instead of
    raising, which leaves the request's transaction usable."""
    table = ClientAssertion.__table__
    statement = (
        insert_for(session, table)
        .values(client_id=client_id, jti=jti, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=[table.c.client_id, table.c.jti])
    )
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def forget_client_assertions(
    session: AsyncSession, *, client_id: str, now: dt.datetime
) -> None:
    """Forget the client's assertions that have expired: they could not be replayed anyway."""
    await session.execute(
        delete(ClientAssertion).where(
            ClientAssertion.client_id == client_id, ClientAssertion.expires_at <= now
        )
    )
