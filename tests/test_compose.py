"""No Docker engine runs here, so the compose file is checked against the code: it parses,
and the services, ports, commands and variables it names are the ones the code has; and each
process, given the environment compose would give it from a freshly generated secrets file
(``python -m onevisit_dev.secrets``), loads its settings in production mode."""

import datetime as dt
import importlib.util
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from dotenv import dotenv_values
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from case_svc.settings import CaseSettings
from onevisit_dev.platform import GATEWAY, SERVICES, WEB, WEB_PARTS, WENZHOU_CASE
from onevisit_dev.secrets import (
    CONTAINERS,
    POSTGRES,
    SHARED_KEYS,
    Container,
    Secret,
    container_keys,
    settings_class,
    write_secrets,
)
from onevisit_dev.secrets import main as generate_secrets
from onevisit_web.settings import WebSettings
from servicekit.settings import SecretKey, development_key

REPO = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
APPS = {spec.name: spec for spec in (*SERVICES, WEB, GATEWAY)}
#: Containers of another service's image: each regional instance, by the service it runs.
REGIONAL = {WENZHOU_CASE.name: WENZHOU_CASE.service}
POSTGRES_INIT = REPO / "deploy/postgres-init.sh"
#: The services of the ``observability`` profile.
OBSERVABILITY = {"prometheus", "grafana", "otel-collector", "jaeger"}
#: Secrets a service of the profile reads besides the processes the generator names: the
#: gateway's metrics token, which Prometheus sends for its /metrics.
OBSERVABILITY_READERS = {"ONEVISIT_METRICS_TOKEN": ("prometheus",)}

#: Compose's interpolation in the two forms the file uses: ``${NAME:?message}``, refused when
#: NAME is unset or empty, and ``${NAME:-default}``.
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?P<operator>:[?-])(?P<argument>[^}]*)\}")
#: What only the operator has (the generator leaves it empty), as an operator fills it in.
OPERATOR_VALUES = {
    "ONEVISIT_SMS_ENDPOINT": "https://sms.example.gov.cn/v1/messages",
    "ONEVISIT_SMS_API_KEY": "the-sms-gateways-own-key",
}


def database_name(container: str) -> str:
    return container.replace("-", "_")


class MissingVariable(LookupError):
    pass


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        found = variables.get(match["name"], "")
        if found:
            return found
        if match["operator"] == ":?":
            raise MissingVariable(match["name"])
        return match["argument"]

    return INTERPOLATION.sub(value, text)


def environment_of(container: str, variables: Mapping[str, str]) -> dict[str, str]:
    """The environment compose gives ``container`` with ``variables`` (its ``--env-file``)."""
    environment: dict[str, Any] = COMPOSE["services"][container]["environment"]
    return {name: interpolate(str(value), variables) for name, value in environment.items()}


def required_variable(value: str) -> str:
    """The variable ``value`` is, as a whole: ``${NAME:?...}``, required, with no default."""
    match = INTERPOLATION.fullmatch(value)
    assert match, f"{value!r} is not a variable of the secrets file"
    assert match["operator"] == ":?", f"{value!r} has a default"
    return match["name"]


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def holds_secret(annotation: object) -> bool:
    """Whether a setting's type is, or holds, a ``SecretStr`` (a key, a keyring, a token)."""
    return annotation is SecretStr or any(holds_secret(arg) for arg in get_args(annotation))


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Secret]]:
    """A freshly generated secrets file, and what the generator says of each of its variables."""
    path = tmp_path_factory.mktemp("deploy") / "secrets.env"
    return path, write_secrets(path)


@pytest.fixture(scope="module")
def generated(written: tuple[Path, list[Secret]]) -> dict[str, str]:
    """The generated file's variables, as compose's ``--env-file`` reads them."""
    values = dotenv_values(written[0], interpolate=False)
    return {name: value or "" for name, value in values.items()}


@pytest.fixture(scope="module")
def variables(generated: dict[str, str]) -> dict[str, str]:
    """The generated file once its operator has filled in what only they have."""
    return {**generated, **OPERATOR_VALUES}


DOCKERFILE = (REPO / "deploy/Dockerfile").read_text()
START = (REPO / "deploy/start.sh").read_text()


def build_args(container: str) -> dict[str, str]:
    build = COMPOSE["services"][container]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    args: dict[str, str] = build["args"]
    return args


