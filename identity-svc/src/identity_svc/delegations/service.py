"""The rules of delegation (a grandson helps his grandmother).

A citizen at level 2 or more (the principal) grants another citizen (the delegate), named by
their phone, the right to act for them, for every service or a listed set of catalog items,
until a date. The delegation is given to the phone, not to an account: the answer (status,
body, work done) is the same whether or not the phone has an account, so that delegating tells
nobody which phones are registered, and the principal sees the delegate as the masked phone
she typed. The citizen account holding the phone, now or once its holder registers it (proving
the phone by an SMS code), receives it: both see it; either revokes it.

The delegate acts by token exchange (RFC 8693): they present their own access token as the
``actor_token`` and name the delegation (or the principal) as the ``subject``; they get a short
access token whose ``sub`` is the principal and whose ``act`` names themselves, so every
downstream record keeps both ids. Its level is the lower of the two people's, its ``scope`` the
delegated item codes when the delegation is restricted, and it has no refresh token: the
delegate exchanges again. A token carrying ``act`` can neither delegate, nor be exchanged again,
nor manage the principal's delegations, sessions or credentials.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import bound_id_number, citizen_account, effective_loa
from identity_svc.delegations import repository
from identity_svc.delegations.schemas import DelegationStatus
from identity_svc.models import Account, Delegation
from identity_svc.runtime import Runtime
from identity_svc.tokens.service import OAuthError, base_claims
from servicekit.auth import (
    Principal,
    TokenVerifier,
    require_assurance,
    require_type,
)
from servicekit.problems import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    Unauthenticated,
    extension_members,
)

#: RFC 8693 §3: the token types this exchange takes and gives.
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"


class DelegateCannotDelegate(Forbidden):
    code = "delegate_cannot_delegate"
    title = "A delegate acting for someone cannot delegate further"


class DelegatedTokenRefused(Forbidden):
    code = "delegated_token_refused"
    title = "Only the account holder can do this, not a delegate acting for them"


class CannotDelegateToSelf(DomainError):
    status = 422
    code = "cannot_delegate_to_self"
    title = "A citizen cannot delegate to themselves"


class InvalidValidUntil(DomainError):
    status = 422
    code = "invalid_valid_until"
    title = "The end must be in the future, within the longest term allowed"
    members = extension_members(
        max_days={
            "type": "integer",
            "description": "The longest term allowed, in days",
            "examples": [366],
        }
    )


class DelegationExists(Conflict):
    code = "delegation_exists"
    title = "This citizen already holds a delegation from you in force: revoke it first"
    members = extension_members(
        delegation_id={
            "type": "string",
            "description": "The delegation in force",
            "format": "uuid",
            "examples": ["0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d"],
        }
    )


class DelegationNotFound(NotFound):
    code = "delegation_not_found"
    title = "No such delegation given or received by you"


# Token-exchange refusals: OAuth errors of the token endpoint (RFC 8693 §2.2.2).


class InvalidActorToken(OAuthError):
    code = "invalid_actor_token"
    title = "The actor token is not a valid citizen access token"
    oauth_error = "invalid_request"


class ChainedDelegationRefused(OAuthError):
    code = "chained_delegation_refused"
    title = "A delegated token cannot be exchanged for another"
    oauth_error = "invalid_grant"


class ExchangeDelegationNotFound(OAuthError):
    code = "no_matching_delegation"
    title = "No delegation to the actor matches the subject"
    oauth_error = "invalid_grant"


class DelegationRevoked(OAuthError):
    code = "delegation_revoked"
    title = "The delegation was revoked"
    members = extension_members(
        **OAuthError.members,
        revoked_at={
            "type": "string",
            "description": "When it was revoked",
            "format": "date-time",
            "examples": ["2026-11-26T02:30:00+00:00"],
        },
    )
    oauth_error = "invalid_grant"


class DelegationExpired(OAuthError):
    code = "delegation_expired"
    title = "The delegation has ended"
    members = extension_members(
        **OAuthError.members,
        valid_until={
            "type": "string",
            "description": "When it ended",
            "format": "date-time",
            "examples": ["2026-12-31T16:00:00+00:00"],
        },
    )
    oauth_error = "invalid_grant"


class DelegationScopeExceeded(OAuthError):
    code = "delegation_scope_exceeded"
    title = "The requested scope names items the delegation does not cover"
    members = extension_members(
        **OAuthError.members,
        refused_scopes={
            "type": "array",
            "items": {"type": "string"},
            "description": "The item codes the delegation does not cover",
            "examples": [["public_security.id_card_replacement"]],
        },
    )
    oauth_error = "invalid_scope"


def refuse_delegates(principal: Principal) -> None:
    """Things only the account holder does: managing delegations, sessions, credentials."""
    if principal.act is not None:
        raise DelegatedTokenRefused()


def is_party(account: Account, delegation: Delegation) -> bool:
    """Whether the account gave the delegation or holds the phone it was given to."""
    return (
        account.id == delegation.principal_id
        or account.phone_hash == delegation.delegate_phone_hash
    )


def status_of(delegation: Delegation, *, now: dt.datetime) -> DelegationStatus:
    if delegation.revoked_at is not None:
        return "revoked"
    if delegation.valid_until <= now:
        return "expired"
    return "active"


async def grant(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    delegate_phone: str,
    item_codes: Sequence[str] | None,
    valid_until: dt.datetime,
    now: dt.datetime,
) -> Delegation:
    if principal.act is not None:
        raise DelegateCannotDelegate()
    require_type(principal, "citizen")
    require_assurance(principal, 2)
    account = await citizen_account(session=session, principal=principal)
    bound_id_number(account)  # the account is the authority, not the token
    longest = dt.timedelta(days=runtime.settings.delegation_max_days)
    if valid_until <= now or valid_until > now + longest:
        raise InvalidValidUntil(max_days=runtime.settings.delegation_max_days)
    # Whether the phone has an account is not looked at: the delegation is the phone's.
    personal = runtime.personal_data
    delegate_phone_hash = personal.lookup_hash("phone", delegate_phone)
    if delegate_phone_hash == account.phone_hash:
        raise CannotDelegateToSelf()
    existing = await repository.active_between(
        session, principal_id=account.id, delegate_phone_hash=delegate_phone_hash, now=now
    )
    if existing is not None:
        raise DelegationExists(delegation_id=str(existing.id))
    delegation = Delegation(
        principal_id=account.id,
        delegate_phone_hash=delegate_phone_hash,
        delegate_phone_sealed=personal.seal(
            "delegate_phone", delegate_phone, account_id=account.id
        ),
        item_codes=sorted(set(item_codes)) if item_codes is not None else None,
        valid_until=valid_until,
        created_at=now,
    )
    await repository.add(session, delegation)
    return delegation


async def of_holder(
    *, session: AsyncSession, principal: Principal
) -> tuple[list[Delegation], list[Delegation]]:
    """The delegations the caller gave, and those given to her phone (before she registered
    it too)."""
    refuse_delegates(principal)
    account = await citizen_account(session=session, principal=principal)
    everything = await repository.of_account(session, account.id, account.phone_hash)
    given = [d for d in everything if d.principal_id == account.id]
    received = [d for d in everything if d.delegate_phone_hash == account.phone_hash]
    return given, received


async def revoke(
    *, session: AsyncSession, principal: Principal, delegation_id: uuid.UUID, now: dt.datetime
) -> None:
    """Either party revokes; revoking a revoked delegation changes nothing."""
    refuse_delegates(principal)
    account = await citizen_account(session=session, principal=principal)
    delegation = await repository.get(session, delegation_id)
    if delegation is None or not is_party(account, delegation):
        raise DelegationNotFound()
    if delegation.revoked_at is None:
        delegation.revoked_at = now
        delegation.revoked_by = account.id
        await repository.flush(session)


@dataclass(frozen=True)
class DelegatedToken:
    access_token: str
    expires_in: int
    scope: str | None


async def verified_actor(verifier: TokenVerifier, actor_token: str) -> Principal:
    """The citizen behind an exchange's ``actor_token``, acting for nobody else."""
    try:
        actor = await verifier.verify(actor_token)
    except Unauthenticated as exc:
        raise InvalidActorToken(exc.detail or exc.title) from exc
    if actor.act is not None:
        raise ChainedDelegationRefused()
    if actor.typ != "citizen":
        raise InvalidActorToken("the actor must be a citizen")
    return actor


