"""The rules of a citizen's sessions: only the account holder lists or ends them, never a
delegate acting for them."""

import datetime as dt
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts.service import citizen_account
from identity_svc.delegations.service import refuse_delegates
from identity_svc.models import LoginSession
from identity_svc.revocations import service as revocations
from identity_svc.runtime import Runtime
from identity_svc.tokens import repository
from servicekit.auth import Principal
from servicekit.problems import NotFound


class SessionNotFound(NotFound):
    code = "session_not_found"
    title = "No such session of yours"


async def live_sessions(
    *, session: AsyncSession, principal: Principal, now: dt.datetime
) -> Sequence[LoginSession]:
    refuse_delegates(principal)
    account = await citizen_account(session=session, principal=principal)
    return await repository.live_login_sessions(session, account.id, now=now)


async def end_session(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    session_id: uuid.UUID,
    now: dt.datetime,
) -> None:
    """Ending an ended session changes nothing."""
    refuse_delegates(principal)
    account = await citizen_account(session=session, principal=principal)
    login_session = await repository.login_session(session, session_id)
    if login_session is None or login_session.account_id != account.id:
        raise SessionNotFound()
    ended = await repository.revoke_family(session, session_id, now=now)
    await revocations.end_session_tokens(session, runtime, ended, now=now)