def test_the_compose_file_names_exactly_the_platform_and_its_engines() -> None:
    always = {name for name, service in COMPOSE["services"].items() if "profiles" not in service}
    assert always == {*APPS, *REGIONAL, "postgres", "redis"}
    assert COMPOSE["services"]["gateway"]["ports"] == [f"{GATEWAY.default_port}:8000"]


def test_the_observability_services_run_only_under_their_profile() -> None:
    profiled = {
        name: service["profiles"]
        for name, service in COMPOSE["services"].items()
        if "profiles" in service
    }
    assert profiled == {name: ["observability"] for name in OBSERVABILITY}
    # Nothing of the platform waits for them: it runs the same without the profile.
    for name in (*APPS, *REGIONAL):
        assert not set(COMPOSE["services"][name].get("depends_on", {})) & OBSERVABILITY, name
    # What they publish, they publish on the host's loopback alone.
    for name in OBSERVABILITY:
        for port in COMPOSE["services"][name].get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_every_image_is_pinned_by_its_tag() -> None:
    for name, service in COMPOSE["services"].items():
        assert ("image" in service) != ("build" in service), name
        if "image" in service:
            repository, _, tag = service["image"].rpartition(":")
            assert repository, service["image"]
            assert "/" not in tag, service["image"]
            # A release, not a moving name: latest, or a major version alone (postgres:16).
            assert re.fullmatch(r"v?\d+\.\d+(\.\d+)?", tag), service["image"]


def test_redis_holds_the_gateways_and_the_exchanges_rate_counters() -> None:
    for container, spec in (("gateway", GATEWAY), ("exchange", APPS["exchange"])):
        service = COMPOSE["services"][container]
        assert "redis_url" in settings_class(spec).model_fields
        assert service["environment"][f"{spec.env_prefix}REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
    # Counters only: nothing to keep across a restart (the limits start afresh).
    assert COMPOSE["services"]["redis"]["command"] == [
        "redis-server",
        "--save",
        "",
        "--appendonly",
        "no",
    ]


@pytest.mark.parametrize("name", sorted([*APPS, *REGIONAL]))
def test_every_process_sends_its_spans_where_one_variable_says(name: str) -> None:
    spec = APPS.get(name) or REGIONAL[name]
    assert "otlp_traces_endpoint" in settings_class(spec).model_fields
    environment = COMPOSE["services"][name]["environment"]
    # Empty unless set: tracing off, and nothing to fill in to start without the profile.
    assert environment[f"{spec.env_prefix}OTLP_TRACES_ENDPOINT"] == (
        "${ONEVISIT_OTLP_TRACES_ENDPOINT:-}"
    )
    assert interpolate(environment[f"{spec.env_prefix}OTLP_TRACES_ENDPOINT"], {}) == ""


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_image_is_built_for_its_package_port_and_seed(name: str) -> None:
    spec = APPS[name]
    expected = {"SERVICE": spec.directory, "PACKAGE": spec.package, "PORT": str(spec.default_port)}
    if spec.has_seed:
        expected["SEED"] = "true"
    assert build_args(name) == expected
    assert importlib.util.find_spec(f"{spec.package}.main") is not None
    # The Dockerfile installs the project named like its directory (uv sync --package SERVICE).
    project = tomllib.loads((REPO / spec.directory / "pyproject.toml").read_text())["project"]
    assert project["name"] == spec.directory
    # Its alembic.ini is what makes deploy/start.sh migrate: a process without a database
    # (the page server) has none.
    assert (REPO / spec.directory / "alembic.ini").is_file() == spec.has_database
    if spec.has_seed:
        assert importlib.util.find_spec(f"{spec.package}.seed") is not None


def test_the_image_installs_every_workspace_member_and_starts_what_the_package_is() -> None:
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"][
        "members"
    ]
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/" in DOCKERFILE, member
    assert "EXPOSE ${PORT}" in DOCKERFILE
    assert "/readyz" in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE
    assert 'CMD ["sh", "/app/start.sh"]' in DOCKERFILE
    # The gateway runs its own server (gateway.server); a service migrates (when it has a
    # database), seeds, then serves.
    assert 'exec python -m gateway --host 0.0.0.0 --port "$PORT"' in START
    migrate = 'alembic -c "$SERVICE/alembic.ini" upgrade head'
    assert f'if [ -f "$SERVICE/alembic.ini" ]; then\n  {migrate}\nfi\n' in START
    assert 'python -m "$PACKAGE.seed"' in START
    serve = 'exec uvicorn "$PACKAGE.main:create_app" --factory --host 0.0.0.0 --port "$PORT"'
    assert serve in START
    # A service takes the client's address from the gateway's signed header, never from
    # X-Forwarded-For (which uvicorn believes from loopback peers unless told not to).
    assert "--no-proxy-headers" in START.split(serve, 1)[1]