async def _delegation_for(
    session: AsyncSession, *, subject: str, delegate: Account, now: dt.datetime
) -> Delegation:
    """The delegation to the delegate's phone the subject names: its id, or the principal's
    account id (then the one in force between the principal and the delegate)."""
    try:
        subject_id = uuid.UUID(subject)
    except ValueError as exc:
        raise ExchangeDelegationNotFound() from exc
    delegation = await repository.get(session, subject_id)
    if delegation is None:
        delegation = await repository.active_between(
            session, principal_id=subject_id, delegate_phone_hash=delegate.phone_hash, now=now
        )
    if delegation is None or delegation.delegate_phone_hash != delegate.phone_hash:
        raise ExchangeDelegationNotFound()
    if delegation.revoked_at is not None:
        raise DelegationRevoked(revoked_at=delegation.revoked_at.isoformat())
    if delegation.valid_until <= now:
        raise DelegationExpired(valid_until=delegation.valid_until.isoformat())
    return delegation


def _granted_scope(delegation: Delegation, requested: str | None) -> list[str] | None:
    """The item codes the token may act on: those asked for, within the delegation's."""
    if not requested:
        return delegation.item_codes
    asked = sorted(set(requested.split()))
    if delegation.item_codes is not None:
        beyond = sorted(set(asked) - set(delegation.item_codes))
        if beyond:
            raise DelegationScopeExceeded(refused_scopes=beyond)
    return asked


