"""No Docker engine runs here, so the compose file is checked against the code: it parses,
and the services, ports, commands and variables it names are the ones the code has."""

import importlib
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from onevisit_dev.platform import GATEWAY, SERVICES, WENZHOU_CASE, ServiceSpec

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


def dockerfile(spec: ServiceSpec, container: str | None = None) -> str:
    build = COMPOSE["services"][container or spec.name]["build"]
    assert build["context"] == "."
    path = REPO / build["dockerfile"]
    assert path == REPO / spec.directory / "Dockerfile"
    return path.read_text()


def test_the_compose_file_names_exactly_the_platform_and_its_engines() -> None:
    assert set(COMPOSE["services"]) == {*APPS, *REGIONAL, "postgres", "redis"}
    assert COMPOSE["services"]["gateway"]["ports"] == [f"{GATEWAY.default_port}:8000"]


@pytest.mark.parametrize("name", sorted(APPS))
def test_each_service_image_serves_its_package_on_its_port_and_checks_health(name: str) -> None:
    spec = APPS[name]
    text = dockerfile(spec)
    assert f"EXPOSE {spec.default_port}" in text
    assert "/readyz" in text
    assert "HEALTHCHECK" in text
    assert importlib.util.find_spec(f"{spec.package}.main") is not None
    if spec is GATEWAY:
        # Its own server (gateway.server): uvicorn with one write per answer.
        assert (
            f'CMD ["python", "-m", "gateway", "--host", "0.0.0.0", "--port", "{spec.default_port}"]'
            in text
        )
    else:
        assert f"--port {spec.default_port}" in text
        assert f"{spec.package}.main:create_app --factory" in text
    assert f"--package {spec.directory}" in text
    if spec.has_database:
        assert f"alembic -c {spec.directory}/alembic.ini upgrade head" in text
        assert (REPO / spec.directory / "alembic.ini").is_file()
    if spec.has_seed:
        assert f"python -m {spec.package}.seed" in text
        assert importlib.util.find_spec(f"{spec.package}.seed") is not None


@pytest.mark.parametrize("name", sorted(REGIONAL))
def test_a_regional_instance_runs_its_services_image(name: str) -> None:
    spec = REGIONAL[name]
    assert dockerfile(spec, name) == dockerfile(spec)
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
