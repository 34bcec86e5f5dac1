"""Start the whole platform on one machine: migrate and seed each service, start the six
processes, wait until the gateway says every upstream is ready, and stop them all together.

Regional instances come on top when asked for (``RegionalInstance``): another process of a
service, with a database of its own, that the gateway routes one region's requests to (tier
routing), e.g. ``WENZHOU_CASE``: case-svc for Wenzhou (3303).

``make run`` uses it on the default ports with SQLite files under ``var/``; the end-to-end tests
and the benchmarks use it on free ports with databases of their own.

Every run makes the key its processes sign the gateway's word with (``FORWARDED_KEY``:
``servicekit.forwarding``), so that nothing outside the run can speak for the gateway; the
gateway is the edge and trusts no proxy unless ``trusted_proxies`` names some.

case-svc acts as itself too (the exchange's certificate reads, the outbox relay): the identity
seed registers its OAuth client (``IDENTITY_SEED_CLIENT_*``: ``case-svc``, type ``service``,
with the scopes its calls need: ``CASE_CLIENT_SCOPES``) with a secret made once per ``var_dir``
and kept there (``case-svc.client-secret``, readable by its owner alone), which every case-svc
process is given (``CASE_CLIENT_SECRET``). Kept, because the seed leaves a client that exists as
it is: a later run on the same databases must present the same secret (and a ``var_dir`` seeded
before clients were granted scopes keeps clients without them: ``make clean`` starts afresh).
With it, case-svc's relay posts ``case.completed`` to rating-svc and to the catalogue
(``CASE_EVENT_SUBSCRIBERS``), which take those events from that client alone
(``RATING_CASE_CLIENT_ID``, ``CATALOG_CASE_CLIENT_ID``). rating-svc's own client is registered
likewise (``IDENTITY_SEED_CLIENTS``, ``rating-svc.client-secret``, ``RATING_CLIENT_SECRET``),
with which its relay posts ratings and appeal decisions to the catalogue
(``RATING_EVENT_SUBSCRIBERS``): the items' live quality.

Two clients sign citizens in (OpenID Connect), seeded beside them: the platform's own app
(``APP_CLIENT_ID``, a first-party public client) and a demo department portal
(``PORTAL_CLIENT_ID``, authenticating by ``private_key_jwt``), whose private key is made once per
``var_dir`` and kept there (``portal-key.pem``, ``portal_private_key``), its public half in the
seed.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # the gateway's name for it, and its settings' service_name
    package: str
    directory: str
    env_prefix: str
    default_port: int
    has_database: bool = True
    has_seed: bool = False


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("identity", "identity_svc", "identity-svc", "IDENTITY_", 8001, has_seed=True),
    ServiceSpec("catalog", "catalog_svc", "catalog-svc", "CATALOG_", 8002, has_seed=True),
    ServiceSpec("case", "case_svc", "case-svc", "CASE_", 8003),
    ServiceSpec("rating", "rating_svc", "rating-svc", "RATING_", 8004),
    ServiceSpec(
        "exchange", "data_exchange_svc", "data-exchange-svc", "EXCHANGE_", 8005, has_seed=True
    ),
)
GATEWAY = ServiceSpec("gateway", "gateway", "gateway", "GATEWAY_", 8000, has_database=False)
#: The pages: the citizen's app and the staff workbench, which the gateway serves as two
#: services of one upstream (``WEB_PARTS``: their names in its routing table).
WEB = ServiceSpec("web", "onevisit_web", "web", "WEB_", 8006, has_database=False)
WEB_PARTS = ("app", "workbench")


@dataclass(frozen=True)
class RegionalInstance:
    """One more process of a service that serves a region's pool, with its own database."""

    name: str  # its process, port, log and database (and its settings' service_name)
    service: ServiceSpec
    region: str  # the pool's region code, e.g. "3303"
    default_port: int


