"""No Docker engine runs here, so the compose file is checked against the code: it parses,
and the services, ports, commands and variables it names are the ones the code has."""

import importlib
import importlib.util
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from onevisit_dev.platform import GATEWAY, SERVICES, WENZHOU_CASE, ServiceSpec
from servicekit.settings import development_key

REPO = Path(__file__).resolve().parents[1]
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
APPS = {spec.name: spec for spec in (*SERVICES, GATEWAY)}
#: Containers of another service's image: each regional instance, by the service it runs.
REGIONAL = {WENZHOU_CASE.name: WENZHOU_CASE.service}


def database_name(container: str) -> str:
    return container.replace("-", "_")


def settings_class(spec: ServiceSpec) -> type[BaseSettings]:
    module = importlib.import_module(f"{spec.package}.settings")
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, BaseSettings)
        and value.__module__ == module.__name__
    ]
    assert len(classes) == 1, classes
    return classes[0]


DOCKERFILE = (REPO / "deploy/Dockerfile").read_text()
START = (REPO / "deploy/start.sh").read_text()


def build_args(container: str) -> dict[str, str]:
    build = COMPOSE["services"][container]["build"]
    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/Dockerfile"
    args: dict[str, str] = build["args"]
    return args


def test_the_compose_file_names_exactly_the_platform_and_its_engines() -> None:
    assert set(COMPOSE["services"]) == {*APPS, *REGIONAL, "postgres", "redis"}
    assert COMPOSE["services"]["gateway"]["ports"] == [f"{GATEWAY.default_port}:8000"]


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_image_is_built_for_its_package_port_and_seed(name: str) -> None:
    spec = APPS[name]
    expected = {"SERVICE": spec.directory, "PACKAGE": spec.package, "PORT": str(spec.default_port)}
    if spec.has_seed:
        expected["SEED"] = "true"
    assert build_args(name) == expected
    assert importlib.util.find_spec(f"{spec.package}.main") is not None
    if spec.has_database:
        assert (REPO / spec.directory / "alembic.ini").is_file()
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
    # The gateway runs its own server (gateway.server); a service migrates, seeds, then serves.
    assert 'exec python -m gateway --host 0.0.0.0 --port "$PORT"' in START
    assert 'alembic -c "$SERVICE/alembic.ini" upgrade head' in START
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


def test_each_database_exists_and_the_gateway_knows_every_upstream() -> None:
    created = set(
        re.findall(r'CREATE DATABASE "?(\w+)"?;', (REPO / "deploy/postgres-init.sql").read_text())
    )
    containers = [*((spec.name, spec) for spec in SERVICES), *REGIONAL.items()]
    for container, spec in containers:
        environment = COMPOSE["services"][container]["environment"]
        url = environment[f"{spec.env_prefix}DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://")
        assert url.endswith("@postgres:5432/" + database_name(container))
        assert database_name(container) in created
    gateway = COMPOSE["services"]["gateway"]["environment"]
    upstreams = json.loads(gateway["GATEWAY_UPSTREAMS"])
    assert upstreams == {spec.name: f"http://{spec.name}:{spec.default_port}" for spec in SERVICES}
    pools = json.loads(gateway["GATEWAY_POOLS"])
    assert pools == {
        WENZHOU_CASE.service.name: {
            WENZHOU_CASE.region: [f"http://{WENZHOU_CASE.name}:{WENZHOU_CASE.service.default_port}"]
        }
    }
    assert set(COMPOSE["services"]["gateway"]["depends_on"]) == {
        *(container for container, _ in containers),
        "redis",
    }


def test_every_process_shares_one_forwarding_key_and_the_gateway_its_trusted_proxies() -> None:
    containers = [*((spec.name, spec) for spec in (*SERVICES, GATEWAY)), *REGIONAL.items()]
    keys = {
        COMPOSE["services"][container]["environment"][f"{spec.env_prefix}FORWARDED_KEY"]
        for container, spec in containers
    }
    # One value, set once for all (the development key until ONEVISIT_FORWARDED_KEY is set).
    [key] = keys
    variable, _, default = key.removeprefix("${").removesuffix("}").partition(":-")
    assert variable == "ONEVISIT_FORWARDED_KEY"
    assert default == development_key("forwarded").get_secret_value()
    trusted = COMPOSE["services"]["gateway"]["environment"]["GATEWAY_TRUSTED_PROXIES"]
    assert trusted == "${ONEVISIT_TRUSTED_PROXIES:-[]}"