@pytest.mark.parametrize("name", sorted(REGIONAL))
def test_a_regional_instance_runs_its_services_image(name: str) -> None:
    spec = REGIONAL[name]
    assert build_args(name) == build_args(spec.name)
    environment = COMPOSE["services"][name]["environment"]
    assert environment[f"{spec.env_prefix}SERVICE_NAME"] == name


@pytest.mark.parametrize("name", sorted([*APPS, *REGIONAL]))
def test_every_variable_names_a_setting_of_that_service(name: str) -> None:
    spec = APPS.get(name) or REGIONAL[name]
    fields = settings_class(spec).model_fields
    environment: dict[str, str] = COMPOSE["services"][name]["environment"]
    for variable in environment:
        if variable in ("PYTHONUNBUFFERED", "WEB_CONCURRENCY"):  # Python's and uvicorn's own
            continue
        assert variable.startswith(spec.env_prefix), variable
        assert variable.removeprefix(spec.env_prefix).lower() in fields, variable


def postgres_roles() -> dict[str, str]:
    """Each database deploy/postgres-init.sh makes (with a role of the same name), by the
    variable holding its role's password."""
    script = POSTGRES_INIT.read_text()
    listed = script.split("<<'DATABASES'\n", 1)[1].split("\nDATABASES\n", 1)[0]
    pairs = (line.split() for line in listed.splitlines())
    return {variable: database for database, variable in pairs}


def test_each_service_has_its_own_database_and_role_and_the_gateway_every_upstream() -> None:
    assert POSTGRES_INIT.stat().st_mode & stat.S_IXUSR  # run by the image, not sourced
    volume = "./deploy/postgres-init.sh:/docker-entrypoint-initdb.d/10-databases.sh:ro"
    assert volume in COMPOSE["services"][POSTGRES]["volumes"]
    roles = postgres_roles()
    given_to_postgres = {
        required_variable(value)
        for name, value in COMPOSE["services"][POSTGRES]["environment"].items()
        if name != "POSTGRES_PASSWORD" and name.startswith("ONEVISIT_")
    }
    assert given_to_postgres == set(roles)
    containers = [*((spec.name, spec) for spec in SERVICES), *REGIONAL.items()]
    for container, spec in containers:
        environment = COMPOSE["services"][container]["environment"]
        url = make_url(environment[f"{spec.env_prefix}DATABASE_URL"])
        assert url.drivername == "postgresql+asyncpg"
        assert (url.host, url.port) == ("postgres", 5432)
        assert url.database == url.username == database_name(container)
        password = required_variable(str(url.password))
        assert roles[password] == database_name(container)
    assert len(roles) == len(containers)
    gateway = COMPOSE["services"]["gateway"]["environment"]
    upstreams = json.loads(gateway["GATEWAY_UPSTREAMS"])
    # The pages' two parts are two services of the gateway's, both the page server.
    assert upstreams == {
        **{spec.name: f"http://{spec.name}:{spec.default_port}" for spec in SERVICES},
        **dict.fromkeys(WEB_PARTS, f"http://{WEB.name}:{WEB.default_port}"),
    }
    pools = json.loads(gateway["GATEWAY_POOLS"])
    assert pools == {
        WENZHOU_CASE.service.name: {
            WENZHOU_CASE.region: [f"http://{WENZHOU_CASE.name}:{WENZHOU_CASE.service.default_port}"]
        }
    }
    assert set(COMPOSE["services"]["gateway"]["depends_on"]) == {
        *(container for container, _ in containers),
        WEB.name,
        "redis",
    }


def test_every_process_shares_one_forwarding_key_and_the_gateway_its_trusted_proxies() -> None:
    containers = [*((spec.name, spec) for spec in (*SERVICES, WEB, GATEWAY)), *REGIONAL.items()]
    keys = {
        COMPOSE["services"][container]["environment"][f"{spec.env_prefix}FORWARDED_KEY"]
        for container, spec in containers
    }
    [key] = keys
    assert required_variable(key) == SHARED_KEYS["forwarded_key"]
    trusted = COMPOSE["services"]["gateway"]["environment"]["GATEWAY_TRUSTED_PROXIES"]
    assert trusted == "${ONEVISIT_TRUSTED_PROXIES:-[]}"


