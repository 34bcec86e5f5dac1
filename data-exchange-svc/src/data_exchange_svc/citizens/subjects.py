"""Which registry subject a citizen token belongs to.

Access tokens name the account (``sub``), not the identity number. identity-svc, which bound
the number to the account when the citizen's face matched this registry's template of it, tells
the exchange which subject the account is (``PUT /exchange/v1/citizen-links/{account}``, under
its own service token, the number travelling service to service as it does for the match
itself). The citizen asserts nothing: nobody who merely knows another's name and number can
read their access log. identity-svc binds one number to one account, so a link names one
subject for one account; a newer link from identity-svc replaces an older one (her face matched
on another account: it takes her real name over).
"""

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.citizens import repository
from data_exchange_svc.identifiers import (
    IdentifierProtector,
    InvalidSubject,
    SubjectNotFound,
    parse_id_number,
)
from data_exchange_svc.models import CitizenSubject
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.resources.values import today_in_china
from servicekit.auth import Principal, require_assurance, require_type
from servicekit.problems import Forbidden, NotFound
from servicekit.resident_id import InvalidResidentId


class DelegateNotAllowed(Forbidden):
    code = "delegate_not_allowed"
    title = "Only the citizen herself does this: a delegate cannot give her consent for her"


class NotTheIdentityService(Forbidden):
    code = "not_the_identity_service"
    title = "Only identity-svc tells which registry subject an account is"


class SubjectNotLinked(NotFound):
    code = "subject_not_linked"
    title = "The account is not linked to the registry: its real-name verification does that"


def require_citizen(principal: Principal) -> None:
    require_type(principal, "citizen")
    require_assurance(principal, 2)
    if principal.act is not None:
        raise DelegateNotAllowed()


async def link_from_identity(
    session: AsyncSession,
    principal: Principal,
    *,
    account: str,
    id_number: str,
    protector: IdentifierProtector,
    identity_service: str,
) -> CitizenSubject:
    """Record (or confirm) that the account is this registry subject; only identity-svc says
    so. Idempotent; a link naming another subject or account replaces the older one."""
    require_type(principal, "service")
    if principal.sub != identity_service:
        raise NotTheIdentityService()
    try:
        parse_id_number(id_number, today=today_in_china())
    except InvalidResidentId as exc:
        raise InvalidSubject(str(exc), reason=exc.reason) from exc
    subject_hash = protector.lookup_hash(id_number)
    if await registry_repository.get_by_hash(session, subject_hash) is None:
        raise SubjectNotFound()
    existing = await repository.link_of_account(session, account)
    if existing is not None and existing.subject_hash == subject_hash:
        return existing
    await repository.remove_links(session, account=account, subject_hash=subject_hash)
    linked = CitizenSubject(account=account, subject_hash=subject_hash)
    await repository.add_link(session, linked)
    return linked


async def subject_of(session: AsyncSession, principal: Principal) -> str:
    """The subject hash the citizen's account is linked to."""
    require_citizen(principal)
    linked = await repository.link_of_account(session, principal.sub)
    if linked is None:
        raise SubjectNotLinked()
    return linked.subject_hash
