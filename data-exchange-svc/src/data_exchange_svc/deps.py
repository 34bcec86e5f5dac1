"""data-exchange-svc's state and the dependencies endpoints read it through: the kit's parts
with settings typed as ``ExchangeSettings``, the identifier protector, the access checks held in
memory, the ledger's signer and appender, and the remote providers."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from data_exchange_svc.calls.service import AccessChecks
from data_exchange_svc.grants.cache import ActiveGrants
from data_exchange_svc.identifiers import IdentifierProtector
from data_exchange_svc.ledger.appender import LedgerAppender
from data_exchange_svc.ledger.signing import LedgerSigner
from data_exchange_svc.lifeevents.delivery import LifeEventOutboxes
from data_exchange_svc.lifeevents.publishing import Publication
from data_exchange_svc.remote.providers import RemoteProviders
from data_exchange_svc.resources.catalogue import Catalogue
from data_exchange_svc.resources.values import today_in_china
from data_exchange_svc.settings import ExchangeSettings
from servicekit.auth import Principal, principal_of
from servicekit.state import ServiceState, state_of


@dataclass(eq=False, kw_only=True)
class ExchangeState(ServiceState):
    settings: ExchangeSettings
    identifiers: IdentifierProtector
    #: What every call is checked by (catalogue snapshot, active grants, rate counters).
    access_checks: AccessChecks
    ledger_signer: LedgerSigner
    #: Appends every access attempt to the ledger, on an engine of its own.
    ledger: LedgerAppender
    remote_providers: RemoteProviders
    #: What a load's life events leave by (departments' pushes, the platform's events).
    life_events: LifeEventOutboxes


# Each alias reads the state itself rather than through StateDep: a dependency FastAPI resolves
# costs a request some 20 µs. Matches and calls, the busiest routes, take StateDep alone.


async def _state(request: Request) -> ExchangeState:
    return state_of(request, ExchangeState)


async def _settings(request: Request) -> ExchangeSettings:
    return state_of(request, ExchangeState).settings


async def _identifiers(request: Request) -> IdentifierProtector:
    return state_of(request, ExchangeState).identifiers


async def _catalogue(request: Request) -> Catalogue:
    return state_of(request, ExchangeState).access_checks.catalogue


async def _active_grants(request: Request) -> ActiveGrants:
    return state_of(request, ExchangeState).access_checks.active_grants


async def _ledger_signer(request: Request) -> LedgerSigner:
    return state_of(request, ExchangeState).ledger_signer


async def _ledger(request: Request) -> LedgerAppender:
    return state_of(request, ExchangeState).ledger


async def _publication(request: Request) -> Publication:
    state = state_of(request, ExchangeState)
    return Publication(
        deliveries=state.life_events.deliveries,
        platform=state.life_events.platform,
        active_grants=state.access_checks.active_grants,
        identity_service=state.settings.identity_service,
        today=today_in_china(),
    )


StateDep = Annotated[ExchangeState, Depends(_state)]
SettingsDep = Annotated[ExchangeSettings, Depends(_settings)]
IdentifiersDep = Annotated[IdentifierProtector, Depends(_identifiers)]
CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]
ActiveGrantsDep = Annotated[ActiveGrants, Depends(_active_grants)]
LedgerSignerDep = Annotated[LedgerSigner, Depends(_ledger_signer)]
LedgerDep = Annotated[LedgerAppender, Depends(_ledger)]
PublicationDep = Annotated[Publication, Depends(_publication)]


# Callers by kind, refused (403 wrong_principal_type) before a body is read.
#: Staff and department systems: the department planes (grants, record changes).
DepartmentCallerDep = Annotated[Principal, principal_of("staff", "department_system")]
#: Staff only: the decisions.
StaffDep = Annotated[Principal, principal_of("staff")]
#: A department's system alone: its life-event subscriptions.
DepartmentSystemDep = Annotated[Principal, principal_of("department_system")]
#: A provider's system (or a platform service acting for a department): loads.
ProviderSystemDep = Annotated[Principal, principal_of("department_system", "service")]
#: Whoever may read through the exchange: services, staff and department systems.
ConsumerDep = Annotated[Principal, principal_of("service", "staff", "department_system")]
#: A citizen: her consents and her access log.
CitizenDep = Annotated[Principal, principal_of("citizen")]
#: A platform service: identity-svc's links.
ServiceDep = Annotated[Principal, principal_of("service")]