def test_the_page_server_calls_through_the_gateway_with_no_database_and_no_demo_capture() -> None:
    web = COMPOSE["services"][WEB.name]
    environment = web["environment"]
    issuer = COMPOSE["services"]["identity"]["environment"]["IDENTITY_TOKEN_ISSUER"]
    assert environment["WEB_GATEWAY_URL"] == f"http://gateway:{GATEWAY.default_port}"
    assert environment["WEB_TOKEN_ISSUER"] == issuer
    assert web["expose"] == [str(WEB.default_port)]
    assert "depends_on" not in web  # the gateway waits for it, not it for the gateway
    # Production's defaults: Secure cookies, and the app's camera rather than a demo capture.
    left_to_defaults = {"WEB_DATABASE_URL", "WEB_SECURE_COOKIES", "WEB_DEMO_FACE_CAPTURE"}
    assert not left_to_defaults & set(environment)


def test_the_page_server_refuses_a_demo_face_capture_in_production(
    variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith(WEB.env_prefix):
            monkeypatch.delenv(name)
    for name, value in environment_of(WEB.name, variables).items():
        monkeypatch.setenv(name, value)
    assert WebSettings().cookies_secure
    monkeypatch.setenv("WEB_DEMO_FACE_CAPTURE", "data-exchange-svc/data/demo_face_capture.json")
    with pytest.raises(ValueError, match="WEB_DEMO_FACE_CAPTURE"):
        WebSettings()


# Production mode and its secrets.


def test_the_file_interpolates_in_no_form_but_the_two_it_means() -> None:
    # ``$$`` is compose's escape for a ``$`` the container's own shell expands (Prometheus's
    # start writes the metrics token it was given to a file).
    for value in strings(COMPOSE):
        assert "$" not in INTERPOLATION.sub("", value).replace("$$", ""), value


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.name)
def test_each_process_loads_its_settings_in_production_mode_from_the_generated_secrets(
    container: Container, variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = container.spec.env_prefix
    environment = environment_of(container.name, variables)
    assert environment[f"{prefix}ENVIRONMENT"] == "production"
    for name in os.environ:
        if name.startswith(prefix):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    # Refused, naming the variables, if any development key is left or anything is missing.
    settings = settings_class(container.spec)()
    assert settings.environment == "production"
    for name in settings.development_key_fields():
        assert getattr(settings, name) != type(settings).model_fields[name].get_default(
            call_default_factory=True
        )


def test_compose_refuses_to_start_until_the_operator_fills_in_the_sms_gateway(
    written: tuple[Path, list[Secret]], generated: dict[str, str]
) -> None:
    fill_in = {secret.variable for secret in written[1] if secret.fill_in}
    assert fill_in == set(OPERATOR_VALUES)
    assert all(generated[variable] == "" for variable in fill_in)
    with pytest.raises(MissingVariable, match="ONEVISIT_SMS_"):
        environment_of("identity", generated)
    for container in CONTAINERS:
        with pytest.raises(MissingVariable):
            environment_of(container.name, {})


@pytest.mark.parametrize("container", CONTAINERS, ids=lambda container: container.name)
def test_the_generator_covers_every_development_key_setting_of_every_process(
    container: Container, written: tuple[Path, list[Secret]]
) -> None:
    readers = {secret.variable: secret.readers for secret in written[1]}
    environment = COMPOSE["services"][container.name]["environment"]
    settings = settings_class(container.spec)
    for name in settings.development_key_fields():
        variable = required_variable(environment[f"{container.spec.env_prefix}{name.upper()}"])
        assert container.name in readers[variable], variable


def test_a_key_added_to_a_services_settings_is_generated_with_nothing_else_to_update() -> None:
    class ArchivingCaseSettings(CaseSettings):
        archive_key: SecretKey = development_key("case archive")

    case = next(container for container in CONTAINERS if container.name == "case")
    keys = container_keys(case, ArchivingCaseSettings, today=dt.date(2027, 3, 1))
    assert {secret.variable for secret in keys} == {
        "ONEVISIT_CASE_CURSOR_KEY",
        "ONEVISIT_CASE_REQUEST_DIGEST_KEY",
        "ONEVISIT_CASE_SEALING_KEYS",
        "ONEVISIT_CASE_SEALING_KEY_ID",
        "ONEVISIT_CASE_ARCHIVE_KEY",
    }
    keyring = next(secret for secret in keys if secret.variable.endswith("_SEALING_KEYS"))
    assert list(json.loads(keyring.value)) == ["2027-03-01"]


def test_each_container_is_given_the_secrets_it_uses_and_no_other(
    written: tuple[Path, list[Secret]],
) -> None:
    given: dict[str, set[str]] = {}
    for service, definition in COMPOSE["services"].items():
        for value in strings(definition.get("environment", {})):
            for match in INTERPOLATION.finditer(value):
                given.setdefault(match["name"], set()).add(service)
    for secret in written[1]:
        readers = {*secret.readers, *OBSERVABILITY_READERS.get(secret.variable, ())}
        assert given.pop(secret.variable, set()) == readers, secret.variable
    # What is left has a default, and is no secret: the load balancers' addresses, the
    # platform's public address (the tokens' issuer) and where spans go (none: tracing off).
    assert set(given) == {
        "ONEVISIT_TRUSTED_PROXIES",
        "ONEVISIT_PUBLIC_URL",
        "ONEVISIT_OTLP_TRACES_ENDPOINT",
    }


def test_no_secret_is_written_in_the_compose_file(
    written: tuple[Path, list[Secret]], generated: dict[str, str]
) -> None:
    public = {
        secret.get_secret_value()
        for container in CONTAINERS
        for settings in [settings_class(container.spec)]
        for name in settings.development_key_fields()
        for value in [settings.model_fields[name].get_default(call_default_factory=True)]
        for secret in (value.values() if isinstance(value, dict) else [value])
    }
    assert public
    for value in public:
        assert value not in COMPOSE_TEXT
    for secret in written[1]:
        if len(secret.value) >= 32:  # a key, a password, a token (not a keyring's id)
            assert generated[secret.variable] not in COMPOSE_TEXT
    # A setting that holds a secret is one of the file's variables, required and with no
    # default; so is each database role's password, and the superuser's.
    for container in CONTAINERS:
        fields = settings_class(container.spec).model_fields
        environment = COMPOSE["services"][container.name]["environment"]
        for name, value in environment.items():
            field = fields.get(name.removeprefix(container.spec.env_prefix).lower())
            if field is not None and holds_secret(field.annotation):
                required_variable(value)
        if container.spec.has_database:
            url = make_url(environment[f"{container.spec.env_prefix}DATABASE_URL"])
            required_variable(str(url.password))
    required_variable(COMPOSE["services"][POSTGRES]["environment"]["POSTGRES_PASSWORD"])


def test_the_generated_keys_are_fresh_keys_and_the_passwords_url_safe(
    written: tuple[Path, list[Secret]], generated: dict[str, str]
) -> None:
    values = [value for value in generated.values() if len(value) >= 32]
    assert len(set(values)) == len(values)
    for secret in written[1]:
        assert generated[secret.variable] == secret.value
        if secret.variable.endswith("_PASSWORD"):
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret.value), secret.variable
    again = write_secrets(written[0].with_name("again.env"))
    assert not {secret.value for secret in again if len(secret.value) >= 32} & set(values)


