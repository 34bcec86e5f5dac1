"""Check the observability profile's Prometheus files against the running platform, where no
Docker engine runs: ``uv run python deploy/observability/check_live.py --prometheus PATH``.

It starts the whole platform on free ports (Wenzhou's case-svc too, the gateway given a metrics
token), walks a little traffic through it, then runs a Prometheus binary (Debian's
``prometheus`` package has one) on ``prometheus/prometheus.yml`` and ``alerts.yml`` as they
are, but for the targets (each compose service's address becomes its port here) and the token
file (a temporary one). Once every job has been scraped it asks Prometheus:

- every target is up (the gateway's too: its token was accepted);
- every expression of the dashboards and the alert rules evaluates without an error, and how
  many series each returns (an expression that returns none is listed: its metric may simply
  have no traffic yet);
- the alert rules loaded, and which fire.

Then it sends the gateway SIGHUP and waits for its log to say the routing table was reloaded.
It prints what it found and exits 1 if a target is down, an expression fails or the reload is
not logged. docs/runbook.md shows a run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from onevisit_dev.platform import (
    WENZHOU_CASE,
    Platform,
    PlatformConfig,
    free_port,
    running_platform,
)

HERE = Path(__file__).resolve().parent


def expressions() -> Iterator[tuple[str, str]]:
    """Every PromQL expression of the dashboards and the alert rules, with where it is."""
    for path in sorted((HERE / "grafana/dashboards").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]
    rules = yaml.safe_load((HERE / "prometheus/alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"alerts.yml: {rule['alert']}", rule["expr"]


def grafana_free(expression: str) -> str:
    """An expression as Grafana sends it: its variables given their values for all and now."""
    expression = expression.replace('job=~"$job"', 'job=~".+"')
    expression = expression.replace("$__rate_interval", "1m").replace("$__range", "15m")
    assert "$" not in expression, expression
    return expression


def local_config(platform: Platform, token_file: Path, rules: Path) -> dict[str, Any]:
    """prometheus.yml with each compose target at its port here, the token file and rules."""
    config: dict[str, Any] = yaml.safe_load((HERE / "prometheus/prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "2s"
    config["global"]["scrape_timeout"] = "2s"  # never more than the interval
    config["global"]["evaluation_interval"] = "2s"
    config["rule_files"] = [str(rules)]
    for job in config["scrape_configs"]:
        [targets] = job["static_configs"]
        [target] = targets["targets"]
        container = target.split(":", 1)[0]
        targets["targets"] = [f"127.0.0.1:{platform.config.ports[container]}"]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token_file)
    return config


def walk_traffic(platform: Platform) -> None:
    """A few requests of every kind the dashboards count: reads, refusals, a missing route."""
    with platform.client() as gateway:
        for path in (
            "/catalog/v1/items?q=身份证",
            "/ratings/v1/levels",
            "/identity/v1/.well-known/jwks.json",
            "/cases/v1/cases",
            "/exchange/v1/ledger/checkpoints/latest",
            "/no/such/route",
        ):
            for _ in range(3):
                gateway.get(path)


def query(prometheus: httpx.Client, expression: str) -> list[Any]:
    answer = prometheus.get("/api/v1/query", params={"query": expression}).json()
    if answer["status"] != "success":
        raise ValueError(answer.get("error", answer))
    result: list[Any] = answer["data"]["result"]
    return result


def check(platform: Platform, prometheus_binary: str, workdir: Path, token: str) -> bool:
    token_file = workdir / "metrics-token"
    token_file.write_text(token)
    rules = workdir / "alerts.yml"
    rules.write_text((HERE / "prometheus/alerts.yml").read_text())
    config = workdir / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_config(platform, token_file, rules)))
    port = free_port()
    command = [
        prometheus_binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    log = (workdir / "prometheus.log").open("w")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    ok = True
    try:
        time.sleep(2)
        if server.poll() is not None:
            log.flush()
            print((workdir / "prometheus.log").read_text()[-2000:])
            return False
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as prometheus:
            deadline = time.monotonic() + 60
            targets: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                walk_traffic(platform)
                try:
                    answer = prometheus.get("/api/v1/targets").json()
                except httpx.TransportError:
                    time.sleep(1)
                    continue
                targets = answer["data"]["activeTargets"]
                if targets and all(target["health"] != "unknown" for target in targets):
                    time.sleep(6)  # a few more scrapes, so that rates have two points
                    answer = prometheus.get("/api/v1/targets").json()
                    targets = answer["data"]["activeTargets"]
                    break
                time.sleep(1)
            print("targets:")
            for target in sorted(targets, key=lambda target: target["labels"]["job"]):
                job, health = target["labels"]["job"], target["health"]
                print(f"  {job:<13} {health:<5} {target['lastError']}")
                ok &= target["health"] == "up"
            print("expressions (series returned now):")
            for where, expression in expressions():
                try:
                    found = len(query(prometheus, grafana_free(expression)))
                    print(f"  {found:>4}  {where}")
                except ValueError as error:
                    ok = False
                    print(f"  FAIL  {where}: {error}")
            # What answered 5xx during the check, by route: the platform's faults, if any.
            for series in query(
                prometheus, 'sum by (job, route, status) (http_requests_total{status=~"5.."})'
            ):
                labels = series["metric"]
                print(
                    f"5xx: {labels['job']} {labels['route']} {labels['status']}"
                    f" x{series['value'][1]}"
                )
            groups = prometheus.get("/api/v1/rules").json()["data"]["groups"]
            rules_loaded = sum(len(group["rules"]) for group in groups)
            firing = [
                rule["name"]
                for group in groups
                for rule in group["rules"]
                if rule.get("state") == "firing"
            ]
            print(f"alert rules loaded: {rules_loaded}; firing: {firing or 'none'}")
            ok &= rules_loaded > 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    return ok


def check_reload(platform: Platform) -> bool:
    """SIGHUP makes the gateway read its routing table again, and say so in its log."""
    log = platform.log_of("gateway")
    before = log.read_text(errors="replace").count("routing_table_reloaded")
    os.kill(platform.pid_of("gateway"), signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if text.count("routing_table_reloaded") > before:
            line = [line for line in text.splitlines() if "routing_table_reloaded" in line][-1]
            print("after SIGHUP:", re.sub(r'"timestamp": ?"[^"]+", ?', "", line))
            return True
        time.sleep(0.5)
    print("after SIGHUP: no routing_table_reloaded in the gateway's log")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", default="prometheus", help="the Prometheus binary")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onevisit-observability-") as directory:
        workdir = Path(directory)
        config = PlatformConfig.on_free_ports(workdir / "var", regional=(WENZHOU_CASE,))
        token = secrets.token_urlsafe(32)
        config.extra_env["GATEWAY_METRICS_TOKEN"] = token
        with running_platform(config) as platform:
            scraped = check(platform, arguments.prometheus, workdir, token)
            reloaded = check_reload(platform)
    return 0 if scraped and reloaded else 1


if __name__ == "__main__":
    sys.exit(main())
