"""The rules of enterprises (legal persons) and of the citizens who act for them.

A citizen whose real name is verified claims an enterprise by its unified social credit code
(GB 32100). identity-svc asks the market-regulation registry (data-exchange-svc's
``business_registration``) whether the ID number her verification bound is the registered legal
representative's, a yes or no that discloses nothing else, then reads the enterprise's name,
status and region. A yes makes her the enterprise's representative here; whoever stood before
stands no longer (the registry names one). The representative authorises employees (citizens,
by registered phone) until a date, and ends their authorisation; an employee may step down.
An employee's authorisation stands only while the representative who gave it does (asked of
the registry at every exchange, as the representative's own standing is): when the registry
names another, the employees wait until the new representative confirms them.

To act, a representative or employee exchanges their own access token for an enterprise token
(RFC 8693, ``subject`` = the credit code): ``typ`` "enterprise", ``sub`` the credit code,
``act`` the citizen, ``roles`` their standing, ``region`` the enterprise's registered region, no
refresh token. The representative's standing is asked of the registry again at every exchange,
so a change of legal representative takes effect at once.
"""

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from identity_svc.accounts import repository as accounts
from identity_svc.accounts.service import bound_id_number, citizen_account, effective_loa
from identity_svc.clients import exchange as registry
from identity_svc.delegations.service import DelegatedToken, verified_actor
from identity_svc.enterprises import repository
from identity_svc.models import Account, Enterprise, EnterpriseMember
from identity_svc.runtime import Runtime
from identity_svc.tokens.service import OAuthError, base_claims, service_token
from servicekit.auth import Principal, TokenVerifier, require_type
from servicekit.credit_code import ALPHABET, CreditCode, InvalidCreditCode, parse_credit_code
from servicekit.problems import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    UpstreamUnavailable,
    extension_members,
)
from servicekit.regions import InvalidRegionCode, RegionCode

#: The purpose identity-svc states to the registry; its grant allows it and nothing else.
REPRESENTATION_PURPOSE = "enterprise_representation"
ENTERPRISE_FIELDS = ["enterprise_name", "registration_status", "registered_region"]
_CREDIT_CODE_SHAPE = re.compile(rf"^[{ALPHABET}]{{18}}$")


class InvalidEnterpriseCode(DomainError):
    status = 422
    code = "invalid_credit_code"
    title = "The unified social credit code is not valid"
    members = extension_members(
        reason={
            "type": "string",
            "description": "The first rule the code breaks",
            "enum": [
                "wrong_length",
                "invalid_characters",
                "unknown_region",
                "check_character_mismatch",
            ],
            "examples": ["check_character_mismatch"],
        }
    )


class NotLegalRepresentative(Forbidden):
    code = "not_legal_representative"
    title = "The market-regulation registry does not name you this enterprise's representative"


class EnterpriseNotActive(Conflict):
    code = "enterprise_not_active"
    title = "The enterprise is not an active registration"
    members = extension_members(
        registration_status={
            "type": "string",
            "description": "What the market-regulation registry says of it",
            "examples": ["deregistered"],
        }
    )


class EnterpriseNotFound(NotFound):
    code = "enterprise_not_found"
    title = "You act for no such enterprise"


class RepresentativeRequired(Forbidden):
    code = "representative_required"
    title = "Only the enterprise's legal representative can do this"


class DelegateCannotActForEnterprise(Forbidden):
    code = "delegated_token_refused"
    title = "Only the account holder can do this, not a delegate acting for them"


class AgentNotFound(NotFound):
    code = "agent_not_found"
    title = "No citizen is registered with this phone number"


class AgentExists(Conflict):
    code = "agent_exists"
    title = "This citizen already acts for the enterprise: end that first"
    members = extension_members(
        member_id={
            "type": "string",
            "description": "The membership already in force",
            "format": "uuid",
            "examples": ["0196f3c2-7d1e-7a3b-9c4d-2e5f6a7b8c9d"],
        },
        role={
            "type": "string",
            "description": "Its role",
            "enum": ["representative", "agent"],
            "examples": ["agent"],
        },
    )


class InvalidAgentTerm(DomainError):
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


class MemberNotFound(NotFound):
    code = "member_not_found"
    title = "No such member of the enterprise"