def test_the_secrets_file_is_its_owners_alone_and_is_replaced_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "secrets.env"
    umask = os.umask(0)  # whatever the umask allows, the file is 0600
    try:
        command = [sys.executable, "-m", "onevisit_dev.secrets", str(path)]
        made = subprocess.run(command, capture_output=True, text=True, check=False)
        assert made.returncode == 0, made.stderr
        assert "ONEVISIT_SMS_ENDPOINT" in made.stdout  # what to fill in
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        first = path.read_text()
        assert generate_secrets([str(path)]) == 1
        assert "--force" in capsys.readouterr().err
        assert path.read_text() == first
        assert generate_secrets([str(path), "--force"]) == 0
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.read_text() != first
        assert [entry.name for entry in tmp_path.iterdir()] == ["secrets.env"]
    finally:
        os.umask(umask)


def test_the_secrets_file_is_never_committed_nor_sent_to_a_build() -> None:
    assert "/deploy/secrets.env" in (REPO / ".gitignore").read_text().splitlines()
    assert "deploy/secrets.env" in (REPO / ".dockerignore").read_text().splitlines()


# The observability profile: Prometheus, its alert rules, Grafana's dashboards, the collector.

OBSERVABILITY_DIR = REPO / "deploy/observability"
PROMETHEUS_CONFIG: dict[str, Any] = yaml.safe_load(
    (OBSERVABILITY_DIR / "prometheus/prometheus.yml").read_text()
)
ALERT_RULES: dict[str, Any] = yaml.safe_load(
    (OBSERVABILITY_DIR / "prometheus/alerts.yml").read_text()
)
COLLECTOR_CONFIG: dict[str, Any] = yaml.safe_load(
    (OBSERVABILITY_DIR / "otel-collector.yaml").read_text()
)
DASHBOARDS = sorted((OBSERVABILITY_DIR / "grafana/dashboards").glob("*.json"))
#: Labels Prometheus gives every series it scrapes, beside the process's own.
TARGET_LABELS = frozenset({"job", "instance"})