async def exchange(
    *,
    session: AsyncSession,
    runtime: Runtime,
    verifier: TokenVerifier,
    subject: str,
    actor_token: str,
    scope: str | None,
    now: dt.datetime,
) -> DelegatedToken:
    actor = await verified_actor(verifier, actor_token)
    delegate = await citizen_account(session=session, principal=actor)
    delegation = await _delegation_for(session, subject=subject, delegate=delegate, now=now)
    principal = await accounts.get(session, delegation.principal_id)
    if principal is None:
        raise ExchangeDelegationNotFound()
    items = _granted_scope(delegation, scope)

    loa = min(actor.loa, effective_loa(delegate, now=now), effective_loa(principal, now=now))
    iat = int(now.timestamp())
    ends = [
        iat + runtime.settings.delegated_token_ttl_seconds,
        int(delegation.valid_until.timestamp()),
    ]
    if loa == 3:
        ends += [_face_window_end(delegate), _face_window_end(principal)]
    exp = min(ends)
    claims = base_claims(runtime, sub=str(principal.id), typ="citizen", loa=loa, iat=iat, exp=exp)
    claims["act"] = {"sub": str(delegate.id)}
    if actor.sid is not None:
        # The actor's session: ending it ends this token too (the revocation list).
        claims["sid"] = actor.sid
    if principal.region_code:
        claims["region"] = principal.region_code
    granted = " ".join(items) if items is not None else None
    if granted is not None:
        claims["scope"] = granted
    token = await runtime.keys.sign(claims, now=now)
    return DelegatedToken(access_token=token, expires_in=exp - iat, scope=granted)


def _face_window_end(account: Account) -> int:
    assert account.face_verified_until is not None  # level 3 holds only inside the window
    return int(account.face_verified_until.timestamp())