# Token-exchange refusals: OAuth errors of the token endpoint (RFC 8693 §2.2.2).


class NotEnterpriseMember(OAuthError):
    code = "not_enterprise_member"
    title = "The actor does not act for this enterprise"
    oauth_error = "invalid_grant"


class RepresentationEnded(OAuthError):
    code = "representation_ended"
    title = "The registry no longer names the actor the enterprise's legal representative"
    oauth_error = "invalid_grant"


class AuthorisationUnconfirmed(OAuthError):
    code = "authorisation_unconfirmed"
    title = (
        "The representative who authorised the actor no longer stands; the enterprise's new "
        "representative has not confirmed the authorisation"
    )
    oauth_error = "invalid_grant"


def names_enterprise(subject: str) -> bool:
    """Whether a token exchange's ``subject`` is a credit code (else a delegation or account)."""
    return _CREDIT_CODE_SHAPE.match(subject) is not None


async def _parse_credit_code(runtime: Runtime, http: httpx.AsyncClient, text: str) -> CreditCode:
    # parse_credit_code asks region_known synchronously: catalog is asked beforehand, and only
    # when the region part is a region code at all. Retired codes count: a code never changes.
    known = False
    if len(text) == 18:
        try:
            region = RegionCode.parse(text[2:8])
        except InvalidRegionCode:
            pass
        else:
            known = await runtime.catalog.is_known_region(http, region)
    try:
        return parse_credit_code(text, region_known=lambda _: known)
    except InvalidCreditCode as exc:
        raise InvalidEnterpriseCode(str(exc), reason=exc.reason) from exc


async def _verified_holder(
    session: AsyncSession, runtime: Runtime, principal: Principal
) -> tuple[Account, str]:
    """The caller's own account (no delegate acting for them) with the ID number its real-name
    verification bound: the account is the authority, not the token."""
    if principal.act is not None:
        raise DelegateCannotActForEnterprise()
    require_type(principal, "citizen")
    account = await citizen_account(session=session, principal=principal)
    id_number = runtime.personal_data.unseal(
        "id_number", bound_id_number(account), account_id=account.id
    )
    return account, id_number