def mounts(service: str) -> dict[str, Path]:
    """A service's bind mounts of the repository's files: where each lands, from where."""
    found: dict[str, Path] = {}
    for volume in COMPOSE["services"][service].get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            found[target] = REPO / source
    return found


def in_container(service: str, path: str) -> Path:
    """The repository's file that ``path`` is inside ``service``'s container."""
    for target, source in mounts(service).items():
        if path == target or path.startswith(target + "/"):
            return source / path.removeprefix(target).lstrip("/")
    raise AssertionError(f"{path} is mounted into {service} from nowhere")


def exported_series() -> dict[str, frozenset[str]]:
    """Every series name the processes export, with its labels, read from the code that makes
    them: the kit's request metrics and event relay, the gateway's upstream metrics, and
    prometheus_client's process collector, which every process's registry has."""
    import prometheus_client

    from gateway.upstreams import UPSTREAM_FAULTS, UpstreamStatistics
    from servicekit.events import _metrics as relay
    from servicekit.observability import RequestMetrics

    found: dict[str, set[str]] = {}
    # The collectors name their labels only in what they collect: fresh ones, a series each.
    requests = RequestMetrics()
    requests.series("identity", "GET", "/identity/v1/me", 200)
    upstreams = UpstreamStatistics()
    upstreams.instance("case", "province", 0)
    upstreams.pool("case", "province")
    process = prometheus_client.ProcessCollector(registry=None)
    for collector in (requests, upstreams, process):
        for family in collector.collect():
            for sample in family.samples:
                found.setdefault(sample.name, set()).update(sample.labels)
    suffixes = {"counter": ("_total", "_created"), "gauge": ("",)}
    for metric in (
        UPSTREAM_FAULTS,
        relay.DELIVERED,
        relay.DELIVERY_FAILURES,
        relay.DEAD_LETTERED,
        relay.PENDING,
        relay.OLDEST_PENDING_AGE,
    ):
        [family] = metric.describe()
        for suffix in suffixes[family.type]:
            found[family.name + suffix] = set(metric._labelnames)
    assert any(name.startswith("process_") for name in found)  # Linux: /proc is read
    # Prometheus's own series of each scrape.
    found["up"] = set()
    return {name: frozenset(labels | TARGET_LABELS) for name, labels in found.items()}


EXPORTED = exported_series()

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"(?P<name>[A-Za-z_:][\w:]*)?\s*\{(?P<matchers>[^}]*)\}")
_MATCHER = re.compile(r"(?P<label>\w+)\s*(?:=~|!~|!=|=)\s*\"\"")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\((?P<labels>[^)]*)\)"
)
_NUMBER = re.compile(r"(?<![\w:])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?:ms|[smhdwy])?(?![\w:])")
_IDENTIFIER = re.compile(r"[A-Za-z_:][\w:]*(?!\s*\()(?![\w:])")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset"})
#: A Grafana variable's query of a label's values.
LABEL_VALUES = re.compile(r"label_values\((.+),\s*(\w+)\)")


