"""Which registry subject a citizen token belongs to.

Access tokens name the account (``sub``), not the identity number, and identity-svc issues no
claim carrying it. So the citizen links her account once, naming her identity number and name:
the exchange accepts the link only if the population registry holds that pair *and* registers
the person in the region the token states (identity-svc sets ``region`` from this registry at
the real-name check, loa ≥ 2). The link is then fixed: one account, one subject; one subject,
one account. A second account of the same person is refused rather than silently allowed.

What this cannot rule out: somebody who knows another person's name and identity number and
lives in the same village could link first. The honest fix needs identity-svc to put a claim in
the token — a keyed subject hash (or an opaque pairwise subject id) taken from the real-name
check — after which this module reads the claim and the link step goes away.
"""

from sqlalchemy.ext.asyncio import AsyncSession

from data_exchange_svc.citizens import repository
from data_exchange_svc.identifiers import IdentifierProtector, parse_id_number
from data_exchange_svc.models import CitizenSubject
from data_exchange_svc.registry import repository as registry_repository
from data_exchange_svc.resources.spec import POPULATION
from data_exchange_svc.resources.values import claim_holds, today_in_china
from servicekit.auth import Principal, require_assurance, require_type
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound
from servicekit.resident_id import InvalidResidentId


class DelegateNotAllowed(Forbidden):
    code = "delegate_not_allowed"
    title = "Only the citizen herself links her identity and gives consent"


class InvalidIdNumber(DomainError):
    status = 422
    code = "invalid_subject"
    title = "The identity number is not valid"


class SubjectMismatch(Forbidden):
    code = "subject_mismatch"
    title = "The registry does not confirm this identity for this account"


class AccountAlreadyLinked(Conflict):
    code = "account_linked_to_another_subject"
    title = "This account is already linked to another identity number"


class SubjectAlreadyLinked(Conflict):
    code = "subject_linked_to_another_account"
    title = "This identity number is already linked to another account"


class SubjectNotLinked(NotFound):
    code = "subject_not_linked"
    title = "Link the account to its identity number first (PUT /exchange/v1/me/subject)"


def require_citizen(principal: Principal) -> None:
    require_type(principal, "citizen")
    require_assurance(principal, 2)
    if principal.act is not None:
        raise DelegateNotAllowed()


async def link(
    session: AsyncSession,
    principal: Principal,
    *,
    id_number: str,
    name: str,
    protector: IdentifierProtector,
) -> CitizenSubject:
    """Link (or confirm the link of) the account to the subject; idempotent."""
    require_citizen(principal)
    try:
        parse_id_number(id_number, today=today_in_china())
    except InvalidResidentId as exc:
        raise InvalidIdNumber(str(exc), reason=exc.reason) from exc
    subject_hash = protector.lookup_hash(id_number)
    record = await registry_repository.get_by_hash(session, subject_hash)
    # One refusal for every failed check: the answer must not tell a stranger which part failed.
    if (
        record is None
        or principal.region is None
        or record.registered_region != principal.region
        or not claim_holds(POPULATION.field("name"), record.name, name)
    ):
        raise SubjectMismatch()
    existing = await repository.link_of_account(session, principal.sub)
    if existing is not None:
        if existing.subject_hash != subject_hash:
            raise AccountAlreadyLinked()
        return existing
    if await repository.link_of_subject(session, subject_hash) is not None:
        raise SubjectAlreadyLinked()
    linked = CitizenSubject(account=principal.sub, subject_hash=subject_hash)
    if not await repository.add_link(session, linked):
        raise SubjectAlreadyLinked()
    return linked


async def subject_of(session: AsyncSession, principal: Principal) -> str:
    """The subject hash the citizen's account is linked to."""
    require_citizen(principal)
    linked = await repository.link_of_account(session, principal.sub)
    if linked is None:
        raise SubjectNotLinked()
    return linked.subject_hash