#: case-svc for Wenzhou (3303): Wenzhou's cases are filed and kept there, every other in the
#: provincial case-svc.
WENZHOU_CASE = RegionalInstance(
    "case-wenzhou", next(spec for spec in SERVICES if spec.name == "case"), "3303", 8013
)


#: Where ``free_port`` looks: below Linux's ephemeral range (``ip_local_port_range``, from
#: 32768), which the kernel hands to outgoing connections. A port from that range can be taken
#: by any connection opened between choosing it and starting the server on it, the database
#: pool's among them; nothing takes a port below it unless asked to.
FREE_PORTS = range(20000, 32768)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on or connects from now, outside the
    ephemeral range."""
    for port in random.sample(FREE_PORTS, 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise PlatformError(f"no free port in {FREE_PORTS.start}-{FREE_PORTS.stop - 1}")


_DEVICES = itertools.count()


def device_address() -> str:
    """A loopback address (127.1.0.0/16, every one of them this host's) no client of this
    process had before: the address of another device."""
    number = next(_DEVICES)
    return f"127.1.{number // 254 % 256}.{number % 254 + 1}"


@dataclass
class PlatformConfig:
    var_dir: Path
    ports: dict[str, int]
    #: service name → database URL; a service not named gets a SQLite file in ``var_dir``.
    database_urls: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    #: More instances of services, each serving a region's pool.
    regional: tuple[RegionalInstance, ...] = ()
    #: Addresses or networks of load balancers in front of the gateway, whose
    #: ``X-Forwarded-For`` it believes (``GATEWAY_TRUSTED_PROXIES``); none: it is the edge.
    trusted_proxies: tuple[str, ...] = ()
    #: The key every process of this run shares to sign and check what the gateway vouches
    #: for (each one's ``<PREFIX>FORWARDED_KEY``): this run's own.
    forwarded_key: str = field(default_factory=lambda: base64.b64encode(os.urandom(32)).decode())

    @classmethod
    def defaults(
        cls, var_dir: Path, *, regional: tuple[RegionalInstance, ...] = ()
    ) -> PlatformConfig:
        ports = {spec.name: spec.default_port for spec in (*SERVICES, WEB, GATEWAY)}
        ports.update({instance.name: instance.default_port for instance in regional})
        return cls(var_dir=var_dir, ports=ports, regional=regional)

    @classmethod
    def on_free_ports(
        cls, var_dir: Path, *, regional: tuple[RegionalInstance, ...] = ()
    ) -> PlatformConfig:
        names = [spec.name for spec in (*SERVICES, WEB, GATEWAY)]
        names.extend(instance.name for instance in regional)
        return cls(var_dir=var_dir, ports={name: free_port() for name in names}, regional=regional)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway_url(self) -> str:
        return self.url("gateway")

    def database_url(self, name: str) -> str:
        """The database of a service or regional instance: the one named in ``database_urls``,
        else a SQLite file of its name in ``var_dir``."""
        default = f"sqlite+aiosqlite:///{self.var_dir / f'{name}.db'}"
        return self.database_urls.get(name, default)

    def env_for(
        self, spec: ServiceSpec, instance: RegionalInstance | None = None
    ) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not _is_service_setting(key)}
        # Let the processes cache their bytecode: it halves the start of a fresh process.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(self.extra_env)
        prefix = spec.env_prefix
        env[f"{prefix}VAR_DIR"] = str(self.var_dir)
        env[f"{prefix}GATEWAY_URL"] = self.gateway_url
        env[f"{prefix}LOG_LEVEL"] = self.log_level
        env[f"{prefix}FORWARDED_KEY"] = self.forwarded_key
        if instance is not None:
            env[f"{prefix}SERVICE_NAME"] = instance.name
        if spec.has_database:
            name = instance.name if instance is not None else spec.name
            env[f"{prefix}DATABASE_URL"] = self.database_url(name)
        if spec.name == "identity":
            # The exchange's client: the only one whose life events become offers.
            env.setdefault("IDENTITY_EXCHANGE_CLIENT_ID", EXCHANGE_CLIENT_ID)
            # case-svc's client, the single one the seed names (unless the caller names another).
            env.setdefault("IDENTITY_SEED_CLIENT_ID", CASE_CLIENT_ID)
            if env["IDENTITY_SEED_CLIENT_ID"] == CASE_CLIENT_ID:
                env["IDENTITY_SEED_CLIENT_SECRET"] = case_client_secret(self.var_dir)
                env["IDENTITY_SEED_CLIENT_NAME"] = "case-svc（平台服务）"
                env["IDENTITY_SEED_CLIENT_TYPE"] = "service"
                env["IDENTITY_SEED_CLIENT_SCOPES"] = " ".join(CASE_CLIENT_SCOPES)
            # Each other platform service's own client, beside it.
            env.setdefault(
                "IDENTITY_SEED_CLIENTS",
                json.dumps(
                    [
                        {
                            "id": RATING_CLIENT_ID,
                            "secret": rating_client_secret(self.var_dir),
                            "name": "rating-svc（平台服务）",
                            "type": "service",
                            "scopes": " ".join(RATING_CLIENT_SCOPES),
                        },
                        {
                            "id": EXCHANGE_CLIENT_ID,
                            "secret": exchange_client_secret(self.var_dir),
                            "name": "data-exchange-svc（平台服务）",
                            "type": "service",
                            "scopes": " ".join(EXCHANGE_CLIENT_SCOPES),
                        },
                        APP_CLIENT,
                        portal_client(self.var_dir),
                    ]
                ),
            )
        if spec.name == "rating":
            env.setdefault("RATING_CLIENT_ID", RATING_CLIENT_ID)
            env.setdefault("RATING_CLIENT_SECRET", rating_client_secret(self.var_dir))
            env.setdefault("RATING_EVENT_SUBSCRIBERS", json.dumps(RATING_EVENT_SUBSCRIBERS))
        if spec.name == "exchange":
            env.setdefault("EXCHANGE_CLIENT_ID", EXCHANGE_CLIENT_ID)
            env.setdefault("EXCHANGE_CLIENT_SECRET", exchange_client_secret(self.var_dir))
            env.setdefault("EXCHANGE_EVENT_SUBSCRIBERS", json.dumps(EXCHANGE_EVENT_SUBSCRIBERS))
            # Departments' endpoints on this one machine are plain http.
            env.setdefault("EXCHANGE_SUBSCRIPTION_HTTP_ALLOWED", "true")
        if spec.name == "case":
            env.setdefault("CASE_CLIENT_ID", CASE_CLIENT_ID)
            env.setdefault("CASE_CLIENT_SECRET", case_client_secret(self.var_dir))
            env.setdefault("CASE_EVENT_SUBSCRIBERS", json.dumps(CASE_EVENT_SUBSCRIBERS))
        if spec is WEB:
            # The demo capture of a synthetic person stands in for the phone's camera.
            env.setdefault(
                "WEB_DEMO_FACE_CAPTURE",
                str(REPO_ROOT / "data-exchange-svc" / "data" / "demo_face_capture.json"),
            )
        if spec is GATEWAY:
            upstreams = {service.name: self.url(service.name) for service in SERVICES}
            upstreams.update({part: self.url(WEB.name) for part in WEB_PARTS})
            env["GATEWAY_UPSTREAMS"] = json.dumps(upstreams)
            env["GATEWAY_TRUSTED_PROXIES"] = json.dumps(list(self.trusted_proxies))
            pools: dict[str, dict[str, list[str]]] = {}
            for regional in self.regional:
                pools.setdefault(regional.service.name, {})[regional.region] = [
                    self.url(regional.name)
                ]
            if pools:
                env["GATEWAY_POOLS"] = json.dumps(pools)
        return env


#: Who case-svc tells what (``CASE_EVENT_SUBSCRIBERS``): completed cases become invitations to
#: rate in rating-svc, and count in their item's live quality in the catalogue; every case's
#: filing, steps and completion reach its applicant's inbox (identity-svc).
CASE_EVENT_SUBSCRIBERS = {
    "case.submitted": ["/identity/v1/events"],
    "case.status_changed": ["/identity/v1/events"],
    "case.completed": ["/ratings/v1/events", "/catalog/v1/events", "/identity/v1/events"],
}

#: Who rating-svc tells what (``RATING_EVENT_SUBSCRIBERS``): first ratings and appeal decisions
#: move their item's live quality in the catalogue.
RATING_EVENT_SUBSCRIBERS = {
    "rating.created": ["/catalog/v1/events"],
    "appeal.decided": ["/catalog/v1/events"],
    # The department answered her bad review: her inbox tells her to rate the result.
    "rectification.reported": ["/identity/v1/events"],
}

#: Who the exchange tells of life events and accesses (``EXCHANGE_EVENT_SUBSCRIBERS``), with
#: ids only: a birth reaches the parents' inboxes as an offer to confirm the birth bundle, a
#: death the inbox of the relative who reported it (the one place to settle what follows), an
#: identity card coming due its holder's (an offer to renew it), the retirement age reached
#: hers (an offer to apply for retirement), and every access to a
#: citizen's data her inbox, as a notice.
EXCHANGE_EVENT_SUBSCRIBERS = {
    "life.birth_registered": ["/identity/v1/events"],
    "life.death_registered": ["/identity/v1/events"],
    "life.id_card_expiring": ["/identity/v1/events"],
    "life.retirement_age_reached": ["/identity/v1/events"],
    "data.accessed": ["/identity/v1/events"],
}

#: case-svc's OAuth client, which the identity seed registers for the run.
CASE_CLIENT_ID = "case-svc"
#: What it is granted: reading certificates and pre-filling drafts at the exchange
#: (``POST /exchange/v1/calls``), and delivering its events.
CASE_CLIENT_SCOPES = ("exchange:calls", "events:deliver")
CASE_CLIENT_SECRET_FILE = "case-svc.client-secret"


#: rating-svc's OAuth client (its outbox relay), which the identity seed registers beside
#: case-svc's (``IDENTITY_SEED_CLIENTS``).
RATING_CLIENT_ID = "rating-svc"
#: What it is granted: delivering its events.
RATING_CLIENT_SCOPES = ("events:deliver",)


#: data-exchange-svc's OAuth client, registered likewise: its relay posts life events to
#: identity-svc's inbox, which takes them from that client alone (``IDENTITY_EXCHANGE_CLIENT_ID``).
EXCHANGE_CLIENT_ID = "data-exchange-svc"
#: What it is granted: delivering its events.
EXCHANGE_CLIENT_SCOPES = ("events:deliver",)


#: The platform's own app: a public client (it keeps no secret, RFC 8252), first-party (no
#: consent asked), back by its private-use scheme, or on the loopback interface in development.
APP_CLIENT_ID = "onevisit-app"
APP_REDIRECT_URIS = ("cn.gov.onevisit.app:/oauth2redirect", "http://127.0.0.1/oauth2redirect")
APP_CLIENT = {
    "id": APP_CLIENT_ID,
    "name": "一次办 App",
    "type": "app",
    "auth_method": "none",
    "first_party": True,
    "redirect_uris": list(APP_REDIRECT_URIS),
}

#: A demo department portal that signs citizens in (the README's): Lucheng's public security
#: bureau, authenticating with a key of its own (``portal_private_key``), no scope of its own.
PORTAL_CLIENT_ID = "ds-330302-public-security-portal"
PORTAL_DEPT = "330302-public_security"
PORTAL_REDIRECT_URI = "http://127.0.0.1:8765/callback"
PORTAL_POST_LOGOUT_REDIRECT_URI = "http://127.0.0.1:8765/"
PORTAL_KEY_FILE = "portal-key.pem"


def portal_client(var_dir: Path) -> dict[str, object]:
    """The demo portal's seeded client: its public key from ``portal_private_key``."""
    return {
        "id": PORTAL_CLIENT_ID,
        "name": "鹿城区公安分局网上办事大厅（演示）",
        "type": "department_system",
        "dept": PORTAL_DEPT,
        "scopes": "",
        "auth_method": "private_key_jwt",
        "jwks": {"keys": [portal_public_jwk(var_dir)]},
        "redirect_uris": [PORTAL_REDIRECT_URI],
        "post_logout_redirect_uris": [PORTAL_POST_LOGOUT_REDIRECT_URI],
    }


def portal_private_key(var_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The demo portal's EC P-256 private key for the databases under ``var_dir``: made on
    first use, kept (PEM) in ``portal-key.pem`` there, which only its owner may read. Kept,
    because the seed leaves a client that exists as it is: a later run on the same databases
    must sign with the key it registered."""
    path = var_dir / PORTAL_KEY_FILE
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process of the run made it first: its key is the run's
        else:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} holds no EC private key")
    return key


def portal_public_jwk(var_dir: Path) -> dict[str, str]:
    """The public half of ``portal_private_key`` as a JWK, its ``kid`` the RFC 7638
    thumbprint (what a portal signing with it names in its assertions' header)."""
    numbers = portal_private_key(var_dir).public_key().public_numbers()
    members = {
        "crv": "P-256",
        "kty": "EC",
        "x": _base64url(numbers.x.to_bytes(32, "big")),
        "y": _base64url(numbers.y.to_bytes(32, "big")),
    }
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return {**members, "kid": _base64url(hashlib.sha256(canonical).digest()), "alg": "ES256"}


def _base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def case_client_secret(var_dir: Path) -> str:
    """case-svc's client secret for the databases under ``var_dir``: made on first use, kept
    in a file only its owner may read."""
    return client_secret(var_dir, CASE_CLIENT_SECRET_FILE)


def rating_client_secret(var_dir: Path) -> str:
    """rating-svc's client secret for the databases under ``var_dir``, kept likewise."""
    return client_secret(var_dir, f"{RATING_CLIENT_ID}.client-secret")


def exchange_client_secret(var_dir: Path) -> str:
    """data-exchange-svc's client secret for the databases under ``var_dir``, kept likewise."""
    return client_secret(var_dir, f"{EXCHANGE_CLIENT_ID}.client-secret")


def client_secret(var_dir: Path, file_name: str) -> str:
    """A service's client secret for the databases under ``var_dir``: made on first use, kept
    in ``file_name`` there, which only its owner may read."""
    path = var_dir / file_name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process of the run made it first: its secret is the run's.
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(secret)
    return secret


def _is_service_setting(key: str) -> bool:
    # The caller's own service settings must not leak into the processes this run configures.
    return any(key.startswith(spec.env_prefix) for spec in (*SERVICES, WEB, GATEWAY))


def prepare(config: PlatformConfig) -> None:
    """Migrate every service's database to head and load its reference data, in parallel."""
    config.var_dir.mkdir(parents=True, exist_ok=True)
    logs = config.var_dir / "log"
    logs.mkdir(exist_ok=True)
    running: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    instances: list[tuple[ServiceSpec, RegionalInstance | None]] = [
        *((spec, None) for spec in SERVICES),
        *((regional.service, regional) for regional in config.regional),
    ]
    for spec, instance in instances:
        name = instance.name if instance is not None else spec.name
        log = logs / f"{name}.prepare.log"
        log.write_bytes(b"")
        steps = [f"{sys.executable} -m alembic -c {spec.directory}/alembic.ini upgrade head"]
        if spec.has_seed:
            steps.append(f"{sys.executable} -m {spec.package}.seed")
        script = " && ".join(steps)
        out = log.open("ab")
        process = subprocess.Popen(
            ["/bin/sh", "-c", script],
            env=config.env_for(spec, instance),
            cwd=REPO_ROOT,
            stdout=out,
            stderr=out,
        )
        out.close()
        running.append((name, process, log))
    failures = []
    for name, process, log in running:
        if process.wait() != 0:
            failures.append(f"{name}: migrate/seed failed; see {log}\n{_tail(log)}")
    if failures:
        raise PlatformError("\n".join(failures))


class PlatformError(RuntimeError):
    pass


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Platform:
    config: PlatformConfig
    processes: dict[str, subprocess.Popen[bytes]]

    def log_of(self, name: str) -> Path:
        return self.config.var_dir / "log" / f"{name}.log"

    def client(self, address: str | None = None, *, timeout: float = 30.0) -> httpx.Client:
        """A client of the gateway from ``address``, by default a loopback address of its own:
        a device of its own, with its own per-address rate limits and sign-in counts, as the
        platform's users have (a run's tests would otherwise all be one very busy caller).
        The caller closes it."""
        transport = httpx.HTTPTransport(local_address=address or device_address())
        return httpx.Client(base_url=self.config.gateway_url, transport=transport, timeout=timeout)

    def pid_of(self, name: str) -> int:
        return self.processes[name].pid

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise PlatformError(
                    f"{name} exited with {process.returncode}\n{_tail(self.log_of(name))}"
                )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _command(spec: ServiceSpec, port: int) -> list[str]:
    address = ["--host", "127.0.0.1", "--port", str(port)]
    if spec is GATEWAY:
        return [sys.executable, "-m", "gateway", *address]
    app = [f"{spec.package}.main:create_app", "--factory"]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        *app,
        *address,
        # uvicorn would otherwise take X-Forwarded-For from a loopback peer as the client's
        # address: a service believes the gateway's signed word alone (servicekit.forwarding).
        "--no-proxy-headers",
        "--no-access-log",
        # Nothing names the server it runs on: no banner for a scanner to match.
        "--no-server-header",
        "--log-level",
        "warning",
    ]


def _spawn(
    config: PlatformConfig, spec: ServiceSpec, instance: RegionalInstance | None = None
) -> subprocess.Popen[bytes]:
    name = instance.name if instance is not None else spec.name
    log = config.var_dir / "log" / f"{name}.log"
    out = log.open("ab")
    try:
        return subprocess.Popen(
            _command(spec, config.ports[name]),
            env=config.env_for(spec, instance),
            cwd=REPO_ROOT,
            stdout=out,
            stderr=out,
            # Its own session: Ctrl-C reaches the launcher alone, which stops them in order.
            start_new_session=True,
        )
    finally:
        out.close()


def wait_until_ready(platform: Platform, timeout_seconds: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    last = "no answer yet"
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            platform.check_alive()
            try:
                response = client.get(f"{platform.config.gateway_url}/readyz")
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.2)
    raise PlatformError(f"the platform was not ready within {timeout_seconds:.0f} s: {last}")


@contextmanager
def running_platform(config: PlatformConfig, *, prepared: bool = False) -> Iterator[Platform]:
    """Migrate and seed (unless ``prepared``), start all six and the regional instances, wait
    for readiness; stop on exit."""
    if not prepared:
        prepare(config)
    (config.var_dir / "log").mkdir(parents=True, exist_ok=True)
    platform = Platform(config=config, processes={})
    try:
        for spec in SERVICES:
            platform.processes[spec.name] = _spawn(config, spec)
        for instance in config.regional:
            platform.processes[instance.name] = _spawn(config, instance.service, instance)
        platform.processes[WEB.name] = _spawn(config, WEB)
        platform.processes[GATEWAY.name] = _spawn(config, GATEWAY)
        wait_until_ready(platform)
        yield platform
    finally:
        platform.stop()