def promql_uses(expression: str) -> tuple[set[str], set[tuple[str, str]], set[str]]:
    """What a PromQL expression reads: its metric names, each (metric, label) its selectors
    match on, and the labels it groups by. Strings are emptied first (a route template holds
    braces), then Grafana's variables, ranges and numbers go, and what is left as a name and is
    no function nor keyword is a metric."""
    text = _STRING.sub('""', expression)
    text = re.sub(r"\$\w+", "", text)
    grouped = {
        label.strip()
        for match in _GROUPING.finditer(text)
        for label in match["labels"].split(",")
        if label.strip()
    }
    text = _GROUPING.sub(" ", text)
    matched: set[tuple[str, str]] = set()
    names: set[str] = set()
    for selector in _SELECTOR.finditer(text):
        labels = {match["label"] for match in _MATCHER.finditer(selector["matchers"])}
        if selector["name"]:
            matched |= {(selector["name"], label) for label in labels}
        else:  # {__name__=...} is not used: a bare selector would be a mistake here
            raise AssertionError(f"a selector without a metric name in {expression!r}")
    text = _SELECTOR.sub(lambda selector: f" {selector['name']} ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _NUMBER.sub(" ", text)
    for name in _IDENTIFIER.findall(text.replace('""', " ")):
        if name not in _KEYWORDS:
            names.add(name)
    return names, matched, grouped


def check_expression(expression: str) -> set[str]:
    """Every metric ``expression`` reads is exported, with the labels it matches on; what it
    groups by is a label of some metric it reads. Its metric names."""
    names, matched, grouped = promql_uses(expression)
    assert names, expression
    for name in names:
        assert name in EXPORTED, f"{name} is exported by no process: {expression}"
    for name, label in matched:
        assert label in EXPORTED[name], f"{name} has no label {label}: {expression}"
    labels = set().union(*(EXPORTED[name] for name in names)) | {"le"}
    assert grouped <= labels, f"grouped by labels none of {names} has: {expression}"
    return names


def test_the_promql_reader_finds_names_labels_and_groupings() -> None:
    names, matched, grouped = promql_uses(
        "histogram_quantile(0.95, sum by (job, route, le) (rate(http_request_duration_seconds"
        '_bucket{job=~"$job", route=~"/cases/v1/drafts/{draft_no}/submission"}[$__rate_interval'
        "]))) > 1.5e9 and on (job) up == 0"
    )
    assert names == {"http_request_duration_seconds_bucket", "up"}
    assert matched == {
        ("http_request_duration_seconds_bucket", "job"),
        ("http_request_duration_seconds_bucket", "route"),
    }
    assert grouped == {"job", "route", "le"}
    with pytest.raises(AssertionError, match="exported by no process"):
        check_expression('sum(rate(cases_overdue_total{job="case"}[5m]))')
    with pytest.raises(AssertionError, match="has no label"):
        check_expression('sum(rate(http_requests_total{code="500"}[5m]))')


def test_prometheus_scrapes_every_process_by_its_port_and_path_and_the_gateway_with_its_token() -> (
    None
):
    from gateway.operations import OPERATION_PATHS

    jobs = {job["job_name"]: job for job in PROMETHEUS_CONFIG["scrape_configs"]}
    processes = {**APPS, **REGIONAL}
    assert set(jobs) == set(processes)
    for container, spec in processes.items():
        job = jobs[container]
        [targets] = job["static_configs"]
        assert targets["targets"] == [f"{container}:{spec.default_port}"]
        assert str(spec.default_port) in COMPOSE["services"][container].get(
            "expose", [f"{spec.default_port}"]
        )
        assert job.get("metrics_path", "/metrics") == "/metrics"
        assert ("authorization" in job) == (spec is GATEWAY), container
    assert "/metrics" in OPERATION_PATHS
    # The token: the gateway's own variable, written by Prometheus's start to the file the job
    # reads, in memory (a tmpfs), never in a volume.
    prometheus = COMPOSE["services"]["prometheus"]
    token_variable = required_variable(prometheus["environment"]["METRICS_TOKEN"])
    gateway = COMPOSE["services"]["gateway"]["environment"]
    assert required_variable(gateway["GATEWAY_METRICS_TOKEN"]) == token_variable
    authorization = jobs["gateway"]["authorization"]
    assert authorization["type"] == "Bearer"
    token_file = authorization["credentials_file"]
    [start] = prometheus["command"]
    assert f"printf '%s' \"$$METRICS_TOKEN\" > {token_file} &&" in start
    assert "umask 077" in start
    assert str(Path(token_file).parent) in prometheus["tmpfs"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in start
    assert in_container("prometheus", "/etc/prometheus/prometheus.yml").is_file()
    for rule_file in PROMETHEUS_CONFIG["rule_files"]:
        assert in_container("prometheus", rule_file).is_file()


def test_every_alert_rule_reads_metrics_the_code_exports_and_says_where_the_runbook_is() -> None:
    runbook = (REPO / "docs/runbook.md").read_text()
    alerts = [rule for group in ALERT_RULES["groups"] for rule in group["rules"]]
    assert len({rule["alert"] for rule in alerts}) == len(alerts)
    for rule in alerts:
        check_expression(rule["expr"])
        assert rule["labels"]["severity"] in {"critical", "warning"}
        anchor = rule["annotations"]["runbook"].removeprefix("docs/runbook.md#")
        assert anchor == rule["alert"].lower()
        assert f"### {rule['alert']}" in runbook, rule["alert"]


def test_the_alert_rules_pass_promtool_where_it_is_installed() -> None:
    promtool = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: prometheus); docs/runbook.md says how")
    rules = OBSERVABILITY_DIR / "prometheus"
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts.test.yml"]):
        checked = subprocess.run(
            [promtool, *command], cwd=rules, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_is_provisioned_with_the_profiles_prometheus_and_its_dashboards() -> None:
    provisioning = in_container("grafana", "/etc/grafana/provisioning")
    sources = yaml.safe_load((provisioning / "datasources/datasources.yml").read_text())
    by_type = {source["type"]: source for source in sources["datasources"]}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090"
    assert by_type["jaeger"]["url"] == "http://jaeger:16686"
    [provider] = yaml.safe_load((provisioning / "dashboards/dashboards.yml").read_text())[
        "providers"
    ]
    assert in_container("grafana", provider["options"]["path"]) == DASHBOARDS[0].parent
    grafana = COMPOSE["services"]["grafana"]["environment"]
    assert in_container("grafana", grafana["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]).is_file()
    assert {"prometheus", "jaeger"} <= set(COMPOSE["services"])


def panels_of(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_each_dashboard_parses_and_queries_only_metrics_the_code_exports(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    provisioning = in_container("grafana", "/etc/grafana/provisioning")
    sources = yaml.safe_load((provisioning / "datasources/datasources.yml").read_text())
    prometheus_uid = next(
        source["uid"] for source in sources["datasources"] if source["type"] == "prometheus"
    )
    assert dashboard["uid"]
    assert dashboard["title"]
    ids = [panel["id"] for panel in panels_of(dashboard)]
    assert len(set(ids)) == len(ids)
    read: set[str] = set()
    for panel in panels_of(dashboard):
        if panel["type"] in ("row", "text"):
            continue
        assert panel["datasource"]["uid"] == prometheus_uid, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            read |= check_expression(target["expr"])
    for variable in dashboard["templating"]["list"]:
        # label_values(<series selector>, <label>): the selector is PromQL, the label one of it.
        match = LABEL_VALUES.fullmatch(variable["query"]["query"])
        assert match, variable["query"]["query"]
        selector, label = match.groups()
        names = check_expression(selector)
        assert all(label in EXPORTED[name] for name in names), variable["name"]
        read |= names
    assert read


def test_the_dashboards_cover_routes_cases_the_ledger_and_ratings() -> None:
    expressions = " ".join(
        target["expr"]
        for path in DASHBOARDS
        for panel in panels_of(json.loads(path.read_text()))
        for target in panel.get("targets", [])
    )
    for needed in (
        "http_request_duration_seconds_bucket",  # latency per route
        'status=~"5.."',  # errors per route
        "/cases/v1/cases",  # cases filed
        'type="case.completed"',  # cases completed
        "/exchange/v1/calls",  # what appends to the ledger
        "/ratings/v1/ratings",  # ratings accepted
        "outbox_oldest_pending_age_seconds",  # events waiting
    ):
        assert needed in expressions, needed
    # What no metric holds is said, not invented.
    notes = " ".join(
        panel["options"]["content"]
        for path in DASHBOARDS
        for panel in panels_of(json.loads(path.read_text()))
        if panel["type"] == "text"
    )
    for unmeasured in ("overdue", "ledger's size", "satisfaction"):
        assert unmeasured in notes, unmeasured


def test_the_collector_receives_otlp_over_http_and_passes_traces_on() -> None:
    service = COMPOSE["services"]["otel-collector"]
    [config_option] = service["command"]
    config = in_container("otel-collector", config_option.removeprefix("--config="))
    assert yaml.safe_load(config.read_text()) == COLLECTOR_CONFIG
    http = COLLECTOR_CONFIG["receivers"]["otlp"]["protocols"]["http"]
    assert http["endpoint"] == "0.0.0.0:4318"
    assert "4318" in service["expose"]
    traces = COLLECTOR_CONFIG["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    for kind in ("processors", "exporters"):
        assert set(traces[kind]) <= set(COLLECTOR_CONFIG[kind]), kind
    for extension in COLLECTOR_CONFIG["service"]["extensions"]:
        assert extension in COLLECTOR_CONFIG["extensions"]
    jaeger = COLLECTOR_CONFIG["exporters"]["otlp/jaeger"]["endpoint"]
    assert jaeger == "jaeger:4317"
    assert "4317" in COMPOSE["services"]["jaeger"]["expose"]
    # What a process is told, as the runbook says: the collector's OTLP/HTTP traces path.
    runbook = (REPO / "docs/runbook.md").read_text()
    assert "ONEVISIT_OTLP_TRACES_ENDPOINT=http://otel-collector:4318/v1/traces" in runbook
