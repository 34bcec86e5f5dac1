"""No cluster runs here, so the Kubernetes manifests (``deploy/k8s``) are checked offline: both
overlays are rendered with ``kubectl kustomize``, every object is validated against the
Kubernetes API's schemas (``kubernetes_validate``) and each CloudNativePG ``Cluster`` against
that operator's CRD schema (vendored in ``deploy/k8s/schemas``), and the manifests are held to
the launcher's specs as ``tests/test_compose.py`` holds the compose file: a Deployment per
process with its image, port and command; a migration Job and a database per database-owning
one; the probes; every variable a setting of its process (each process loads its settings from
the Secrets ``deploy/k8s/secrets.sh`` makes of a freshly generated secrets file); the network
policies, evaluated pod to pod; the routing table's ConfigMap.

Without ``kubectl`` the tests are skipped, or fail when ``ONEVISIT_REQUIRE_KUBECTL`` is set."""

import base64
import functools
import ipaddress
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from sqlalchemy.engine import make_url

from onevisit_dev.platform import (
    GATEWAY,
    SERVICES,
    WEB,
    WEB_PARTS,
    WENZHOU_CASE,
    ServiceSpec,
)
from onevisit_dev.secrets import platform_secrets, settings_class, write_secrets

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy/k8s"
OVERLAYS = ("development", "production")
#: The newest Kubernetes minor the installed kubectl speaks; kubernetes_validate ships it.
KUBERNETES_VERSION = "1.32"
COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
CNPG_SCHEMA = json.loads((K8S / "schemas/cnpg-cluster-v1.json").read_text())["openAPIV3Schema"]


