"""Callers of every kind the platform serves, made through its public API alone, as the app, the
staff workbench and the departments' systems make them: a citizen at each level of assurance, a
delegate acting for her, an enterprise, staff of a department in each role, staff of other
departments, a department system and an internal service.

The end-to-end tests use them to call every operation as every kind of caller (the gateway's
authorisation matrix). A caller's token is made again once it is a few minutes old
(``Caller.headers``): delegated tokens live five minutes, a face match ten.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from onevisit_dev import answers
from onevisit_dev.answers import send

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: Department-tier and platform-tier roles a department's staff hold, one account each.
STAFF_ROLES = (
    "handler",
    "supervisor",
    "catalog_admin",
    "data_steward",
    "department_admin",
    "platform_admin",
)
#: The roles that act for a department (every role but the platform's own administrator):
#: staff of another department get all of them at once, so that a refusal is the department's
#: doing, never the role's.
DEPARTMENT_ROLES = STAFF_ROLES[:-1]


class CallerSetupError(RuntimeError):
    """The platform refused a step of making a caller."""


@dataclass(frozen=True)
class Person:
    """Someone of the synthetic population registry, who proves to be them."""

    name: str
    id_number: str
    #: What the phone captures of their face (the registry's template will do).
    face_template: Sequence[float]


@dataclass
class Caller:
    """One kind of caller: ``token`` None for the anonymous one. ``renew`` makes a new token of
    the same kind (for a person or staff: a new sign-in session)."""

    kind: str
    token: str | None
    renew: Callable[[], str] | None = field(default=None, repr=False)
    issued_at: float = field(default_factory=time.monotonic)

    def headers(self, *, max_age_seconds: float = 120.0) -> dict[str, str]:
        """The ``Authorization`` header, with a token renewed once it is ``max_age_seconds``
        old (the shortest tokens, delegated ones, live 300 s)."""
        if self.token is None:
            return {}
        if self.renew is not None and time.monotonic() - self.issued_at > max_age_seconds:
            self.token, self.issued_at = self.renew(), time.monotonic()
        return {"Authorization": f"Bearer {self.token}"}


def _expect(response: httpx.Response, status: int, step: str) -> dict[str, Any]:
    if response.status_code != status:
        raise CallerSetupError(f"{step}: {response.status_code} {response.text}")
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_phone(prefix: str = "135") -> str:
    return prefix + "".join(secrets.choice("0123456789") for _ in range(8))


def _token(gateway: httpx.Client, form: Mapping[str, str], step: str) -> str:
    granted = _expect(send(gateway, "POST", "/identity/v1/token", data=dict(form)), 200, step)
    token: str = granted["access_token"]
    return token


@dataclass
class Citizen:
    """A registered citizen: her phone and password, and her account id once known."""

    phone: str
    password: str
    account_id: str = ""

    def sign_in(self, gateway: httpx.Client) -> str:
        form = {"grant_type": "password", "username": self.phone, "password": self.password}
        return _token(gateway, form, f"sign-in of {self.phone[:3]}…")


def register_citizen(gateway: httpx.Client, var_dir: Path) -> Citizen:
    """A new citizen, registered with the code texted to her phone (read in the platform's
    ``var_dir``, where its development SMS sender writes)."""
    citizen = Citizen(phone=new_phone(), password=f"Matrix-{secrets.token_hex(6)}")
    account = answers.register_citizen(gateway, var_dir, citizen.phone, citizen.password)
    citizen.account_id = str(account["id"])
    return citizen


def claim_real_name(gateway: httpx.Client, token: str, person: Person) -> None:
    """Her name and ID number, matched against the population registry: a claim, which her
    face match then binds."""
    claimed = send(
        gateway,
        "POST",
        "/identity/v1/me/real-name",
        json={"name": person.name, "id_number": person.id_number},
        headers=_bearer(token),
    )
    _expect(claimed, 200, "real-name claim")


def verify_face(gateway: httpx.Client, token: str, person: Person) -> str:
    """Level 3 for a while: a challenge, then the face the phone captured."""
    challenge = send(gateway, "POST", "/identity/v1/me/face/challenges", headers=_bearer(token))
    challenge_id = _expect(challenge, 201, "face challenge")["challenge_id"]
    verified = send(
        gateway,
        "POST",
        "/identity/v1/me/face/verifications",
        json={"challenge_id": challenge_id, "template": list(person.face_template)},
        headers=_bearer(token),
    )
    access: str = _expect(verified, 200, "face verification")["access_token"]
    return access


def face_verified_citizen(
    gateway: httpx.Client, var_dir: Path, person: Person
) -> tuple[Citizen, str]:
    """A new citizen whose real name is ``person``'s, bound by her face match: the citizen and
    her token of level 3."""
    citizen = register_citizen(gateway, var_dir)
    token = citizen.sign_in(gateway)
    claim_real_name(gateway, token, person)
    return citizen, verify_face(gateway, token, person)


def exchange(gateway: httpx.Client, subject: str, actor_token: str) -> str:
    """A token for ``subject`` (a delegation id, or an enterprise's credit code) acting as the
    actor (RFC 8693)."""
    form = {"grant_type": TOKEN_EXCHANGE, "subject": subject, "actor_token": actor_token}
    return _token(gateway, form, f"token exchange for {subject}")


def create_staff(
    gateway: httpx.Client, admin_token: str, dept: str, roles: Sequence[str]
) -> Citizen:
    """A staff account (phone and password, as a citizen's) made by an administrator."""
    staff = Citizen(phone=new_phone("137"), password=f"Staff-{secrets.token_hex(6)}")
    created = send(
        gateway,
        "POST",
        "/identity/v1/staff",
        json={"phone": staff.phone, "password": staff.password, "dept": dept, "roles": [*roles]},
        headers=_bearer(admin_token),
    )
    staff.account_id = str(_expect(created, 201, f"staff {dept} {roles}")["id"])
    return staff


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str

    def token(self, gateway: httpx.Client) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        return _token(gateway, form, f"client credentials of {self.client_id}")


#: What a department's system is granted to do its work: its cases, and the exchange.
DEPARTMENT_SYSTEM_SCOPES = (
    "cases:read",
    "cases:write",
    "exchange:calls",
    "exchange:matches",
    "exchange:loads",
    "exchange:grants",
)
#: What an internal service (not one of the platform's own) is granted: every scope a route
#: requires, so that its type, grants and jurisdiction decide what it may do.
SERVICE_SCOPES = (*DEPARTMENT_SYSTEM_SCOPES, "events:deliver")


def register_client(
    gateway: httpx.Client,
    admin_token: str,
    *,
    typ: str,
    name: str,
    dept: str | None = None,
    scopes: Sequence[str] | None = None,
) -> Client:
    """A client registered by ``admin_token``'s administrator; ``scopes`` unnamed, what its
    type's work needs (``DEPARTMENT_SYSTEM_SCOPES``, ``SERVICE_SCOPES``)."""
    if scopes is None:
        scopes = DEPARTMENT_SYSTEM_SCOPES if typ == "department_system" else SERVICE_SCOPES
    body: dict[str, Any] = {"name": name, "typ": typ, "scopes": list(scopes)}
    if dept is not None:
        body["dept"] = dept
    registered = send(
        gateway, "POST", "/identity/v1/clients", json=body, headers=_bearer(admin_token)
    )
    client = _expect(registered, 201, f"client {typ} {dept}")
    return Client(client["client_id"], client["client_secret"])


@dataclass
class Cast:
    """Every kind of caller, by kind, and the accounts behind them."""

    callers: dict[str, Caller]
    #: The accounts that sign in with a password (citizens and staff), by kind of caller.
    accounts: dict[str, Citizen]
    #: The level-3 citizen's delegation to the level-2 one, for every service.
    delegation_id: str
    enterprise: str
    department: str
    department_system: Client
    service: Client


def make_cast(
    gateway: httpx.Client,
    *,
    var_dir: Path,
    platform_admin: str,
    department: str,
    other_departments: Mapping[str, str],
    loa3: Person,
    loa2: Person,
    enterprise: str,
    end_face_window: Callable[[str], None],
    delegated_items: Sequence[str] = (),
) -> Cast:
    """The callers of ``department``'s world: its staff in each role, its system, the staff of
    each of ``other_departments`` (kind → department, every department role at once), the
    citizens (``loa3`` delegates to ``loa2`` for ``delegated_items``, none named: every
    service; ``loa2`` is the legal representative of ``enterprise``; each registered with the
    code texted to her phone, read in the platform's ``var_dir``), an internal service and the
    anonymous caller.
    ``end_face_window`` closes an account's window of level 3 (the time passing), so that the
    level-2 citizen, bound by her face match, signs in at level 2."""
    callers: dict[str, Caller] = {"anonymous": Caller("anonymous", None)}
    accounts: dict[str, Citizen] = {}

    def person_at(level: int, person: Person | None) -> tuple[Citizen, Callable[[], str]]:
        citizen = register_citizen(gateway, var_dir)
        token = citizen.sign_in(gateway)
        if person is not None:
            claim_real_name(gateway, token, person)
            token = verify_face(gateway, token, person)
        if person is not None and level == 3:

            def renew() -> str:
                # A sign-in keeps level 3 while the face match's window is open; past it, the
                # face is checked again.
                again = citizen.sign_in(gateway)
                return verify_face(gateway, again, person)

        else:
            if person is not None:
                # Bound by her face; the window of level 3 over, she signs in at level 2.
                end_face_window(citizen.account_id)
                token = citizen.sign_in(gateway)

            def renew() -> str:
                return citizen.sign_in(gateway)

        kind = f"citizen_loa{level}"
        callers[kind], accounts[kind] = Caller(kind, token, renew), citizen
        return citizen, renew

    person_at(1, None)
    loa2_citizen, loa2_token = person_at(2, loa2)
    person_at(3, loa3)

    valid_until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    delegated = send(
        gateway,
        "POST",
        "/identity/v1/me/delegations",
        json={
            "delegate_phone": loa2_citizen.phone,
            "valid_until": valid_until,
            **({"item_codes": list(delegated_items)} if delegated_items else {}),
        },
        headers={
            **_bearer(callers["citizen_loa3"].token or ""),
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    delegation_id = str(_expect(delegated, 201, "delegation")["id"])

    def as_delegate() -> str:
        return exchange(gateway, delegation_id, loa2_token())

    callers["delegate"] = Caller("delegate", as_delegate(), as_delegate)

    claimed = send(
        gateway,
        "POST",
        "/identity/v1/enterprises",
        json={"credit_code": enterprise},
        headers=_bearer(callers["citizen_loa2"].token or ""),
    )
    _expect(claimed, 201, "enterprise claim")

    def as_enterprise() -> str:
        return exchange(gateway, enterprise, loa2_token())

    callers["enterprise"] = Caller("enterprise", as_enterprise(), as_enterprise)

    staff = [(role, department, [role]) for role in STAFF_ROLES]
    staff += [(kind, other, list(DEPARTMENT_ROLES)) for kind, other in other_departments.items()]
    for kind, dept, roles in staff:
        accounts[kind] = member = create_staff(gateway, platform_admin, dept, roles)
        callers[kind] = Caller(kind, member.sign_in(gateway), _signs_in(gateway, member))

    department_admin = callers["department_admin"].token or ""
    system = register_client(
        gateway,
        department_admin,
        typ="department_system",
        name="业务系统（合成数据）",
        dept=department,
    )
    callers["department_system"] = Caller(
        "department_system", system.token(gateway), _client_token(gateway, system)
    )
    # Another system of the bureau, whose client was granted no more than the catalogue (public
    # anyway): refused wherever an operation requires a scope.
    unscoped = register_client(
        gateway,
        department_admin,
        typ="department_system",
        name="目录查询系统（合成数据）",
        dept=department,
        scopes=("catalog:read",),
    )
    callers["department_system_unscoped"] = Caller(
        "department_system_unscoped", unscoped.token(gateway), _client_token(gateway, unscoped)
    )
    service = register_client(gateway, platform_admin, typ="service", name="内部服务（合成数据）")
    callers["service"] = Caller("service", service.token(gateway), _client_token(gateway, service))

    return Cast(
        callers=callers,
        accounts=accounts,
        delegation_id=delegation_id,
        enterprise=enterprise,
        department=department,
        department_system=system,
        service=service,
    )


def _signs_in(gateway: httpx.Client, account: Citizen) -> Callable[[], str]:
    return lambda: account.sign_in(gateway)


def _client_token(gateway: httpx.Client, client: Client) -> Callable[[], str]:
    return lambda: client.token(gateway)