def _registry_text(fields: dict[str, object], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value:
        raise UpstreamUnavailable(f"the registry gave no usable {name} for the enterprise")
    return value


@dataclass(frozen=True)
class Membership:
    member: EnterpriseMember
    enterprise: Enterprise


async def claim(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    principal: Principal,
    credit_code: str,
    now: dt.datetime,
) -> Membership:
    """Become the enterprise's representative here, if the registry says so."""
    account, id_number = await _verified_holder(session, runtime, principal)
    code = await _parse_credit_code(runtime, http, credit_code)
    token = await service_token(runtime, now=now)
    answer = await registry.representative_matches(
        http,
        token=token,
        credit_code=code.code,
        id_number=id_number,
        purpose=REPRESENTATION_PURPOSE,
    )
    if not answer.match:
        raise NotLegalRepresentative()
    try:
        record = await registry.read_enterprise(
            http,
            token=token,
            credit_code=code.code,
            fields=ENTERPRISE_FIELDS,
            purpose=REPRESENTATION_PURPOSE,
        )
    except registry.SubjectNotInRegistry as exc:
        raise UpstreamUnavailable(
            "the registry matched an enterprise it then could not find"
        ) from exc
    status = _registry_text(record.fields, "registration_status")
    if status != "active":
        raise EnterpriseNotActive(registration_status=status)

    enterprise = await repository.by_credit_code(session, code.code)
    if enterprise is None:
        enterprise = Enterprise(credit_code=code.code, name="", registered_region="")
        session.add(enterprise)
    enterprise.name = _registry_text(record.fields, "enterprise_name")
    enterprise.registered_region = _registry_text(record.fields, "registered_region")
    enterprise.registration_status = status
    enterprise.verified_at = now
    await repository.flush(session)
    await repository.end_representatives_other_than(
        session, enterprise_id=enterprise.id, account_id=account.id, now=now
    )
    member = await repository.membership(
        session, enterprise_id=enterprise.id, account_id=account.id, now=now
    )
    if member is not None and member.role == "agent":
        # An employee who became the representative stands as such now.
        await repository.end_member(session, member.id, now=now)
        member = None
    if member is None:
        member = EnterpriseMember(
            enterprise_id=enterprise.id,
            account_id=account.id,
            role="legal_representative",
            created_at=now,
        )
        await repository.add(session, member)
    return Membership(member=member, enterprise=enterprise)


async def memberships(
    *, session: AsyncSession, principal: Principal, now: dt.datetime
) -> Sequence[tuple[EnterpriseMember, Enterprise]]:
    """The enterprises the caller acts for now."""
    if principal.act is not None:
        raise DelegateCannotActForEnterprise()
    account = await citizen_account(session=session, principal=principal)
    return await repository.memberships_of(session, account.id, now=now)


async def _standing(
    session: AsyncSession, *, account: Account, credit_code: str, now: dt.datetime
) -> Membership:
    enterprise = await repository.by_credit_code(session, credit_code)
    if enterprise is None:
        raise EnterpriseNotFound()
    member = await repository.membership(
        session, enterprise_id=enterprise.id, account_id=account.id, now=now
    )
    if member is None:
        raise EnterpriseNotFound()
    return Membership(member=member, enterprise=enterprise)


async def _representative(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    credit_code: str,
    now: dt.datetime,
) -> Membership:
    """The caller's standing as the enterprise's legal representative, their real name
    verified (asked after the standing, so an employee hears that they are not the one)."""
    if principal.act is not None:
        raise DelegateCannotActForEnterprise()
    account = await citizen_account(session=session, principal=principal)
    standing = await _standing(session, account=account, credit_code=credit_code, now=now)
    if standing.member.role != "legal_representative":
        raise RepresentativeRequired()
    await _verified_holder(session, runtime, principal)
    return standing


async def authorise_agent(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    credit_code: str,
    agent_phone: str,
    valid_until: dt.datetime,
    now: dt.datetime,
) -> EnterpriseMember:
    standing = await _representative(session, runtime, principal, credit_code, now)
    longest = dt.timedelta(days=runtime.settings.enterprise_agent_max_days)
    if valid_until <= now or valid_until > now + longest:
        raise InvalidAgentTerm(max_days=runtime.settings.enterprise_agent_max_days)
    agent = await accounts.by_phone_hash(
        session, runtime.personal_data.lookup_hash("phone", agent_phone)
    )
    if agent is None or agent.typ != "citizen":
        raise AgentNotFound()
    existing = await repository.membership(
        session, enterprise_id=standing.enterprise.id, account_id=agent.id, now=now
    )
    if existing is not None:
        raise AgentExists(member_id=str(existing.id), role=existing.role)
    member = EnterpriseMember(
        enterprise_id=standing.enterprise.id,
        account_id=agent.id,
        role="agent",
        granted_by=standing.member.account_id,
        valid_until=valid_until,
        created_at=now,
    )
    await repository.add(session, member)
    return member


async def members(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    credit_code: str,
    now: dt.datetime,
) -> tuple[Enterprise, Sequence[EnterpriseMember]]:
    """Everyone who acts or acted for the enterprise: for its representative's eyes."""
    standing = await _representative(session, runtime, principal, credit_code, now)
    return standing.enterprise, await repository.members(session, standing.enterprise.id)


async def end_membership(
    *,
    session: AsyncSession,
    principal: Principal,
    credit_code: str,
    member_id: uuid.UUID,
    now: dt.datetime,
) -> None:
    """The representative ends an employee's authorisation, or an employee steps down. Ending
    an ended one changes nothing. The representative's own standing ends with the registry."""
    if principal.act is not None:
        raise DelegateCannotActForEnterprise()
    account = await citizen_account(session=session, principal=principal)
    standing = await _standing(session, account=account, credit_code=credit_code, now=now)
    target = await repository.member(
        session, enterprise_id=standing.enterprise.id, member_id=member_id
    )
    is_representative = standing.member.role == "legal_representative"
    if target is None or not (is_representative or target.account_id == account.id):
        raise MemberNotFound()
    if target.role != "agent":
        raise RepresentativeRequired("the legal representative changes only at the registry")
    await repository.end_member(session, target.id, now=now)


async def exchange(
    *,
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    verifier: TokenVerifier,
    credit_code: str,
    actor_token: str,
    now: dt.datetime,
) -> DelegatedToken:
    """An access token acting for the enterprise, for its representative or an employee."""
    actor = await verified_actor(verifier, actor_token)
    account = await citizen_account(session=session, principal=actor)
    try:
        standing = await _standing(session, account=account, credit_code=credit_code, now=now)
    except EnterpriseNotFound as exc:
        raise NotEnterpriseMember() from exc
    member, enterprise = standing.member, standing.enterprise
    if member.role == "legal_representative":
        await _confirm_representative(runtime, http, account, enterprise, member, now=now)
    elif not await _granter_stands(session, runtime, http, enterprise, member, now=now):
        raise AuthorisationUnconfirmed()

    loa = min(actor.loa, effective_loa(account, now=now))
    iat = int(now.timestamp())
    ends = [iat + runtime.settings.delegated_token_ttl_seconds]
    if member.valid_until is not None:
        ends.append(int(member.valid_until.timestamp()))
    if loa == 3 and account.face_verified_until is not None:
        ends.append(int(account.face_verified_until.timestamp()))
    exp = min(ends)
    claims = base_claims(
        runtime, sub=enterprise.credit_code, typ="enterprise", loa=loa, iat=iat, exp=exp
    )
    claims["act"] = {"sub": str(account.id)}
    if actor.sid is not None:
        # The actor's session: ending it ends this token too (the revocation list).
        claims["sid"] = actor.sid
    claims["roles"] = [member.role]
    claims["region"] = enterprise.registered_region
    token = await runtime.keys.sign(claims, now=now)
    return DelegatedToken(access_token=token, expires_in=exp - iat, scope=None)


async def _granter_stands(
    session: AsyncSession,
    runtime: Runtime,
    http: httpx.AsyncClient,
    enterprise: Enterprise,
    agent: EnterpriseMember,
    *,
    now: dt.datetime,
) -> bool:
    """Whether the representative who authorised the agent still is the enterprise's: here,
    and at the registry."""
    if agent.granted_by is None:
        return False
    granter = await repository.membership(
        session, enterprise_id=enterprise.id, account_id=agent.granted_by, now=now
    )
    if granter is None or granter.role != "legal_representative":
        return False
    granter_account = await accounts.get(session, agent.granted_by)
    if granter_account is None:
        return False
    try:
        await _confirm_representative(runtime, http, granter_account, enterprise, granter, now=now)
    except RepresentationEnded:
        return False
    return True


def unconfirmed(members: Sequence[EnterpriseMember]) -> set[uuid.UUID]:
    """The agents among an enterprise's ``members`` whose authoriser stands no longer (a
    representative's standing has no date: it stands until ended)."""
    standing = {
        member.account_id
        for member in members
        if member.role == "legal_representative" and member.revoked_at is None
    }
    return {
        member.id
        for member in members
        if member.role == "agent" and member.granted_by not in standing
    }


async def confirm_agent(
    *,
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    credit_code: str,
    member_id: uuid.UUID,
    now: dt.datetime,
) -> EnterpriseMember:
    """The enterprise's representative takes over an employee's authorisation given by one
    who stands no longer (or renews one of their own): it stands on them from now."""
    standing = await _representative(session, runtime, principal, credit_code, now)
    target = await repository.member(
        session, enterprise_id=standing.enterprise.id, member_id=member_id
    )
    if target is None or target.role != "agent" or target.revoked_at is not None:
        raise MemberNotFound()
    target.granted_by = standing.member.account_id
    await repository.flush(session)
    return target


async def _confirm_representative(
    runtime: Runtime,
    http: httpx.AsyncClient,
    account: Account,
    enterprise: Enterprise,
    member: EnterpriseMember,
    *,
    now: dt.datetime,
) -> None:
    """Ask the registry again; a representative it no longer names stands no longer (recorded
    in a transaction of its own, since the refusal rolls the request's back)."""
    if account.id_number_sealed is None:
        raise RepresentationEnded()
    id_number = runtime.personal_data.unseal(
        "id_number", account.id_number_sealed, account_id=account.id
    )
    answer = await registry.representative_matches(
        http,
        token=await service_token(runtime, now=now),
        credit_code=enterprise.credit_code,
        id_number=id_number,
        purpose=REPRESENTATION_PURPOSE,
    )
    if not answer.match:
        async with runtime.outcomes.begin() as outcomes:
            await repository.end_member(outcomes, member.id, now=now)
        raise RepresentationEnded()