def strict(schema: Any) -> Any:
    """A CRD's schema refusing unknown fields, as the API server does for a structural schema
    (it prunes them, and kubectl's field validation refuses them): ``additionalProperties``
    false wherever properties are listed and unknown ones are not kept on purpose."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    made = {key: strict(value) for key, value in schema.items()}
    if (
        "properties" in made
        and "additionalProperties" not in made
        and not made.get("x-kubernetes-preserve-unknown-fields")
    ):
        made["additionalProperties"] = False
    return made


#: Built once: ``jsonschema.validate`` checks the (large) schema itself at every call. The
#: root's apiVersion, kind and metadata are the API's own, checked by the API server.
CNPG_CLUSTER = jsonschema.Draft7Validator(strict(CNPG_SCHEMA))

#: Every process, by its Deployment's name: its spec, and its database when it owns one.
PROCESSES: dict[str, ServiceSpec] = {
    **{spec.name: spec for spec in (*SERVICES, WEB, GATEWAY)},
    WENZHOU_CASE.name: WENZHOU_CASE.service,
}
DATABASES = {name: name.replace("-", "_") for name, spec in PROCESSES.items() if spec.has_database}
#: What only the operator has, as an operator fills it in (as in tests/test_compose.py).
OPERATOR_VALUES = {
    "ONEVISIT_SMS_ENDPOINT": "https://sms.example.gov.cn/v1/messages",
    "ONEVISIT_SMS_API_KEY": "the-sms-gateways-own-key",
}
REFERENCE = re.compile(r"\$\((\w+)\)")

Object = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        if os.environ.get("ONEVISIT_REQUIRE_KUBECTL"):
            pytest.fail("kubectl is required (ONEVISIT_REQUIRE_KUBECTL) and not installed")
        pytest.skip("kubectl is not installed")
    return found


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


_RENDERED: dict[str, list[Object]] = {}


def rendered(overlay: str) -> list[Object]:
    """The overlay's objects as ``kubectl kustomize`` renders them (offline)."""
    if overlay not in _RENDERED:
        run = subprocess.run(
            [kubectl(), "kustomize", str(K8S / "overlays" / overlay)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        _RENDERED[overlay] = [doc for doc in yaml.safe_load_all(run.stdout) if doc]
    return _RENDERED[overlay]


def the(objects: list[Object], kind: str, name: str) -> Object:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def of_kind(objects: list[Object], kind: str) -> list[Object]:
    return [o for o in objects if o["kind"] == kind]


def containers(workload: Object) -> list[Object]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def main_container(deployment: Object) -> Object:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def env_list(container: Object) -> list[Object]:
    found: list[Object] = container.get("env", [])
    return found


def literal(container: Object, name: str) -> str:
    [value] = [e["value"] for e in env_list(container) if e["name"] == name]
    assert isinstance(value, str)
    return value


def workloads_of(objects: list[Object], process: str) -> list[Object]:
    """The Deployment of a process and its migration Job, if it has one."""
    found = [the(objects, "Deployment", process)]
    found += [o for o in of_kind(objects, "Job") if o["metadata"]["name"] == f"{process}-migrate"]
    return found


# The API's schemas.


@pytest.fixture(scope="module", autouse=True)
def schemas_read_once() -> Iterator[None]:
    """kubernetes_validate reads and parses its schema files (the API's definitions: megabytes)
    at every call; read once, they are parsed once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            kubernetes_validate.utils,
            "schema_contents",
            functools.cache(kubernetes_validate.utils.schema_contents),
        )
        yield


def test_every_object_is_valid_against_the_kubernetes_api_and_the_operators_schema(
    overlay: str,
) -> None:
    objects = rendered(overlay)
    assert objects
    for document in objects:
        if document["apiVersion"] == "postgresql.cnpg.io/v1":
            # A CRD: kubernetes_validate has only the API's own kinds.
            CNPG_CLUSTER.validate(document)
            continue
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_broken_object_is_refused_by_both_validations() -> None:
    """The validations can fail: a misspelt field and a wrong type are caught."""
    deployment = json.loads(json.dumps(the(rendered("production"), "Deployment", "gateway")))
    deployment["spec"]["replica"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    cluster = json.loads(json.dumps(the(rendered("production"), "Cluster", "case-db")))
    cluster["spec"]["instances"] = "three"
    with pytest.raises(jsonschema.ValidationError):
        CNPG_CLUSTER.validate(cluster)
    cluster["spec"]["instances"] = 3
    cluster["spec"]["bootstrap"]["initdb"]["ownr"] = "case"
    with pytest.raises(jsonschema.ValidationError, match="ownr"):
        CNPG_CLUSTER.validate(cluster)


# The launcher's specs.


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_each_process_runs_the_image_compose_builds_on_its_port(overlay: str, process: str) -> None:
    objects = rendered(overlay)
    spec = PROCESSES[process]
    args = COMPOSE["services"][process]["build"]["args"]
    deployment = the(objects, "Deployment", process)
    container = main_container(deployment)
    # The image of deploy/Dockerfile built with compose's arguments, named by its SERVICE.
    repository = container["image"].rsplit(":", 1)[0] if ":" in container["image"] else ""
    assert repository.endswith(f"/onevisit/{args['SERVICE']}") or repository.endswith(
        f"onevisit/{args['SERVICE']}"
    ), container["image"]
    assert args["SERVICE"] == spec.directory
    assert container["ports"] == [{"name": "http", "containerPort": int(args["PORT"])}]
    assert int(args["PORT"]) == spec.default_port
    if spec is GATEWAY:
        serve = ["python", "-m", "gateway", "--host", "0.0.0.0", "--port", args["PORT"]]
        assert container["command"] == serve
    else:
        # What deploy/start.sh serves with, without its migration: the Job migrates.
        assert container["command"][:3] == [
            "uvicorn",
            f"{args['PACKAGE']}.main:create_app",
            "--factory",
        ]
        assert container["command"][container["command"].index("--port") + 1] == args["PORT"]
        assert "--no-proxy-headers" in container["command"]
    service = the(objects, "Service", process)
    assert service["spec"]["ports"] == [
        {"name": "http", "port": spec.default_port, "targetPort": "http"}
    ]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # No other pod of the overlay answers to the Service.
    others = [
        o
        for o in (*of_kind(objects, "Deployment"), *of_kind(objects, "Job"))
        if o is not deployment
        and service["spec"]["selector"].items()
        <= o["spec"]["template"]["metadata"]["labels"].items()
    ]
    assert others == []


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_container_is_probed_and_bounded(overlay: str, process: str) -> None:
    deployment = the(rendered(overlay), "Deployment", process)
    container = main_container(deployment)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for workload in workloads_of(rendered(overlay), process):
        for each in containers(workload):
            resources = each["resources"]
            assert set(resources) == {"requests", "limits"}
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            assert each["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_database_is_migrated_by_its_job_before_its_service_starts(
    overlay: str, process: str
) -> None:
    objects = rendered(overlay)
    spec = PROCESSES[process]
    deployment = the(objects, "Deployment", process)
    jobs = [o for o in of_kind(objects, "Job") if o["metadata"]["name"] == f"{process}-migrate"]
    prefix = spec.env_prefix
    if process not in DATABASES:
        assert jobs == []
        assert "initContainers" not in deployment["spec"]["template"]["spec"]
        assert not any(
            e["name"] == f"{prefix}DATABASE_URL" for e in env_list(main_container(deployment))
        )
        return
    database = DATABASES[process]
    cluster_name = f"{process}-db"
    [job] = jobs
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    steps = 'alembic -c "$SERVICE/alembic.ini" upgrade head'
    if spec.has_seed:
        steps += ' && python -m "$PACKAGE.seed"'
    assert migrate["command"] == ["sh", "-c", steps]
    assert migrate["image"] == main_container(deployment)["image"]
    # The service's pods wait until the schema is at head: the Job has run its migration.
    [wait] = deployment["spec"]["template"]["spec"]["initContainers"]
    assert wait["image"] == main_container(deployment)["image"]
    assert 'alembic -c "$SERVICE/alembic.ini" current' in wait["command"][-1]
    assert '"(head)"' in wait["command"][-1]
    # Each reads the settings the service reads (the overlays may add the service's own).
    for other in (wait, migrate):
        names = {e["name"] for e in env_list(other)}
        assert names <= {e["name"] for e in env_list(main_container(deployment))}
        given = literal(other, f"{prefix}DATABASE_URL")
        assert given == literal(main_container(deployment), f"{prefix}DATABASE_URL")
    url = make_url(literal(main_container(deployment), f"{prefix}DATABASE_URL"))
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.port) == (f"{cluster_name}-rw", 5432)
    assert url.username == url.database == database
    assert url.password == f"$(ONEVISIT_{database.upper()}_DATABASE_PASSWORD)"
    cluster = the(objects, "Cluster", cluster_name)
    assert cluster["spec"]["bootstrap"]["initdb"] == {
        "database": database,
        "owner": database,
        "secret": {"name": f"{cluster_name}-owner"},
    }
    assert cluster["spec"]["enableSuperuserAccess"] is False
    # Its pods, and the Job's, are the database's clients (the network policies' label).
    for workload in (deployment, job):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert labels["onevisit/database"] == cluster_name


def test_each_database_has_its_cluster_and_nothing_else_has_one(overlay: str) -> None:
    clusters = {c["metadata"]["name"] for c in of_kind(rendered(overlay), "Cluster")}
    assert clusters == {f"{process}-db" for process in DATABASES}


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_every_variable_names_a_setting_of_that_process(overlay: str, process: str) -> None:
    """A variable is a setting of its process's class, or a secret the pod reads only to put
    into another variable (``$(ONEVISIT_...)``: a password in a database URL, client secrets in
    the identity seed's JSON), defined before the one that uses it."""
    spec = PROCESSES[process]
    fields = settings_class(spec).model_fields
    for workload in workloads_of(rendered(overlay), process):
        for container in containers(workload):
            defined: set[str] = set()
            values = [e.get("value", "") for e in env_list(container)]
            for variable in env_list(container):
                name = variable["name"]
                for used in REFERENCE.findall(variable.get("value", "")):
                    assert used in defined, f"{name} uses $({used}) before it is defined"
                defined.add(name)
                if name.startswith(spec.env_prefix):
                    assert name.removeprefix(spec.env_prefix).lower() in fields, name
                    continue
                assert name.startswith("ONEVISIT_"), name
                assert "secretKeyRef" in variable["valueFrom"], name
                assert any(f"$({name})" in value for value in values), f"{name} is unused"


def test_every_secret_referenced_is_one_the_generator_makes_for_that_process(overlay: str) -> None:
    made = {secret.variable: secret.readers for secret in platform_secrets()}
    for process in PROCESSES:
        for workload in workloads_of(rendered(overlay), process):
            for container in containers(workload):
                for variable in env_list(container):
                    reference = variable.get("valueFrom", {}).get("secretKeyRef")
                    if reference is None:
                        continue
                    assert reference["name"] == "onevisit-secrets"
                    assert reference["key"] in made, reference["key"]
                    # As compose gives it: a process reads only the secrets it uses.
                    assert process in made[reference["key"]], (process, reference["key"])


@pytest.fixture(scope="module")
def secrets_manifests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The Secrets ``deploy/k8s/secrets.sh`` makes of a freshly generated secrets file, filled
    in by its operator: by name, their decoded data."""
    path = tmp_path_factory.mktemp("deploy") / "secrets.env"
    write_secrets(path)
    text = path.read_text()
    # As an operator may type them: one quoted as the generator quotes, one bare.
    endpoint, key = OPERATOR_VALUES.items()
    text = text.replace(f"{endpoint[0]}=\n", f"{endpoint[0]}={endpoint[1]}\n")
    text = text.replace(f"{key[0]}=\n", f"{key[0]}='{key[1]}'\n")
    path.write_text(text)
    made = subprocess.run(
        ["sh", str(K8S / "secrets.sh"), str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{Path(kubectl()).parent}:{os.environ['PATH']}"},
    )
    assert made.returncode == 0, made.stderr
    found: dict[str, dict[str, str]] = {}
    for document in yaml.safe_load_all(made.stdout):
        assert document["kind"] == "Secret"
        data = {key: base64.b64decode(value).decode() for key, value in document["data"].items()}
        found[document["metadata"]["name"]] = data
    return found


def test_the_secrets_script_refuses_a_line_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "secrets.env"
    path.write_text("ONEVISIT_FORWARDED_KEY='a'\nONEVISIT_CURSOR_KEY 'b'\n")
    made = subprocess.run(
        ["sh", str(K8S / "secrets.sh"), str(path)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 1
    assert "is not NAME=value" in made.stderr


def test_the_secrets_script_makes_every_secret_the_manifests_name(
    overlay: str, secrets_manifests: dict[str, dict[str, str]]
) -> None:
    platform = secrets_manifests["onevisit-secrets"]
    assert set(platform) == {secret.variable for secret in platform_secrets()}
    assert all(value and "'" not in value for value in platform.values())
    for variable, value in OPERATOR_VALUES.items():
        assert platform[variable] == value
    for cluster in of_kind(rendered(overlay), "Cluster"):
        owner = cluster["spec"]["bootstrap"]["initdb"]["secret"]["name"]
        database = cluster["spec"]["bootstrap"]["initdb"]["owner"]
        assert secrets_manifests[owner] == {
            "username": database,
            "password": platform[f"ONEVISIT_{database.upper()}_DATABASE_PASSWORD"],
        }


def environment(
    container: Object, objects: list[Object], secrets: dict[str, dict[str, str]]
) -> dict[str, str]:
    """What the kubelet gives a container: references resolved, ``$(NAME)`` expanded."""
    resolved: dict[str, str] = {}
    for variable in env_list(container):
        if "value" in variable:
            value = REFERENCE.sub(lambda m: resolved[m[1]], variable["value"])
        elif "secretKeyRef" in variable["valueFrom"]:
            reference = variable["valueFrom"]["secretKeyRef"]
            value = secrets[reference["name"]][reference["key"]]
        else:
            reference = variable["valueFrom"]["configMapKeyRef"]
            value = the(objects, "ConfigMap", reference["name"])["data"][reference["key"]]
        resolved[variable["name"]] = value
    return resolved


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_each_process_loads_its_settings_from_what_the_cluster_gives_it(
    overlay: str,
    process: str,
    secrets_manifests: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = PROCESSES[process]
    objects = rendered(overlay)
    for workload in workloads_of(objects, process):
        for container in containers(workload):
            env = environment(container, objects, secrets_manifests)
            for name in os.environ:
                if name.startswith(spec.env_prefix):
                    monkeypatch.delenv(name)
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            # Refused, naming the variables, if a development key is left in production.
            settings = settings_class(spec)()
            assert settings.environment == overlay
            if process in DATABASES:
                url = make_url(settings.database_url)
                assert (
                    url.password
                    == secrets_manifests["onevisit-secrets"][
                        f"ONEVISIT_{DATABASES[process].upper()}_DATABASE_PASSWORD"
                    ]
                )
            if process == WENZHOU_CASE.name:
                assert settings.service_name == WENZHOU_CASE.name


def test_the_gateway_routes_to_every_service_by_its_service_name(overlay: str) -> None:
    objects = rendered(overlay)
    gateway = main_container(the(objects, "Deployment", "gateway"))
    upstreams = json.loads(literal(gateway, "GATEWAY_UPSTREAMS"))
    assert upstreams == {
        **{spec.name: f"http://{spec.name}:{spec.default_port}" for spec in SERVICES},
        **dict.fromkeys(WEB_PARTS, f"http://{WEB.name}:{WEB.default_port}"),
    }
    pools = json.loads(literal(gateway, "GATEWAY_POOLS"))
    port = WENZHOU_CASE.service.default_port
    assert pools == {
        WENZHOU_CASE.service.name: {WENZHOU_CASE.region: [f"http://{WENZHOU_CASE.name}:{port}"]}
    }
    services = {
        (s["metadata"]["name"], s["spec"]["ports"][0]["port"]) for s in of_kind(objects, "Service")
    }
    addresses = [*upstreams.values(), *pools["case"]["3303"]]
    for address in addresses:
        host, port_text = address.removeprefix("http://").split(":")
        assert (host, int(port_text)) in services
    for process, spec in PROCESSES.items():
        if spec is GATEWAY:
            continue
        for workload in workloads_of(objects, process):
            for container in containers(workload):
                assert literal(container, f"{spec.env_prefix}GATEWAY_URL") == "http://gateway:8000"
    for name in ("GATEWAY_REDIS_URL",):
        assert literal(gateway, name) == "redis://redis:6379/0"
    exchange = main_container(the(objects, "Deployment", "exchange"))
    assert literal(exchange, "EXCHANGE_REDIS_URL") == "redis://redis:6379/0"
    assert ("redis", 6379) in services


def test_the_routing_table_is_the_gateways_mounted_and_watched(overlay: str) -> None:
    objects = rendered(overlay)
    shipped = (REPO / "gateway/src/gateway/routes.toml").read_text()
    # kustomize reads no file outside deploy/k8s: its copy must be the gateway's own.
    assert (K8S / "base/routes.toml").read_text() == shipped, (
        "cp gateway/src/gateway/routes.toml deploy/k8s/base/routes.toml"
    )
    table = the(objects, "ConfigMap", "gateway-routes")
    assert table["data"] == {"routes.toml": shipped}
    deployment = the(objects, "Deployment", "gateway")
    gateway = main_container(deployment)
    [mount] = [m for m in gateway["volumeMounts"] if m["name"] == "routes"]
    # A directory mount: the kubelet swaps the files in it on a change (a subPath never sees one).
    assert "subPath" not in mount
    assert literal(gateway, "GATEWAY_ROUTES_FILE") == f"{mount['mountPath']}/routes.toml"
    assert float(literal(gateway, "GATEWAY_ROUTES_WATCH_SECONDS")) > 0
    [volume] = [
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "routes"
    ]
    assert volume["configMap"]["name"] == "gateway-routes"


def test_the_overlays_set_their_environment_replicas_and_autoscaling(overlay: str) -> None:
    objects = rendered(overlay)
    [platform] = [
        c
        for c in of_kind(objects, "ConfigMap")
        if c["metadata"]["name"].startswith("onevisit-platform")
    ]
    assert platform["data"]["ENVIRONMENT"] == overlay
    autoscalers = {h["metadata"]["name"]: h for h in of_kind(objects, "HorizontalPodAutoscaler")}
    budgets = {p["metadata"]["name"]: p for p in of_kind(objects, "PodDisruptionBudget")}
    assert set(budgets) == set(PROCESSES)
    for process in PROCESSES:
        deployment = the(objects, "Deployment", process)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert budgets[process]["spec"]["selector"]["matchLabels"].items() <= labels.items()
        if overlay == "development":
            assert deployment["spec"]["replicas"] == 1
            continue
        scaler = autoscalers[process]
        assert scaler["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": process,
        }
        least = 3 if process == GATEWAY.name else 2
        assert scaler["spec"]["minReplicas"] == least == deployment["spec"]["replicas"]
        assert scaler["spec"]["maxReplicas"] > least
        assert budgets[process]["spec"]["maxUnavailable"] == 1
        assert ":" in main_container(deployment)["image"]  # a released tag
    if overlay == "development":
        assert autoscalers == {}
        assert of_kind(objects, "Ingress") == []
    else:
        assert set(autoscalers) == set(PROCESSES)
        [ingress] = of_kind(objects, "Ingress")
        [rule] = ingress["spec"]["rules"]
        [path] = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}}
        assert not [s for s in of_kind(objects, "Service") if s["spec"].get("type")]


# The network policies, evaluated as a cluster would.


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: a pod (its namespace and labels, its named ports) or an
    address outside the cluster."""

    namespace: str
    labels: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    address: str = "10.244.3.7"


def selects(selector: Object, labels: dict[str, str]) -> bool:
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        if operator == "In" and labels.get(key) not in expression["values"]:
            return False
        if operator == "NotIn" and labels.get(key) in expression["values"]:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_matches(peer: Object, policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.namespace:  # pods' addresses are the cluster's: none matched by an ipBlock
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.address)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(excepted) for excepted in block.get("except", [])
        )
    if not other.namespace:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector", {}), other.labels)


def port_matches(ports: list[Object] | None, destination: Endpoint, port: int) -> bool:
    if not ports:
        return True
    for each in ports:
        wanted = each["port"]
        if isinstance(wanted, str):
            wanted = destination.ports.get(wanted, -1)
        if wanted == port and each.get("protocol", "TCP") == "TCP":
            return True
    return False


def allowed(policies: list[Object], source: Endpoint, destination: Endpoint, port: int) -> bool:
    """Whether a TCP connection from ``source`` to ``destination``'s ``port`` passes both
    ends' policies (an end no policy selects for that direction is open)."""

    def direction(end: Endpoint, kind: str, other: Endpoint, rules_key: str, peers: str) -> bool:
        chosen = [
            p
            for p in policies
            if end.namespace == p["metadata"]["namespace"]
            and kind in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"], end.labels)
        ]
        if not end.namespace or not chosen:
            return True
        return any(
            any(peer_matches(peer, p["metadata"]["namespace"], other) for peer in rule[peers])
            and port_matches(rule.get("ports"), destination, port)
            for p in chosen
            for rule in p["spec"].get(rules_key, [])
        )

    return direction(source, "Egress", destination, "egress", "to") and direction(
        destination, "Ingress", source, "ingress", "from"
    )


def pods(objects: list[Object]) -> dict[str, Endpoint]:
    """Each workload's pods, and each database's instances, by name."""
    found: dict[str, Endpoint] = {}
    for workload in (*of_kind(objects, "Deployment"), *of_kind(objects, "Job")):
        template = workload["spec"]["template"]
        ports = {
            p["name"]: p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
        }
        found[workload["metadata"]["name"]] = Endpoint(
            workload["metadata"]["namespace"], template["metadata"]["labels"], ports
        )
    for cluster in of_kind(objects, "Cluster"):
        name = cluster["metadata"]["name"]
        # The labels CloudNativePG gives its instances.
        found[name] = Endpoint(
            cluster["metadata"]["namespace"], {"cnpg.io/cluster": name, "role": "primary"}
        )
    return found


def connections(objects: list[Object]) -> Iterator[tuple[str, str, int, bool]]:
    """(source, destination, port, whether it must be allowed) for every pair that matters."""
    everyone = pods(objects)
    processes = sorted(PROCESSES)
    for process in processes:
        port = PROCESSES[process].default_port
        # From outside, through the Ingress controller alone.
        yield "internet", process, port, False
        yield "ingress-controller", process, port, process == GATEWAY.name
        yield "gateway", process, port, process != GATEWAY.name
        for other in processes:
            if other not in (process, GATEWAY.name):
                # Services call each other through the gateway, never directly.
                yield other, process, port, process == GATEWAY.name
    databases = [f"{p}-db" for p in DATABASES]
    for source in [*processes, *(n for n in everyone if n.endswith("-migrate"))]:
        for database in databases:
            own = source.removesuffix("-migrate") + "-db" == database
            yield source, database, 5432, own
        uses_redis = source in (GATEWAY.name, "exchange")
        yield source, "redis", 6379, uses_redis
        yield source, "dns", 53, True
        yield (
            source,
            "outside-https",
            443,
            source in ("identity", "exchange", "case", "case-wenzhou"),
        )
    for database in databases:
        yield "internet", database, 5432, False
        yield "cnpg-operator", database, 8000, True
        yield database, database, 5432, True  # replication between its instances


def test_the_network_policies_let_through_exactly_what_the_platform_needs(overlay: str) -> None:
    objects = rendered(overlay)
    policies = of_kind(objects, "NetworkPolicy")
    namespace = policies[0]["metadata"]["namespace"]
    everyone = {
        **pods(objects),
        "redis": Endpoint(
            namespace, the(objects, "Deployment", "redis")["spec"]["template"]["metadata"]["labels"]
        ),
        "internet": Endpoint("", {}, address="203.0.113.9"),
        "outside-https": Endpoint("", {}, address="198.51.100.20"),
        "ingress-controller": Endpoint(
            "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}
        ),
        "cnpg-operator": Endpoint("cnpg-system", {"app.kubernetes.io/name": "cloudnative-pg"}),
        "dns": Endpoint("kube-system", {"k8s-app": "kube-dns"}, {"dns": 53}),
    }
    wrong = [
        f"{source} -> {destination}:{port} {'refused' if expected else 'allowed'}"
        for source, destination, port, expected in connections(objects)
        if allowed(policies, everyone[source], everyone[destination], port) != expected
    ]
    assert wrong == []
    # A pod to a private address outside the policies' ports, e.g. another namespace's service.
    stray = Endpoint("other", {"app": "anything"})
    for process in PROCESSES:
        assert not allowed(policies, everyone[process], stray, 8080), process
